#include "journal/src/disk_room.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace rwd::journal_internal {
namespace {

constexpr std::uint64_t kSlack = 1u << 20;
constexpr std::uint64_t kMinHeadroom = 4u << 20;
constexpr std::uint64_t kMaxHeadroom = 64u << 20;

// fallocate(2) of [0, end) keeping the file's size; 0 or an errno.
int Allocate(int fd, std::uint64_t end) {
  return ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(end)) == 0 ? 0 : errno;
}

}  // namespace

Status DiskRoom::Reserve(std::uint64_t record_bytes) {
  if (unsupported_) return Status::Ok();
  MDB_env* env = store_.env();
  MDB_envinfo info;
  MDB_stat stat;
  int fd = -1;
  if (int rc = mdb_env_info(env, &info); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_info");
  if (int rc = mdb_env_stat(env, &stat); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_stat");
  if (int rc = mdb_env_get_fd(env, &fd); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_get_fd");
  const std::uint64_t used = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  const std::uint64_t map = info.me_mapsize;
  const std::uint64_t need = std::min(map, used + 2 * record_bytes + kSlack);
  if (need <= reserved_) return Status::Ok();
  const std::uint64_t ahead = std::min(map, need + std::clamp(used / 8, kMinHeadroom, kMaxHeadroom));
  int err = Allocate(fd, ahead);
  if (err == 0) {
    reserved_ = ahead;
    return Status::Ok();
  }
  if (err == EOPNOTSUPP) {
    unsupported_ = true;
    return Status::Ok();
  }
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    // No room for the headroom; perhaps there is for this commit.
    err = Allocate(fd, need);
    if (err == 0) {
      reserved_ = need;
      return Status::Ok();
    }
  }
  const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
  const std::string what = full ? "no room on the disk of journal '" : "cannot allocate space for journal '";
  return Status(full ? Code::kResourceExhausted : Code::kUnavailable,
                what + store_.dir() + "' for the next commit (" + std::to_string(need - std::min(need, used)) +
                    " bytes past the " + std::to_string(used) + " in use): " + std::strerror(err));
}

}  // namespace rwd::journal_internal
