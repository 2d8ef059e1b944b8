#include "journal/src/writer_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rwd::journal_internal {

Result<WriterLock> WriterLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/rewind.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Err(errno == EACCES || errno == EROFS ? Code::kPermissionDenied : Code::kUnavailable,
               "cannot open '" + path + "': " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof(pid) - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Err(Code::kUnavailable,
                 "journal '" + dir + "' is open for writing by another process" +
                     (n > 0 ? " (pid " + std::string(pid, static_cast<std::size_t>(n)) + ")" : ""));
    }
    return Err(Code::kUnavailable, "cannot lock '" + path + "': " + std::strerror(err));
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    // The pid is only for messages; the lock itself is held.
  }
  return WriterLock(fd);
}

WriterLock::~WriterLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

WriterLock& WriterLock::operator=(WriterLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

}  // namespace rwd::journal_internal
