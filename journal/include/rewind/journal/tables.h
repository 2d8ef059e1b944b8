// Tables: derived data kept beside the events, in the journal's own file.
//
// A Table is a named, ordered map from byte keys to byte values (an LMDB named
// database in the journal's environment). Projections keep their read models
// in tables, so that
//   * one read sees events and derived data in one consistent snapshot
//     (ReadView), and
//   * derived data and its checkpoint commit atomically — together with the
//     events they follow, when a projection is applied inline (CommitHook).
// The journal never reads or writes a table on its own; it only hands out the
// views. Keys compare bytewise (memcmp order; shorter first on a tie).
//
// Views are valid only during the call that receives them, on that thread.
// ByteViews they return point into the map: valid until the view ends, and in
// a WriteView only until its next write.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

struct MDB_cursor;

namespace rwd {

namespace mdb {
class Txn;
}
namespace journal_internal {
class Store;
}

// A handle of an open table: process-wide, valid as long as its Journal, and
// never closed. Obtained from Journal::OpenTable.
class Table {
 public:
  Table() = default;
  const std::string& name() const { return name_; }

 private:
  friend class Journal;
  friend class ReadView;
  friend class WriteView;
  friend class TableCursor;
  Table(unsigned handle, std::string name) : handle_(handle), name_(std::move(name)) {}
  unsigned handle_ = 0;
  std::string name_;
};

// An ordered walk over one table. Every move returns true when the cursor
// stands on an entry, false when it ran off the table; key() and value() are
// valid while it stands on one (and the view it came from is alive).
class TableCursor {
 public:
  ~TableCursor();
  TableCursor(TableCursor&& other) noexcept;
  TableCursor& operator=(TableCursor&&) = delete;
  TableCursor(const TableCursor&) = delete;
  TableCursor& operator=(const TableCursor&) = delete;

  Result<bool> Seek(ByteView key);  // the first entry with a key >= key
  Result<bool> SeekAtOrBefore(ByteView key);  // the last entry with a key <= key
  Result<bool> First();
  Result<bool> Last();
  Result<bool> Next();
  Result<bool> Prev();
  ByteView key() const { return key_; }
  ByteView value() const { return value_; }

 private:
  friend class ReadView;
  TableCursor(MDB_cursor* cursor, std::string table) : cursor_(cursor), table_(std::move(table)) {}
  Result<bool> Move(int op, ByteView key = {});
  MDB_cursor* cursor_ = nullptr;
  std::string table_;
  ByteView key_, value_;
};

// One consistent snapshot of the events and the tables.
class ReadView {
 public:
  // The value stored under `key`, or nullopt.
  Result<std::optional<ByteView>> Get(const Table& table, ByteView key) const;
  Result<TableCursor> Cursor(const Table& table) const;

  // The journal's reads (journal.h), in this snapshot.
  Status ReadRun(const RunId& run, std::uint64_t from_seq, std::uint64_t to_seq,
                 const EventVisitor& visit) const;
  Status ReadAll(std::uint64_t from_position, std::uint64_t to_position,
                 const EventVisitor& visit) const;
  Status ForEachRun(const RunVisitor& visit) const;
  // The run's last seq, 0 for a run with no events.
  Result<std::uint64_t> LastSeq(const RunId& run) const;
  Result<std::uint64_t> LastPosition() const;
  // The blob stored under `hash` (Journal::PutBlob), or nullopt when there
  // is none. Corruption when the stored bytes do not hash to `hash`.
  Result<std::optional<ByteView>> Blob(const Hash& hash) const;

 // Made by the journal only (its internal types cannot be named elsewhere).
  ReadView(const journal_internal::Store& store, const mdb::Txn& txn) : store_(&store), txn_(&txn) {}

 protected:
  const journal_internal::Store* store_;
  const mdb::Txn* txn_;
};

// A write transaction over the tables (events are written only by Append).
class WriteView : public ReadView {
 public:
  Status Put(const Table& table, ByteView key, ByteView value);
  // Removes `key`; fine when it is absent.
  Status Delete(const Table& table, ByteView key);
  // Removes every entry of the table (the table stays open).
  Status Clear(const Table& table);
  // Runs `writes` in a nested transaction: what it wrote joins this
  // transaction when it returns Ok and is undone when it fails (its error is
  // returned). Views and cursors of this transaction must not be used while
  // `writes` runs.
  Status Nested(const std::function<Status(WriteView& nested)>& writes);

 // Made by the journal only.
  WriteView(const journal_internal::Store& store, mdb::Txn& txn) : ReadView(store, txn) {}

 private:
  friend class Journal;
  mdb::Txn& txn() const { return const_cast<mdb::Txn&>(*txn_); }
};

// Lets derived data follow the events in the same transaction. Set it once,
// before the first append (Journal::SetCommitHook).
struct CommitHook {
  // Runs on the writer thread inside each group commit's transaction, after
  // the batch's events are written (`events`, in position order: their
  // `payload` and `stored` views are valid during the call). It runs in a
  // nested transaction: when it fails, its writes are undone and the events
  // still commit.
  std::function<Status(WriteView& txn, std::span<const EventRecord> events)> apply;
  // Runs on the writer thread once the transaction `apply` ran in has ended:
  // Ok if it committed durably, the commit's error otherwise (also when the
  // commit was reported failed although it may have reached the disk).
  std::function<void(const Status& commit)> finished;
};

}  // namespace rwd
