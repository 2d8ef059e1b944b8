#include "journal/src/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <optional>
#include <system_error>

#include "journal/src/checked_mark.h"
#include "journal/src/structure.h"
#include "rewind/base/run_id.h"
#include "rewind/base/time.h"

namespace rwd::journal_internal {
namespace {

constexpr unsigned kMaxDbs = 128;  // the journal's own three plus tables

std::string_view Text(ByteView b) { return AsChars(b); }

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return Status(Code::kUnavailable, "cannot sync directory '" + dir + "': " + std::strerror(err));
  }
  ::close(fd);
  return Status::Ok();
}

// A data file shorter than the pages its last transaction uses was cut short
// (an interrupted copy, a filled disk, damage): reading those pages through
// the map would crash the process, so it is refused before any read.
Status CheckNotCutShort(MDB_env* env, const std::string& dir) {
  MDB_envinfo info;
  MDB_stat stat;
  mdb_filehandle_t fd;
  if (int rc = mdb_env_info(env, &info); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_info");
  if (int rc = mdb_env_stat(env, &stat); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_stat");
  if (int rc = mdb_env_get_fd(env, &fd); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_get_fd");
  struct ::stat st;
  if (::fstat(fd, &st) != 0) {
    return Status(Code::kUnavailable, "cannot stat '" + dir + "/data.mdb': " + std::strerror(errno));
  }
  const auto needed = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  if (static_cast<std::uint64_t>(st.st_size) < needed) {
    return Status(Code::kCorruption, "'" + dir + "/data.mdb' is cut short: it has " + std::to_string(st.st_size) +
                                         " bytes, its last transaction uses " + std::to_string(needed));
  }
  return Status::Ok();
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const JournalOptions& options) {
  namespace fs = std::filesystem;
  std::unique_ptr<Store> store(new Store());
  store->options_ = options;
  const std::string& dir = options.directory;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "data.mdb", ec)) {
    if (options.read_only) {
      return Err(Code::kNotFound, "no Rewind journal at '" + dir + "' (no data.mdb there)");
    }
  }
  REWIND_ASSIGN_OR_RETURN(store->env_, mdb::Env::Create());
  MDB_env* env = store->env_.get();
  if (int rc = mdb_env_set_maxdbs(env, kMaxDbs); rc != MDB_SUCCESS) {
    return Err(mdb::Error(rc, "mdb_env_set_maxdbs"));
  }
  if (int rc = mdb_env_set_maxreaders(env, options.max_readers); rc != MDB_SUCCESS) {
    return Err(mdb::Error(rc, "mdb_env_set_maxreaders"));
  }
  if (int rc = mdb_env_set_mapsize(env, options.max_map_bytes); rc != MDB_SUCCESS) {
    return Err(mdb::Error(rc, "reserving a map of " + std::to_string(options.max_map_bytes) + " bytes"));
  }
  unsigned flags = MDB_NOTLS;
  if (options.read_only) flags |= MDB_RDONLY;
  if (options.durability == Durability::kNoSync) flags |= MDB_NOSYNC;
  if (int rc = mdb_env_open(env, dir.c_str(), flags, 0644); rc != MDB_SUCCESS) {
    if (rc == ENOENT) return Err(Code::kNotFound, "no Rewind journal at '" + dir + "'");
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
      return Err(Code::kCorruption,
                 "'" + dir + "/data.mdb' is not a valid LMDB file: " + mdb_strerror(rc));
    }
    if (rc == ENOMEM) {
      return Err(Code::kResourceExhausted, "cannot reserve a map of " + std::to_string(options.max_map_bytes) +
                                               " bytes for '" + dir + "' (lower max_map_bytes)");
    }
    if (rc == EACCES || rc == EROFS) {
      return Err(Code::kPermissionDenied, "cannot open journal '" + dir + "': " + mdb_strerror(rc));
    }
    return Err(mdb::Error(rc, "opening journal '" + dir + "'"));
  }
  REWIND_RETURN_IF_ERROR(CheckMetaPages(env, dir));
  REWIND_RETURN_IF_ERROR(CheckNotCutShort(env, dir));
  int dead = 0;
  if (int rc = mdb_reader_check(env, &dead); rc != MDB_SUCCESS) {
    return Err(mdb::Error(rc, "mdb_reader_check"));
  }
  if (!options.read_only && options.check_structure) {
    // Before the first write transaction (OpenDatabases'): damage LMDB
    // trusts would spread with any commit. Skipped when the last writer
    // left a mark that still names the file (checked_mark.h).
    using Check = JournalInfo::StructureCheck;
    if (const std::optional<std::int64_t> walked = TrustedMark(env, dir)) {
      store->info_.structure_check = Check::kMarked;
      store->walked_unix_s_ = *walked;
    } else {
      store->walked_unix_s_ = NowUnixMicros() / 1'000'000;
      REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store->BeginRead());
      REWIND_RETURN_IF_ERROR(CheckStructure(env, g.txn.get(), dir));
      store->info_.structure_check = Check::kWalked;
    }
  }
  if (!options.read_only && options.durability == Durability::kNoSync) {
    REWIND_RETURN_IF_ERROR(RemoveCheckedMark(dir));
  }
  REWIND_RETURN_IF_ERROR(store->OpenDatabases());
  return store;
}

