#include "journal/src/writer_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace rwd::journal_internal {

Result<WriterLock> WriterLock::Acquire(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return Err(err == EACCES ? Code::kPermissionDenied : err == ENOENT ? Code::kNotFound : Code::kUnavailable,
               "cannot open journal directory '" + dir + "': " + std::strerror(err));
  }
  const std::string pid_file = dir + "/rewind.lock";
  const auto holder_pid = [&]() -> std::optional<int> {
    const int pf = ::open(pid_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (pf < 0) return std::nullopt;
    char text[32] = {};
    const ssize_t n = ::pread(pf, text, sizeof(text) - 1, 0);
    ::close(pf);
    int pid = 0;
    if (n <= 0 || std::from_chars(text, text + n, pid).ec != std::errc() || pid <= 0) return std::nullopt;
    return pid;
  };
  const auto deadline = std::chrono::steady_clock::now() + kLeftoverWait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK) {
      ::close(fd);
      return Err(Code::kUnavailable, "cannot lock journal directory '" + dir + "': " + std::strerror(err));
    }
    const std::optional<int> pid = holder_pid();
    const bool writer_died = pid && ::kill(*pid, 0) != 0 && errno == ESRCH;
    if (!writer_died) {
      ::close(fd);
      return Err(Code::kUnavailable, "journal '" + dir + "' is open for writing by another process" +
                                         (pid ? " (pid " + std::to_string(*pid) + ")" : std::string()));
    }
    // The writer died; what holds the lock now are the supervisors of its
    // steps, stopping the processes the steps left: wait for them, so that
    // no retry of those steps overlaps them.
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      return Err(Code::kUnavailable, "journal '" + dir + "' is still held, after " +
                                         std::to_string(kLeftoverWait.count()) +
                                         " s, by processes that its writer (pid " + std::to_string(*pid) +
                                         ") left when it died; try again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // rewind.lock names the holder. It is flocked too, for builds that locked
  // only it: an older `rewind serve` beside a newer CLI still excludes it.
  const int pf = ::open(pid_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (pf >= 0 && ::flock(pf, LOCK_EX | LOCK_NB) != 0) {
    ::close(pf);
    ::close(fd);
    return Err(Code::kUnavailable, "journal '" + dir + "' is open for writing by another process (its '" +
                                       pid_file + "' is locked)");
  }
  if (pf >= 0) {
    const std::string me = std::to_string(::getpid());
    if (::ftruncate(pf, 0) != 0 || ::pwrite(pf, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
      // The pid is only for messages; the lock itself is held.
    }
  }
  return WriterLock(fd, pf);
}

Result<std::optional<int>> WriterLock::Holder(const std::string& dir) {
  struct ::stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    return Err(err == EACCES ? Code::kPermissionDenied : Code::kNotFound,
               "cannot open journal directory '" + dir + "': " + std::strerror(err));
  }
  std::ifstream locks("/proc/locks");
  if (!locks) return Err(Code::kUnavailable, "cannot read /proc/locks to find the journal's writer");
  // "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF"; a waiting request
  // follows its holder as "1: -> FLOCK ...".
  char device[64];
  std::snprintf(device, sizeof device, "%02x:%02x:%llu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string id, type, mode, access, pid, where;
    if (!(fields >> id >> type >> mode >> access >> pid >> where)) continue;
    if (type != "FLOCK" || access != "WRITE" || where != device) continue;
    int holder = 0;
    if (std::from_chars(pid.data(), pid.data() + pid.size(), holder).ec != std::errc()) continue;
    return std::optional<int>(holder);
  }
  return std::optional<int>();
}

WriterLock::~WriterLock() { Release(); }

void WriterLock::Release() {
  if (pid_fd_ >= 0) ::close(pid_fd_);  // closing releases the flocks
  if (fd_ >= 0) ::close(fd_);
  fd_ = pid_fd_ = -1;
}

WriterLock& WriterLock::operator=(WriterLock&& o) noexcept {
  if (this != &o) {
    Release();
    fd_ = std::exchange(o.fd_, -1);
    pid_fd_ = std::exchange(o.pid_fd_, -1);
  }
  return *this;
}

}  // namespace rwd::journal_internal
