#include "rewind/journal/migrate.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>
#include <vector>

#include "journal/src/key_codec.h"
#include "journal/src/read.h"
#include "journal/src/record.h"
#include "journal/src/store.h"
#include "journal/src/structure.h"
#include "journal/src/writer_lock.h"

namespace rwd {

using namespace journal_internal;
namespace fs = std::filesystem;

namespace {

// A record holds at most this many events or payload bytes; a longer stretch
// of one run's events is split.
constexpr std::size_t kMaxRecordEvents = 1024;
constexpr std::size_t kMaxRecordBytes = 1u << 20;
// The new file is committed every so many events (its transactions stay small).
constexpr std::uint64_t kEventsPerCommit = 1u << 16;

Status Unavailable(const std::string& what, int err) {
  return Status(Code::kUnavailable, what + ": " + std::strerror(err));
}

Status SyncPath(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return Unavailable("cannot sync '" + path.string() + "'", err);
  }
  ::close(fd);
  return Status::Ok();
}

// Every process with the journal's LMDB environment open holds a shared
// lock on the first byte of lock.mdb (LMDB's own protocol): an exclusive
// open-file-description lock there is refused while any other holds it. A
// process opening the journal meanwhile waits for the lock's release. Returns
// the descriptor holding the lock (-1 when there is no lock file yet).
Result<int> LockOutOthers(const fs::path& lock_file) {
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return -1;
    return Err(Unavailable("cannot open '" + lock_file.string() + "'", errno));
  }
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EAGAIN || err == EACCES) {
      return Err(Code::kUnavailable, "journal '" + lock_file.parent_path().string() +
                                         "' is open in another process (a reader); close it before migrating");
    }
    return Err(Unavailable("cannot lock '" + lock_file.string() + "'", err));
  }
  return fd;
}

// The new data file gets the old one's mode and, where this process may, its
// owner: the engine that opens it next may run as another user.
void KeepModeAndOwner(const fs::path& from, const fs::path& to) {
  struct stat st;
  if (::stat(from.c_str(), &st) != 0) return;
  (void)::chmod(to.c_str(), st.st_mode & 07777);
  (void)::chown(to.c_str(), st.st_uid, st.st_gid);
}