Status Store::OpenDatabases() {
  const bool read_only = options_.read_only;
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, read_only ? BeginRead() : BeginWrite());
  MDB_txn* txn = g.txn.get();
  const std::string not_journal = "'" + dir() + "' holds an LMDB environment without a Rewind journal's "
                                  "databases: another program's, or a journal damaged beyond reading";
  // The main database (named databases' records), for CheckKeyPath: opened
  // here, once, as LMDB allows no concurrent mdb_dbi_open.
  if (int r = mdb_dbi_open(txn, nullptr, 0, &main_); r != MDB_SUCCESS) return mdb::Error(r, "mdb_dbi_open");
  int rc = mdb_dbi_open(txn, "meta", 0, &meta_);
  bool fresh = false;
  if (rc == MDB_NOTFOUND) {
    // Rewind's other databases without the meta one: a damaged journal.
    MDB_dbi events;
    if (mdb_dbi_open(txn, "events", 0, &events) == MDB_SUCCESS) {
      return Status(Code::kCorruption, "journal '" + dir() + "' is damaged: its meta database cannot be found");
    }
    // A new journal only where the environment is empty.
    MDB_dbi main_db;
    if (int r = mdb_dbi_open(txn, nullptr, 0, &main_db); r != MDB_SUCCESS) {
      return mdb::Error(r, "opening the main database");
    }
    MDB_stat stat;
    if (int r = mdb_stat(txn, main_db, &stat); r != MDB_SUCCESS) return mdb::Error(r, "reading the main database");
    if (stat.ms_entries != 0) return Status(Code::kFailedPrecondition, not_journal);
    // An empty environment: a writer is creating the journal (its first
    // commit is not made yet), or one never finished. A reader finds no
    // journal there yet, not a foreign one.
    if (read_only) {
      return Status(Code::kNotFound, "no Rewind journal at '" + dir() + "': its creation is not committed yet");
    }
    fresh = true;
    rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta_);
  }
  if (rc != MDB_SUCCESS) return mdb::Error(rc, "opening the meta database");
  const unsigned create = fresh ? MDB_CREATE : 0;
  if (int r = mdb_dbi_open(txn, "events", create, &events_); r != MDB_SUCCESS) {
    return r == MDB_NOTFOUND ? Status(Code::kCorruption, "journal '" + dir() + "' has no events database")
                             : mdb::Error(r, "opening the events database");
  }
  if (int r = mdb_dbi_open(txn, "runs", create | MDB_DUPSORT | MDB_DUPFIXED, &runs_);
      r != MDB_SUCCESS) {
    return r == MDB_NOTFOUND ? Status(Code::kCorruption, "journal '" + dir() + "' has no runs database")
                             : mdb::Error(r, "opening the runs database");
  }
  // A journal of an older build gets it with its first blob (Journal::PutBlob):
  // opening a journal never writes to it.
  MDB_dbi blobs = 0;
  if (int r = mdb_dbi_open(txn, "blobs", create, &blobs); r == MDB_SUCCESS) {
    blobs_ = blobs;
  } else if (r != MDB_NOTFOUND) {
    return mdb::Error(r, "opening the blobs database");
  }
  const bool mirrored = options_.upstream != nullptr;
  if (int r = mdb_dbi_open(txn, "log", fresh && mirrored ? MDB_CREATE : 0, &log_); r != MDB_SUCCESS) {
    if (r != MDB_NOTFOUND) return mdb::Error(r, "opening the log database");
    log_ = 0;
  }
  REWIND_RETURN_IF_ERROR(ReadOrWriteMeta(g.txn, fresh));
  REWIND_RETURN_IF_ERROR(CheckUpstream(fresh));
  // Committing (also a read-only txn) keeps the dbi handles; aborting would close them.
  REWIND_RETURN_IF_ERROR(g.txn.Commit().WithContext("opening journal '" + dir() + "'"));
  // A new journal's files must survive a power loss along with its first
  // events: sync the directory entries once.
  return fresh ? SyncDirectory(dir()) : Status::Ok();
}

