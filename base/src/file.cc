#include "rewind/base/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace rwd {

std::expected<std::string, FileReadError> ReadWholeFile(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(FileReadError{errno, "open"});
  std::string text;
  char buf[64 << 10];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return std::unexpected(FileReadError{err, "read"});
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return std::unexpected(FileReadError{EFBIG, "read"});
    }
  }
  ::close(fd);
  return text;
}

void DropLineEnds(std::string& text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
}

}  // namespace rwd