std::uint64_t BytesInUse(MDB_env* env) {
  MDB_envinfo info;
  MDB_stat stat;
  if (mdb_env_info(env, &info) != MDB_SUCCESS || mdb_env_stat(env, &stat) != MDB_SUCCESS) return 0;
  return (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
}

// Writes the source's events into the new store, consecutive events of one
// run packed into one record. The source was verified whole in the same
// snapshot first (VerifyAllIn): positions dense, every chain linked.
class Packer {
 public:
  Packer(Store& to, MigrateReport& report) : to_(to), report_(report) {}

  Status Begin() {
    REWIND_ASSIGN_OR_RETURN(g_, to_.BeginWrite());
    return Status::Ok();
  }

  Status Add(const EventRecord& rec) {
    runs_.insert(rec.run);
    const bool joins = !payloads_.empty() && rec.run == run_ && rec.seq == first_seq_ + payloads_.size() &&
                       payloads_.size() < kMaxRecordEvents && bytes_ + rec.payload.size() <= kMaxRecordBytes;
    if (!payloads_.empty() && !joins) REWIND_RETURN_IF_ERROR(Flush());
    if (payloads_.empty()) {
      run_ = rec.run;
      first_seq_ = rec.seq;
      prev_hash_ = rec.prev_hash();
      bytes_ = 0;
    }
    payloads_.push_back(rec.payload);  // the source's map: valid while its read transaction is open
    bytes_ += rec.payload.size();
    ++report_.events;
    return Status::Ok();
  }

  Status Finish() {
    REWIND_RETURN_IF_ERROR(Flush());
    report_.runs = runs_.size();
    return g_.txn.Commit().WithContext("committing the migrated journal");
  }

  MDB_txn* txn() const { return g_.txn.get(); }

 private:
  Status Flush() {
    if (payloads_.empty()) return Status::Ok();
    record::Encode(kJournalFormatVersion, run_, first_seq_, prev_hash_, payloads_, &stored_);
    const std::uint64_t last = report_.events;  // the position of the record's last event
    REWIND_RETURN_IF_ERROR(g_.txn.Put(to_.events(), key::EncodePosition(last), stored_, MDB_APPEND, "events"));
    REWIND_RETURN_IF_ERROR(g_.txn.Put(to_.runs(), run_.bytes(),
                                      key::EncodeRunEntry(first_seq_ + payloads_.size() - 1, last), MDB_APPENDDUP,
                                      "runs"));
    payloads_.clear();
    ++report_.records;
    if (report_.events - committed_ >= kEventsPerCommit) {
      REWIND_RETURN_IF_ERROR(g_.txn.Commit().WithContext("committing the migrated journal"));
      committed_ = report_.events;
      REWIND_ASSIGN_OR_RETURN(g_, to_.BeginWrite());
    }
    return Status::Ok();
  }

  Store& to_;
  MigrateReport& report_;
  GuardedTxn g_;
  std::unordered_set<RunId> runs_;
  RunId run_;
  std::uint64_t first_seq_ = 0;
  Hash prev_hash_{};
  std::vector<ByteView> payloads_;
  std::size_t bytes_ = 0;
  std::uint64_t committed_ = 0;
  Bytes stored_;
};

// Copies the blobs and the tables (named databases "table.*") of the source
// that `options` wants, as they are.
Status CopyTables(const Store& from, const mdb::Txn& from_txn, Store& to, const MigrateOptions& options,
                  MigrateReport& report) {
  MDB_dbi main_db = 0;
  if (int rc = mdb_dbi_open(from_txn.get(), nullptr, 0, &main_db); rc != MDB_SUCCESS) {
    return mdb::Error(rc, "opening the main database");
  }
  std::vector<std::string> names;
  {
    REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(from_txn, main_db));
    MDB_val k, v;
    for (int rc = cursor.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT)) {
      const std::string name(static_cast<const char*>(k.mv_data), k.mv_size);
      if (name == "blobs") names.push_back(name);
      if (!name.starts_with("table.")) continue;
      if (options.copy_table && !options.copy_table(std::string_view(name).substr(6))) {
        ++report.tables_left;
      } else {
        names.push_back(name);
      }
    }
  }
  for (const std::string& name : names) {
    MDB_dbi src = 0, dst = 0;
    if (int rc = mdb_dbi_open(from_txn.get(), name.c_str(), 0, &src); rc != MDB_SUCCESS) {
      return mdb::Error(rc, "opening " + name + " of '" + from.dir() + "'");
    }
    unsigned flags = 0;
    if (int rc = mdb_dbi_flags(from_txn.get(), src, &flags); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_dbi_flags");
    REWIND_ASSIGN_OR_RETURN(GuardedTxn g, to.BeginWrite());
    if (int rc = mdb_dbi_open(g.txn.get(), name.c_str(), flags | MDB_CREATE, &dst); rc != MDB_SUCCESS) {
      return mdb::Error(rc, "making " + name);
    }
    REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(from_txn, src));
    MDB_val k, v;
    int rc = cursor.Get(&k, &v, MDB_FIRST);
    const unsigned append = (flags & MDB_DUPSORT) != 0 ? MDB_APPENDDUP : MDB_APPEND;
    for (; rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT)) {
      REWIND_RETURN_IF_ERROR(g.txn.Put(dst, mdb::View(k), mdb::View(v), append, name.c_str()));
    }
    if (rc != MDB_NOTFOUND) return mdb::Error(rc, "reading " + name);
    REWIND_RETURN_IF_ERROR(g.txn.Commit().WithContext("copying " + name));
    if (name != "blobs") ++report.tables;
  }
  return Status::Ok();
}

}  // namespace