Status Store::ReadOrWriteMeta(mdb::Txn& txn, bool fresh) {
  if (fresh) {
    info_.format_version = options_.new_format_version;
    info_.engine_id = RunId::New().ToString();
    info_.created_unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    const std::string version = std::to_string(info_.format_version);
    const std::string created = std::to_string(info_.created_unix_us);
    REWIND_RETURN_IF_ERROR(txn.Put(meta_, AsBytes("format_version"), AsBytes(version), 0, "meta"));
    REWIND_RETURN_IF_ERROR(txn.Put(meta_, AsBytes("engine_id"), AsBytes(info_.engine_id), 0, "meta"));
    REWIND_RETURN_IF_ERROR(txn.Put(meta_, AsBytes("created_unix_us"), AsBytes(created), 0, "meta"));
    if (options_.upstream) {
      info_.upstream = options_.upstream->identity();
      REWIND_RETURN_IF_ERROR(txn.Put(meta_, AsBytes("upstream"), AsBytes(info_.upstream), 0, "meta"));
    }
    return Status::Ok();
  }
  auto version = txn.Get(meta_, AsBytes("format_version"));
  if (!version.has_value()) {
    return Status(Code::kCorruption, "journal '" + dir() + "' has no format version in its meta database");
  }
  if (!ParseNumber(Text(*version), &info_.format_version)) {
    return Status(Code::kCorruption, "journal '" + dir() + "' has an unreadable format version '" +
                                         std::string(Text(*version)) + "'");
  }
  if (info_.format_version < kOldestJournalFormatVersion || info_.format_version > kJournalFormatVersion) {
    return Status(Code::kFailedPrecondition,
                  "journal '" + dir() + "' has format version " + std::to_string(info_.format_version) +
                      "; this build reads versions " + std::to_string(kOldestJournalFormatVersion) + " to " +
                      std::to_string(kJournalFormatVersion) +
                      (info_.format_version > kJournalFormatVersion ? " (it was written by a newer Rewind)"
                                                                   : ""));
  }
  if (auto id = txn.Get(meta_, AsBytes("engine_id")); id.has_value()) {
    info_.engine_id = std::string(Text(*id));
  }
  if (auto created = txn.Get(meta_, AsBytes("created_unix_us")); created.has_value()) {
    ParseNumber(Text(*created), &info_.created_unix_us);
  }
  if (auto upstream = txn.Get(meta_, AsBytes("upstream")); upstream.has_value()) {
    info_.upstream = std::string(Text(*upstream));
  }
  return Status::Ok();
}

