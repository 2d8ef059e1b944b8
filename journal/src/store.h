// Store: the LMDB environment of a journal, its named databases, and the guard
// that lets the map grow while other threads read.
//
// LMDB may only change the map size while this process has no transaction
// open. Every transaction therefore holds `map_mutex` shared for its whole
// life, and Grow() / adopting a size another process set (MDB_MAP_RESIZED)
// take it exclusively. Transactions are short, so growth waits briefly.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "journal/src/mdb.h"
#include "rewind/journal/journal.h"

namespace rwd::journal_internal {

// A transaction together with the shared hold on the map guard it needs.
// Members are destroyed in reverse order: the txn ends before the hold.
struct GuardedTxn {
  std::shared_lock<std::shared_mutex> hold;
  mdb::Txn txn;
};

class Store {
 public:
  // Opens the environment and its databases as JournalOptions says (the
  // writer lock is taken before this, by the caller). Errors as Journal::Open.
  static Result<std::unique_ptr<Store>> Open(const JournalOptions& options);

  Result<GuardedTxn> BeginRead() const;
  Result<GuardedTxn> BeginWrite();

  // Doubles the map size, up to options.max_map_bytes. ResourceExhausted when
  // it is already there. REQUIRES: the caller holds no transaction.
  Status Grow();

  MDB_env* env() const { return env_.get(); }
  MDB_dbi events() const { return events_; }
  MDB_dbi runs() const { return runs_; }
  MDB_dbi meta() const { return meta_; }
  const JournalInfo& info() const { return info_; }
  const JournalOptions& options() const { return options_; }
  const std::string& dir() const { return options_.directory; }

 private:
  Store() = default;
  Result<GuardedTxn> Begin(unsigned flags) const;
  Status OpenDatabases();
  Status ReadOrWriteMeta(mdb::Txn& txn, bool fresh);

  JournalOptions options_;
  mdb::Env env_;
  MDB_dbi events_ = 0;
  MDB_dbi runs_ = 0;
  MDB_dbi meta_ = 0;
  JournalInfo info_;
  mutable std::shared_mutex map_mutex_;
};

}  // namespace rwd::journal_internal
