#include "tests/support/small_filesystem.h"

#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace rwd::test {
namespace {

std::string SizeOption(std::uint64_t bytes) { return "size=" + std::to_string(bytes); }

Status Failed(const std::string& what) {
  return Status(Code::kFailedPrecondition, what + ": " + std::strerror(errno));
}

}  // namespace

Result<SmallFilesystem> SmallFilesystem::Mount(const std::string& directory, std::uint64_t bytes) {
  // Once per process: later mounts share the namespace made by the first.
  static const Status private_namespace = [] {
    if (unshare(CLONE_NEWNS) != 0) return Failed("may not make a mount namespace");
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return Failed("may not make the mounts private");
    }
    return Status::Ok();
  }();
  if (!private_namespace.ok()) return Err(private_namespace);
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (mount("tmpfs", directory.c_str(), "tmpfs", 0, SizeOption(bytes).c_str()) != 0) {
    return Err(Failed("may not mount a tmpfs at '" + directory + "'"));
  }
  return SmallFilesystem(directory);
}

SmallFilesystem::~SmallFilesystem() {
  if (!path_.empty()) umount2(path_.c_str(), MNT_DETACH);
}

Status SmallFilesystem::Resize(std::uint64_t bytes) const {
  if (mount(nullptr, path_.c_str(), nullptr, MS_REMOUNT, SizeOption(bytes).c_str()) != 0) {
    return Failed("cannot resize the tmpfs at '" + path_ + "'");
  }
  return Status::Ok();
}

}  // namespace rwd::test
