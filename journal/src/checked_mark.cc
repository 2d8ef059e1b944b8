#include "journal/src/checked_mark.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "journal/src/mdb.h"

namespace rwd::journal_internal {
namespace {

constexpr const char* kMarkFile = "/structure-checked";
constexpr const char* kMagic = "rewind-structure-checked-1";
// The longest wait for the inode clock to pass the file's change time: a
// tick is a few ms; a change time further ahead (the clock was set back) is
// not waited for, and no mark is written.
constexpr auto kMaxWait = std::chrono::milliseconds(100);

// The data file as a mark names it.
struct FileState {
  std::uint64_t dev = 0, ino = 0, size = 0, txn = 0;
  std::int64_t ctime_s = 0, ctime_ns = 0, mtime_s = 0, mtime_ns = 0;

  bool operator==(const FileState&) const = default;

  std::string ToString() const {
    std::ostringstream out;
    out << kMagic << ' ' << dev << ' ' << ino << ' ' << size << ' ' << ctime_s << ' ' << ctime_ns << ' '
        << mtime_s << ' ' << mtime_ns << ' ' << txn << '\n';
    return out.str();
  }
};

Result<FileState> StateOf(MDB_env* env, const std::string& dir) {
  const std::string file = dir + "/data.mdb";
  struct ::stat st;
  if (::stat(file.c_str(), &st) != 0) {
    return Err(Code::kUnavailable, "cannot stat '" + file + "': " + std::strerror(errno));
  }
  MDB_envinfo info;
  if (int rc = mdb_env_info(env, &info); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_env_info"));
  FileState s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.ctime_s = st.st_ctim.tv_sec;
  s.ctime_ns = st.st_ctim.tv_nsec;
  s.mtime_s = st.st_mtim.tv_sec;
  s.mtime_ns = st.st_mtim.tv_nsec;
  s.txn = info.me_last_txnid;
  return s;
}

}  // namespace

bool HasCheckedMark(MDB_env* env, const std::string& dir) {
  std::ifstream in(dir + kMarkFile);
  std::string magic;
  FileState marked;
  if (!(in >> magic >> marked.dev >> marked.ino >> marked.size >> marked.ctime_s >> marked.ctime_ns >>
        marked.mtime_s >> marked.mtime_ns >> marked.txn) ||
      magic != kMagic) {
    return false;
  }
  const Result<FileState> now = StateOf(env, dir);
  return now.has_value() && *now == marked;
}

Status WriteCheckedMark(MDB_env* env, const std::string& dir) {
  REWIND_ASSIGN_OR_RETURN(const FileState state, StateOf(env, dir));
  // Inode times come from the kernel's coarse clock: until it passes the
  // change time, a write could leave that time as it is.
  const auto deadline = std::chrono::steady_clock::now() + kMaxWait;
  for (;;) {
    timespec now;
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (now.tv_sec > state.ctime_s || (now.tv_sec == state.ctime_s && now.tv_nsec > state.ctime_ns)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Code::kUnavailable, "the data file's change time is ahead of the clock");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  const std::string mark = dir + kMarkFile, temporary = mark + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << state.ToString();
    if (!out.flush()) return Status(Code::kUnavailable, "cannot write '" + temporary + "'");
  }
  if (std::rename(temporary.c_str(), mark.c_str()) != 0) {
    return Status(Code::kUnavailable, "cannot rename '" + temporary + "': " + std::strerror(errno));
  }
  return Status::Ok();
}

Status RemoveCheckedMark(const std::string& dir) {
  const std::string mark = dir + kMarkFile;
  if (::unlink(mark.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status(Code::kUnavailable, "cannot remove '" + mark + "': " + std::strerror(errno));
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status(Code::kUnavailable, "cannot open '" + dir + "': " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status(Code::kUnavailable, "cannot sync '" + dir + "': " + std::strerror(err));
  return Status::Ok();
}

}  // namespace rwd::journal_internal
