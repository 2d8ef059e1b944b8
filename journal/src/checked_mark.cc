#include "journal/src/checked_mark.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "journal/src/mdb.h"
#include "rewind/base/time.h"

namespace rwd::journal_internal {
namespace {

constexpr const char* kMarkFile = "/structure-checked";
constexpr const char* kMagic = "rewind-structure-checked-2";

// The data file as a mark names it.
struct FileState {
  std::uint64_t dev = 0, ino = 0, size = 0, txn = 0;
  std::int64_t ctime_s = 0, ctime_ns = 0, mtime_s = 0, mtime_ns = 0;

  bool operator==(const FileState&) const = default;
};

bool Later(const struct ::timespec& a, std::int64_t s, std::int64_t ns) {
  return a.tv_sec > s || (a.tv_sec == s && a.tv_nsec > ns);
}

// The file `env` has open, which must be the one `dir/data.mdb` names.
Result<FileState> StateOf(MDB_env* env, const std::string& dir) {
  const std::string file = dir + "/data.mdb";
  mdb_filehandle_t fd;
  if (int rc = mdb_env_get_fd(env, &fd); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_env_get_fd"));
  struct ::stat opened, named;
  if (::fstat(fd, &opened) != 0 || ::stat(file.c_str(), &named) != 0) {
    return Err(Code::kUnavailable, "cannot stat '" + file + "': " + std::strerror(errno));
  }
  if (opened.st_dev != named.st_dev || opened.st_ino != named.st_ino) {
    return Err(Code::kUnavailable, "'" + file + "' is no longer the file the journal has open");
  }
  MDB_envinfo info;
  if (int rc = mdb_env_info(env, &info); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_env_info"));
  FileState s;
  s.dev = opened.st_dev;
  s.ino = opened.st_ino;
  s.size = static_cast<std::uint64_t>(opened.st_size);
  s.ctime_s = opened.st_ctim.tv_sec;
  s.ctime_ns = opened.st_ctim.tv_nsec;
  s.mtime_s = opened.st_mtim.tv_sec;
  s.mtime_ns = opened.st_mtim.tv_nsec;
  s.txn = info.me_last_txnid;
  return s;
}

std::string Line(const FileState& s, std::int64_t walked_unix_s) {
  std::ostringstream out;
  out << kMagic << ' ' << s.dev << ' ' << s.ino << ' ' << s.size << ' ' << s.ctime_s << ' ' << s.ctime_ns << ' '
      << s.mtime_s << ' ' << s.mtime_ns << ' ' << s.txn << ' ' << walked_unix_s << '\n';
  return out.str();
}

Status Unavailable(const std::string& what, const std::string& path) {
  return Status(Code::kUnavailable, "cannot " + what + " '" + path + "': " + std::strerror(errno));
}

// Writes `line` into `path`, then stamps the file anew until its change time
// is later than the data file's (`data`): a write to the data file after it
// can then not leave the change time the line names. Gives up after
// kMaxWait (a file system that stamps whole seconds).
Status WriteWhenLater(const std::string& path, const std::string& line, const FileState& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unavailable("create", path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return Unavailable("write", path);
  const auto deadline = std::chrono::steady_clock::now() + kMaxWait;
  for (struct ::stat st;;) {
    if (::fstat(fd, &st) != 0) return Unavailable("stat", path);
    if (Later(st.st_ctim, data.ctime_s, data.ctime_ns)) return Status::Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Code::kUnavailable, "'" + path + "': the file system's clock did not pass the data file's");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    if (::futimens(fd, nullptr) != 0) return Unavailable("stamp", path);
  }
}

}  // namespace

std::optional<std::int64_t> TrustedMark(MDB_env* env, const std::string& dir) {
  std::ifstream in(dir + kMarkFile);
  std::string magic;
  FileState marked;
  std::int64_t walked = 0;
  if (!(in >> magic >> marked.dev >> marked.ino >> marked.size >> marked.ctime_s >> marked.ctime_ns >>
        marked.mtime_s >> marked.mtime_ns >> marked.txn >> walked) ||
      magic != kMagic) {
    return std::nullopt;
  }
  const std::int64_t age = NowUnixMicros() / 1'000'000 - walked;
  if (age < 0 || age >= std::chrono::seconds(kMaxTrust).count()) return std::nullopt;
  const Result<FileState> now = StateOf(env, dir);
  if (!now.has_value() || *now != marked) return std::nullopt;
  return walked;
}

Status WriteCheckedMark(MDB_env* env, const std::string& dir, std::int64_t walked_unix_s) {
  REWIND_ASSIGN_OR_RETURN(const FileState state, StateOf(env, dir));
  const std::string mark = dir + kMarkFile, temporary = mark + ".tmp";
  Status status = WriteWhenLater(temporary, Line(state, walked_unix_s), state);
  if (status.ok()) {
    // Published only if nothing wrote the data file while this waited.
    const Result<FileState> after = StateOf(env, dir);
    if (!after.has_value()) {
      status = after.error();
    } else if (*after != state) {
      status = Status(Code::kUnavailable, "'" + dir + "/data.mdb' changed while its mark was written");
    } else if (std::rename(temporary.c_str(), mark.c_str()) != 0) {
      status = Unavailable("rename", temporary);
    }
  }
  if (!status.ok()) ::unlink(temporary.c_str());
  return status;
}

Status RemoveCheckedMark(const std::string& dir) {
  const std::string mark = dir + kMarkFile;
  if (::unlink(mark.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Unavailable("remove", mark);
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unavailable("open", dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  errno = err;
  if (rc != 0) return Unavailable("sync", dir);
  return Status::Ok();
}

}  // namespace rwd::journal_internal
