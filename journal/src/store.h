// Store: the LMDB environment of a journal, its named databases, and the guard
// for adopting a map size another process set.
//
// The map is reserved at its maximum (JournalOptions::max_map_bytes) when the
// environment opens. Without MDB_WRITEMAP that costs address space only: the
// file still grows page by page as events arrive, so the journal "grows by
// itself" and MDB_MAP_FULL means the configured limit was reached. The writer
// process never remaps, so its readers and its writer never wait for each
// other, and there is no window in which a failed remap leaves LMDB without a
// map (LMDB unmaps before it maps again).
//
// A read-only process can still meet MDB_MAP_RESIZED (its writer was reopened
// with a larger limit). LMDB may only adopt the new size while the process has
// no transaction open, so every transaction holds `map_mutex_` shared; adopting
// takes it exclusively, waiting at most a second (a nested read in the same
// thread would otherwise wait for itself) before answering Unavailable.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>

#include "journal/src/mdb.h"
#include "rewind/base/mutex.h"
#include "rewind/journal/journal.h"

namespace rwd::journal_internal {

// A transaction together with the shared hold on the map guard it needs.
// Members are destroyed in reverse order: the txn ends before the hold.
struct GuardedTxn {
  std::shared_lock<std::shared_timed_mutex> hold;
  mdb::Txn txn;
};

class Store {
 public:
  // Opens the environment and its databases as JournalOptions says (the
  // writer lock is taken before this, by the caller). Errors as Journal::Open.
  static Result<std::unique_ptr<Store>> Open(const JournalOptions& options);

  Result<GuardedTxn> BeginRead() const;
  Result<GuardedTxn> BeginWrite();

  MDB_env* env() const { return env_.get(); }
  MDB_dbi events() const { return events_; }
  MDB_dbi runs() const { return runs_; }
  MDB_dbi meta() const { return meta_; }
  MDB_dbi main() const { return main_; }  // the main database: named databases' records
  // A mirror's `log` database (FORMAT.md): each run's last log sequence;
  // 0 for a journal that is not a mirror.
  MDB_dbi log() const { return log_; }
  // The blobs database (FORMAT.md), or 0 while the journal has none (one
  // made by an older build, until the first PutBlob). A read-only process
  // sees only what there was when it opened the journal.
  MDB_dbi blobs() const { return blobs_.load(std::memory_order_acquire); }
  // Records the blobs database made by a committed transaction.
  void SetBlobs(MDB_dbi dbi) { blobs_.store(dbi, std::memory_order_release); }
  // Whether this process has found the blob under `hash` to hash to it
  // already (the map is read-only here: its bytes change only if another
  // process damages the file, which VerifyAll, hashing every blob, finds).
  bool BlobVerified(const Hash& hash) const REWIND_EXCLUDES(verified_mu_);
  void SetBlobVerified(const Hash& hash) const REWIND_EXCLUDES(verified_mu_);
  const JournalInfo& info() const { return info_; }
  const JournalOptions& options() const { return options_; }
  const std::string& dir() const { return options_.directory; }
  // A writer that checked LMDB's structure when it opened, or trusted the
  // last writer's mark (checked_mark.h): it may leave a mark when it closes.
  bool structure_sound() const { return info_.structure_check != JournalInfo::StructureCheck::kNone; }
  // When the walk that made it sound ran (unix seconds): at this open, or
  // the one the trusted mark goes back to.
  std::int64_t structure_walked_unix_s() const { return walked_unix_s_; }

 private:
  Store() = default;
  Result<GuardedTxn> Begin(unsigned flags) const;
  Status OpenDatabases();
  Status ReadOrWriteMeta(mdb::Txn& txn, bool fresh);
  // That a mirror is opened with the log it mirrors, and nothing else is.
  Status CheckUpstream(bool fresh) const;

  JournalOptions options_;
  mdb::Env env_;
  MDB_dbi events_ = 0;
  MDB_dbi runs_ = 0;
  MDB_dbi meta_ = 0;
  MDB_dbi main_ = 0;
  MDB_dbi log_ = 0;
  std::atomic<MDB_dbi> blobs_{0};
  mutable Mutex verified_mu_;
  mutable std::set<Hash> verified_ REWIND_GUARDED_BY(verified_mu_);
  JournalInfo info_;
  std::int64_t walked_unix_s_ = 0;
  mutable std::shared_timed_mutex map_mutex_;
  mutable Status broken_;  // set (under map_mutex_ held exclusively) if LMDB lost its map
};

}  // namespace rwd::journal_internal
