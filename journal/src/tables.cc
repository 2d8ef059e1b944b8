#include "rewind/journal/tables.h"

#include <lmdb.h>

#include "journal/src/mdb.h"
#include "journal/src/read.h"
#include "journal/src/store.h"

namespace rwd {

using journal_internal::Store;

namespace {

Status TableError(int rc, const std::string& table, std::string_view what) {
  return mdb::Error(rc, std::string(what) + " table '" + table + "'");
}

}  // namespace

TableCursor::~TableCursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

TableCursor::TableCursor(TableCursor&& other) noexcept
    : cursor_(other.cursor_), table_(std::move(other.table_)), key_(other.key_), value_(other.value_) {
  other.cursor_ = nullptr;
}

Result<bool> TableCursor::Move(int op, ByteView key) {
  MDB_val k = mdb::Val(key), v{0, nullptr};
  const int rc = mdb_cursor_get(cursor_, &k, &v, static_cast<MDB_cursor_op>(op));
  if (rc == MDB_NOTFOUND) {
    key_ = value_ = ByteView();
    return false;
  }
  if (rc != MDB_SUCCESS) return Err(TableError(rc, table_, "reading"));
  key_ = mdb::View(k);
  value_ = mdb::View(v);
  return true;
}

Result<bool> TableCursor::Seek(ByteView key) { return Move(MDB_SET_RANGE, key); }
Result<bool> TableCursor::First() { return Move(MDB_FIRST); }
Result<bool> TableCursor::Last() { return Move(MDB_LAST); }
Result<bool> TableCursor::Next() { return Move(MDB_NEXT); }
Result<bool> TableCursor::Prev() { return Move(MDB_PREV); }

Result<bool> TableCursor::SeekAtOrBefore(ByteView key) {
  REWIND_ASSIGN_OR_RETURN(bool found, Seek(key));
  if (!found) return Last();
  if (key_.size() == key.size() && std::equal(key_.begin(), key_.end(), key.begin())) return true;
  return Prev();
}

Result<std::optional<ByteView>> ReadView::Get(const Table& table, ByteView key) const {
  MDB_val k = mdb::Val(key), v;
  const int rc = mdb_get(txn_->get(), table.handle_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<ByteView>();
  if (rc != MDB_SUCCESS) return Err(TableError(rc, table.name(), "reading"));
  return std::optional<ByteView>(mdb::View(v));
}

Result<TableCursor> ReadView::Cursor(const Table& table) const {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn_->get(), table.handle_, &cursor); rc != MDB_SUCCESS) {
    return Err(TableError(rc, table.name(), "opening a cursor on"));
  }
  return TableCursor(cursor, table.name());
}

Status ReadView::ReadRun(const RunId& run, std::uint64_t from_seq, std::uint64_t to_seq,
                         const EventVisitor& visit) const {
  return journal_internal::ReadRunIn(*store_, *txn_, run, from_seq, to_seq, visit);
}

Status ReadView::ReadAll(std::uint64_t from_position, std::uint64_t to_position,
                         const EventVisitor& visit) const {
  return journal_internal::ReadAllIn(*store_, *txn_, from_position, to_position, visit);
}

Status ReadView::ForEachRun(const RunVisitor& visit) const {
  return journal_internal::ForEachRunIn(*store_, *txn_, visit);
}

Result<std::uint64_t> ReadView::LastSeq(const RunId& run) const {
  return journal_internal::ReadLastSeq(*store_, *txn_, run);
}

Result<std::uint64_t> ReadView::LastPosition() const {
  return journal_internal::ReadLastPosition(*store_, *txn_);
}

Result<std::optional<ByteView>> ReadView::Blob(const Hash& hash) const {
  return journal_internal::ReadBlob(*store_, *txn_, hash);
}

Status WriteView::Put(const Table& table, ByteView key, ByteView value) {
  MDB_val k = mdb::Val(key), v = mdb::Val(value);
  const int rc = mdb_put(txn().get(), table.handle_, &k, &v, 0);
  if (rc == MDB_SUCCESS) return Status::Ok();  // the message is built only for an error
  return TableError(rc, table.name(), "writing");
}

Status WriteView::Delete(const Table& table, ByteView key) {
  MDB_val k = mdb::Val(key);
  const int rc = mdb_del(txn().get(), table.handle_, &k, nullptr);
  if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) return Status::Ok();
  return TableError(rc, table.name(), "deleting from");
}

Status WriteView::Clear(const Table& table) {
  if (int rc = mdb_drop(txn().get(), table.handle_, 0); rc != MDB_SUCCESS) {
    return TableError(rc, table.name(), "clearing");
  }
  return Status::Ok();
}

Status WriteView::Nested(const std::function<Status(WriteView& nested)>& writes) {
  mdb::Txn nested;
  if (int rc = mdb::Txn::BeginNested(txn(), &nested); rc != MDB_SUCCESS) {
    return mdb::Error(rc, "beginning a nested transaction");
  }
  WriteView view(*store_, nested);
  REWIND_RETURN_IF_ERROR(writes(view));  // `nested` aborts
  return nested.Commit();
}

}  // namespace rwd
