#include "journal/src/read.h"

#include <cstring>

namespace rwd::journal_internal {
namespace {

EventRecord ToRecord(const record::View& view, std::uint64_t position, ByteView stored) {
  return EventRecord{view.run, view.seq, position, view.prev_hash, view.payload, stored};
}

}  // namespace

std::string At(const RunId& run, std::uint64_t seq, std::uint64_t position) {
  return "run " + run.ToString() + " seq " + std::to_string(seq) + " (position " +
         std::to_string(position) + ")";
}

// Reads and checks the record a run index entry points at.
Result<EventRecord> ReadIndexed(const Store& store, const mdb::Txn& txn, const RunId& run,
                                const key::DecodedRunEntry& entry) {
  auto stored = txn.Get(store.events(), key::EncodePosition(entry.position));
  if (!stored.has_value()) {
    return Err(stored.error().code() == Code::kNotFound
                   ? Status(Code::kCorruption, At(run, entry.seq, entry.position) +
                                                   ": the run index points at a missing event")
                   : stored.error());
  }
  REWIND_ASSIGN_OR_RETURN(record::View view, record::Parse(*stored, entry.position));
  if (view.run != run || view.seq != entry.seq) {
    return Err(Code::kCorruption, At(run, entry.seq, entry.position) +
                                      ": the run index points at an event of run " +
                                      view.run.ToString() + " seq " + std::to_string(view.seq));
  }
  return ToRecord(view, entry.position, *stored);
}

Status ReadRunIn(const Store& store, const mdb::Txn& txn, const RunId& run, std::uint64_t from_seq,
                 std::uint64_t to_seq, const EventVisitor& visit) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.runs()));
  MDB_val k = mdb::Val(run.bytes()), v;
  int rc = cursor.Get(&k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return Status(Code::kNotFound, "run " + run.ToString() + " is unknown");
  // Seek to the first entry with seq >= from_seq (entries sort by seq).
  const key::RunEntry first = key::EncodeRunEntry(from_seq, 0);
  v = mdb::Val(first);
  if (rc == MDB_SUCCESS) rc = cursor.Get(&k, &v, MDB_GET_BOTH_RANGE);
  for (; rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT_DUP)) {
    if (v.mv_size != sizeof(key::RunEntry)) {
      return Status(Code::kCorruption, "run index entry of run " + run.ToString() + " is malformed");
    }
    const auto entry = key::DecodeRunEntry(mdb::View(v));
    if (entry.seq > to_seq) return Status::Ok();
    REWIND_ASSIGN_OR_RETURN(EventRecord rec, ReadIndexed(store, txn, run, entry));
    REWIND_RETURN_IF_ERROR(visit(rec));
  }
  if (rc != MDB_NOTFOUND) return mdb::Error(rc, "reading run " + run.ToString());
  return Status::Ok();
}

Status ReadAllIn(const Store& store, const mdb::Txn& txn, std::uint64_t from_position,
                 std::uint64_t to_position, const EventVisitor& visit) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.events()));
  const key::Position start = key::EncodePosition(from_position);
  MDB_val k = mdb::Val(start), v;
  int rc = cursor.Get(&k, &v, MDB_SET_RANGE);
  for (; rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) return Status(Code::kCorruption, "events database has a malformed key");
    const std::uint64_t position = key::GetBe64(static_cast<const std::uint8_t*>(k.mv_data));
    if (position > to_position) return Status::Ok();
    REWIND_ASSIGN_OR_RETURN(record::View view, record::Parse(mdb::View(v), position));
    REWIND_RETURN_IF_ERROR(visit(ToRecord(view, position, mdb::View(v))));
  }
  if (rc != MDB_NOTFOUND) return mdb::Error(rc, "reading the global stream");
  return Status::Ok();
}

Status ForEachRunIn(const Store& store, const mdb::Txn& txn, const RunVisitor& visit) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.runs()));
  MDB_val k, v;
  int rc = cursor.Get(&k, &v, MDB_FIRST);
  for (; rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT_NODUP)) {
    if (k.mv_size != RunId::kSize) return Status(Code::kCorruption, "run index has a malformed key");
    RunId::Bytes bytes{};
    std::memcpy(bytes.data(), k.mv_data, RunId::kSize);
    if (int r = cursor.Get(&k, &v, MDB_LAST_DUP); r != MDB_SUCCESS) {
      return mdb::Error(r, "reading the run index");
    }
    if (v.mv_size != sizeof(key::RunEntry)) {
      return Status(Code::kCorruption, "run index entry of run " + RunId(bytes).ToString() + " is malformed");
    }
    REWIND_RETURN_IF_ERROR(visit(RunId(bytes), key::DecodeRunEntry(mdb::View(v)).seq));
  }
  if (rc != MDB_NOTFOUND) return mdb::Error(rc, "reading the run index");
  return Status::Ok();
}

Result<RunHead> VerifyRunIn(const Store& store, const mdb::Txn& txn, const RunId& run) {
  ChainCheck chain;
  REWIND_RETURN_IF_ERROR(ReadRunIn(store, txn, run, 1, Journal::kEnd,
                                   [&](const EventRecord& rec) { return chain.Next(rec); }));
  return chain.head;
}


Result<std::uint64_t> ReadLastSeq(const Store& store, const mdb::Txn& txn, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.runs()));
  MDB_val k = mdb::Val(run.bytes()), v;
  int rc = cursor.Get(&k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return std::uint64_t{0};
  if (rc == MDB_SUCCESS) rc = cursor.Get(&k, &v, MDB_LAST_DUP);
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the last seq of run " + run.ToString()));
  if (v.mv_size != sizeof(key::RunEntry)) {
    return Err(Code::kCorruption, "run index entry of run " + run.ToString() + " is malformed");
  }
  return key::DecodeRunEntry(mdb::View(v)).seq;
}

Result<std::uint64_t> ReadLastPosition(const Store& store, const mdb::Txn& txn) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.events()));
  MDB_val k, v;
  const int rc = cursor.Get(&k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::uint64_t{0};
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the last position"));
  if (k.mv_size != 8) return Err(Code::kCorruption, "events database has a malformed key");
  return key::GetBe64(static_cast<const std::uint8_t*>(k.mv_data));
}

Result<RunHead> ReadHead(const Store& store, const mdb::Txn& txn, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.runs()));
  MDB_val k = mdb::Val(run.bytes()), v;
  int rc = cursor.Get(&k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return RunHead{};
  if (rc == MDB_SUCCESS) rc = cursor.Get(&k, &v, MDB_LAST_DUP);
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the head of run " + run.ToString()));
  if (v.mv_size != sizeof(key::RunEntry)) {
    return Err(Code::kCorruption, "run index entry of run " + run.ToString() + " is malformed");
  }
  REWIND_ASSIGN_OR_RETURN(EventRecord rec, ReadIndexed(store, txn, run, key::DecodeRunEntry(mdb::View(v))));
  return RunHead{rec.seq, record::ChainHash(rec.stored)};
}

}  // namespace rwd::journal_internal