Status Store::CheckUpstream(bool fresh) const {
  if ((log_ != 0) != !info_.upstream.empty()) {
    return Status(Code::kCorruption, "journal '" + dir() + "' is damaged: it has " +
                                         (log_ != 0 ? "a log database without the log it mirrors"
                                                    : "a log it mirrors without the log database"));
  }
  if (fresh && options_.upstream && info_.format_version != 2) {
    return Status(Code::kInvalidArgument, "a mirror of a log is made in format 2, not " +
                                              std::to_string(info_.format_version));
  }
  if (options_.read_only) return Status::Ok();  // a mirror is read as it stands
  if (!options_.upstream && !info_.upstream.empty()) {
    return Status(Code::kFailedPrecondition, "journal '" + dir() + "' mirrors the log " + info_.upstream +
                                                 ": a writer opens it with that log");
  }
  if (options_.upstream && info_.upstream != options_.upstream->identity()) {
    return Status(Code::kFailedPrecondition,
                  "journal '" + dir() + "' " +
                      (info_.upstream.empty() ? std::string("is not a mirror (a journal is one from its creation)")
                                              : "mirrors the log " + info_.upstream) +
                      ", not " + options_.upstream->identity());
  }
  return Status::Ok();
}

Result<GuardedTxn> Store::Begin(unsigned flags) const {
  // A writer grows the map rarely (doubling it when full), so a size that
  // cannot be adopted in a few tries is not a writer's: a damaged meta page
  // records a size LMDB keeps refusing, and retrying would spin forever.
  constexpr int kAdoptTries = 8;
  for (int tries = 0;; ++tries) {
    GuardedTxn g{std::shared_lock<std::shared_timed_mutex>(map_mutex_), mdb::Txn()};
    if (!broken_.ok()) return Err(broken_);
    const int rc = mdb::Txn::Begin(env_.get(), flags, &g.txn);
    if (rc == MDB_SUCCESS) return g;
    if (rc != MDB_MAP_RESIZED) return Err(mdb::Error(rc, "beginning a transaction on '" + dir() + "'"));
    if (tries == kAdoptTries) {
      return Err(Code::kCorruption, "the map size recorded in '" + dir() + "' cannot be adopted (still " +
                                        "MDB_MAP_RESIZED after " + std::to_string(kAdoptTries) +
                                        " tries): its meta pages may be damaged");
    }
    // The writer was reopened with a larger map: adopt its size, then retry.
    g.hold.unlock();
    std::unique_lock<std::shared_timed_mutex> exclusive(map_mutex_, std::defer_lock);
    if (!exclusive.try_lock_for(std::chrono::seconds(1))) {
      return Err(Code::kUnavailable, "the map of '" + dir() +
                                         "' was resized by its writer while a read was open; retry the read");
    }
    if (int r = mdb_env_set_mapsize(env_.get(), 0); r != MDB_SUCCESS) {
      broken_ = Status(Code::kUnavailable, "the map of '" + dir() + "' was lost adopting a new size (" +
                                               mdb_strerror(r) + "); reopen the journal");
    }
    if (!broken_.ok()) return Err(broken_);
  }
}

Result<GuardedTxn> Store::BeginRead() const { return Begin(MDB_RDONLY); }

bool Store::BlobVerified(const Hash& hash) const {
  MutexLock lock(verified_mu_);
  return verified_.contains(hash);
}

void Store::SetBlobVerified(const Hash& hash) const {
  MutexLock lock(verified_mu_);
  verified_.insert(hash);
}
Result<GuardedTxn> Store::BeginWrite() { return Begin(0); }

}  // namespace rwd::journal_internal
