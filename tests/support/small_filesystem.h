// SmallFilesystem: a tmpfs of a few MiB, for tests of a full disk on a real
// filesystem. It is mounted in a private mount namespace of the test process
// (unshare), so it is gone when the process ends, whatever happens to the
// test. Needs root (CAP_SYS_ADMIN); Mount reports why when it may not.
#pragma once

#include <cstdint>
#include <string>

#include "rewind/base/status.h"

namespace rwd::test {

class SmallFilesystem {
 public:
  // Mounts a tmpfs of `bytes` at `directory` (created when missing).
  // FailedPrecondition naming the cause when this process may not.
  static Result<SmallFilesystem> Mount(const std::string& directory, std::uint64_t bytes);

  ~SmallFilesystem();  // unmounts (lazily: a file still open keeps it until closed)
  SmallFilesystem(SmallFilesystem&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  SmallFilesystem& operator=(SmallFilesystem&&) = delete;

  // Changes its size in place (remount): a full disk gets room again.
  Status Resize(std::uint64_t bytes) const;
  const std::string& path() const { return path_; }

 private:
  explicit SmallFilesystem(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace rwd::test