Result<MigrateReport> MigrateJournal(const MigrateOptions& options) {
  const fs::path dir(options.directory);
  std::error_code ec;
  if (options.directory.empty() || !fs::exists(dir / "data.mdb", ec)) {
    return Err(Code::kNotFound, "no Rewind journal at '" + options.directory + "' (no data.mdb there)");
  }
  REWIND_ASSIGN_OR_RETURN(WriterLock lock, WriterLock::Acquire(options.directory));
  const fs::path work = dir / "migrating";
  fs::remove_all(work, ec);  // what a migration that was killed left
  // From here on, a failure leaves the journal as it was and no work behind.
  struct Cleanup {
    const fs::path& work;
    bool armed = true;
    ~Cleanup() {
      std::error_code ignored;
      if (armed) fs::remove_all(work, ignored);
    }
  } cleanup{work};
  REWIND_ASSIGN_OR_RETURN(const int probe, LockOutOthers(dir / "lock.mdb"));
  if (probe >= 0) ::close(probe);  // early, before the long copy; taken again for the swap
  MigrateReport report;
  {
    JournalOptions from_options;
    from_options.directory = options.directory;
    from_options.read_only = true;
    from_options.max_map_bytes = options.max_map_bytes;
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Store> from, Store::Open(from_options));
    report.from_version = report.to_version = from->info().format_version;
    report.old_bytes = BytesInUse(from->env());
    if (report.from_version == kJournalFormatVersion) return report;
    REWIND_ASSIGN_OR_RETURN(GuardedTxn read, from->BeginRead());
    // The whole journal is checked first (LMDB's structure, then every
    // record, chain and run index entry, as VerifyAll): a damaged one is
    // refused, not copied.
    if (auto checked = CheckStructure(from->env(), read.txn.get(), options.directory); !checked.has_value()) {
      return Err(checked.error());
    }
    if (auto verified = VerifyAllIn(*from, read.txn); !verified.has_value()) return Err(verified.error());

    if (!fs::create_directories(work, ec) && ec) {
      return Err(Code::kUnavailable, "cannot make '" + work.string() + "': " + ec.message());
    }
    JournalOptions to_options;
    to_options.directory = work.string();
    to_options.durability = Durability::kNoSync;  // synced once, before it replaces the old file
    to_options.new_format_version = kJournalFormatVersion;
    to_options.max_map_bytes = options.max_map_bytes;
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Store> to, Store::Open(to_options));
    {
      REWIND_ASSIGN_OR_RETURN(GuardedTxn g, to->BeginWrite());
      const std::string created = std::to_string(from->info().created_unix_us);
      REWIND_RETURN_IF_ERROR(g.txn.Put(to->meta(), AsBytes("engine_id"), AsBytes(from->info().engine_id), 0, "meta"));
      REWIND_RETURN_IF_ERROR(g.txn.Put(to->meta(), AsBytes("created_unix_us"), AsBytes(created), 0, "meta"));
      REWIND_RETURN_IF_ERROR(g.txn.Commit());
    }
    Packer packer(*to, report);
    REWIND_RETURN_IF_ERROR(packer.Begin());
    REWIND_RETURN_IF_ERROR(ReadAllIn(*from, read.txn, 1, Journal::kEnd, [&](const EventRecord& rec) {
      return packer.Add(rec);
    }));
    REWIND_RETURN_IF_ERROR(packer.Finish());
    REWIND_RETURN_IF_ERROR(CopyTables(*from, read.txn, *to, options, report));
    if (int rc = mdb_env_sync(to->env(), 1); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "syncing the new journal"));
    report.new_bytes = BytesInUse(to->env());
    report.to_version = kJournalFormatVersion;
  }
  // No other process may have the old file open when it is replaced: such a
  // reader would go on reading it, and share its lock file with the new one.
  // Held until the lock file is gone.
  REWIND_ASSIGN_OR_RETURN(const int held, LockOutOthers(dir / "lock.mdb"));
  struct Release {
    int fd;
    ~Release() {
      if (fd >= 0) ::close(fd);
    }
  } release{held};
  // The swap: the old file kept under a second name (one step), then the new
  // one renamed over data.mdb (one step), then the directory synced. The
  // lock file goes too: it belongs to the old file.
  const fs::path data = dir / "data.mdb";
  KeepModeAndOwner(data, work / "data.mdb");
  if (options.keep_old) {
    const fs::path kept = dir / ("data.mdb.format" + std::to_string(report.from_version));
    fs::remove(kept, ec);
    if (::link(data.c_str(), kept.c_str()) != 0) return Err(Unavailable("cannot keep '" + kept.string() + "'", errno));
    report.kept = kept.string();
  }
  if (::rename((work / "data.mdb").c_str(), data.c_str()) != 0) {
    return Err(Unavailable("cannot put the new data file in place", errno));
  }
  fs::remove(dir / "lock.mdb", ec);
  REWIND_RETURN_IF_ERROR(SyncPath(dir, O_RDONLY | O_DIRECTORY));
  return report;
}

}  // namespace rwd
