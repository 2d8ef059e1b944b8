#include "journal/src/read.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "journal/src/structure.h"
#include "rewind/base/bytes.h"
#include "rewind/journal/tables.h"

namespace rwd::journal_internal {

std::string At(const RunId& run, std::uint64_t seq, std::uint64_t position) {
  return "run " + run.ToString() + " seq " + std::to_string(seq) + " (position " +
         std::to_string(position) + ")";
}

Status ReadIndexed(const Store& store, const mdb::Txn& txn, const RunId& run, const key::DecodedRunEntry& entry,
                   EventBatch* batch) {
  auto stored = txn.Get(store.events(), key::EncodePosition(entry.position));
  if (!stored.has_value()) {
    return stored.error().code() == Code::kNotFound
               ? Status(Code::kCorruption, At(run, entry.seq, entry.position) +
                                               ": the run index points at a missing event")
               : stored.error();
  }
  REWIND_RETURN_IF_ERROR(batch->Parse(store.info().format_version, *stored, entry.position));
  const std::uint64_t last = batch->first_seq() + batch->size() - 1;
  if (batch->run() != run || last != entry.seq) {
    return Status(Code::kCorruption, At(run, entry.seq, entry.position) +
                                         ": the run index points at events of run " + batch->run().ToString() +
                                         " seqs " + std::to_string(batch->first_seq()) + ".." + std::to_string(last));
  }
  return Status::Ok();
}

namespace {

// A read-only process never knew the journal's structure sound (a writer
// does from its open: JournalOptions::check_structure), and a damaged page on
// a run's path in the run index can hide the run's last events from LMDB:
// the run would read as shorter, its chain intact. So it checks that path.
// Ok(true) when the run's entries are in a sub-tree, checked only on the
// path to the last: a reader of the others checks they follow on.
Result<bool> CheckRunPath(const Store& store, const mdb::Txn& txn, const RunId& run) {
  if (!store.options().read_only) return false;
  return CheckKeyPath(store.env(), txn.get(), store.main(), store.dir(), "runs",
                      ByteView(run.bytes().data(), RunId::kSize));
}

// The run's last index entry, its path not checked; nullopt for a run with
// no events.
Result<std::optional<key::DecodedRunEntry>> LastIndexed(const Store& store, const mdb::Txn& txn, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.runs()));
  MDB_val k = mdb::Val(run.bytes()), v;
  int rc = cursor.Get(&k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return std::optional<key::DecodedRunEntry>();
  if (rc == MDB_SUCCESS) rc = cursor.Get(&k, &v, MDB_LAST_DUP);
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the last seq of run " + run.ToString()));
  if (v.mv_size != sizeof(key::RunEntry)) {
    return Err(Code::kCorruption, "run index entry of run " + run.ToString() + " is malformed");
  }
  return std::optional<key::DecodedRunEntry>(key::DecodeRunEntry(mdb::View(v)));
}

// Entries LMDB no longer sees in the run index: damage to its pages.
Status Hidden(const Store& store, const RunId& run, const std::string& what) {
  return StructureDamage(store.dir(), "database 'runs', run " + run.ToString() + ": " + what);
}

}  // namespace

Status ReadRunIn(const Store& store, const mdb::Txn& txn, const RunId& run, std::uint64_t from_seq,
                 std::uint64_t to_seq, const EventVisitor& visit) {
  REWIND_ASSIGN_OR_RETURN(const bool partly_checked, CheckRunPath(store, txn, run));
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.runs()));
  MDB_val k = mdb::Val(run.bytes()), v;
  int rc = cursor.Get(&k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return Status(Code::kNotFound, "run " + run.ToString() + " is unknown");
  // Entries sort by the last seq of their record: the first one at or past
  // from_seq holds it.
  const key::RunEntry first = key::EncodeRunEntry(from_seq, 0);
  v = mdb::Val(first);
  if (rc == MDB_SUCCESS) rc = cursor.Get(&k, &v, MDB_GET_BOTH_RANGE);
  const ReadView view(store, txn);
  EventBatch batch;
  std::uint64_t read_to = 0;  // the last seq of the records read
  for (; rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT_DUP)) {
    if (v.mv_size != sizeof(key::RunEntry)) {
      return Status(Code::kCorruption, "run index entry of run " + run.ToString() + " is malformed");
    }
    REWIND_RETURN_IF_ERROR(ReadIndexed(store, txn, run, key::DecodeRunEntry(mdb::View(v)), &batch));
    // A run's records follow on from each other: a gap is entries hidden.
    const std::uint64_t expected = read_to == 0 ? std::max<std::uint64_t>(from_seq, 1) : read_to + 1;
    if (read_to == 0 ? batch.first_seq() > expected : batch.first_seq() != expected) {
      return Hidden(store, run, "the entry of seq " + std::to_string(expected) + " is missing (the next holds seqs " +
                                    std::to_string(batch.first_seq()) + "..)");
    }
    read_to = batch.first_seq() + batch.size() - 1;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::uint64_t seq = batch.first_seq() + i;
      if (seq < from_seq) continue;
      if (seq > to_seq) return Status::Ok();
      EventRecord rec = batch.At(i);
      rec.view = &view;
      REWIND_RETURN_IF_ERROR(visit(rec));
    }
  }
  if (rc != MDB_NOTFOUND) return mdb::Error(rc, "reading run " + run.ToString());
  // The entries ended: at the run's last one (the end of the path checked)?
  if (partly_checked) {
    REWIND_ASSIGN_OR_RETURN(const auto last, LastIndexed(store, txn, run));
    const std::uint64_t end = last ? std::min(last->seq, to_seq) : 0;
    if (from_seq <= end && read_to < end) {
      return Hidden(store, run, "its entries end at seq " + std::to_string(read_to) + ", its last is seq " +
                                    std::to_string(last->seq));
    }
  }
  return Status::Ok();
}

Status ReadAllIn(const Store& store, const mdb::Txn& txn, std::uint64_t from_position,
                 std::uint64_t to_position, const EventVisitor& visit) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.events()));
  const key::Position start = key::EncodePosition(from_position);
  MDB_val k = mdb::Val(start), v;
  // Records are keyed by their last event's position: the first key at or
  // past from_position is the record holding it.
  int rc = cursor.Get(&k, &v, MDB_SET_RANGE);
  const ReadView view(store, txn);
  EventBatch batch;
  for (; rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) return Status(Code::kCorruption, "events database has a malformed key");
    const std::uint64_t last = key::GetBe64(static_cast<const std::uint8_t*>(k.mv_data));
    REWIND_RETURN_IF_ERROR(batch.Parse(store.info().format_version, mdb::View(v), last));
    if (batch.position() > to_position) return Status::Ok();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch.position() + i < from_position) continue;
      if (batch.position() + i > to_position) return Status::Ok();
      EventRecord rec = batch.At(i);
      rec.view = &view;
      REWIND_RETURN_IF_ERROR(visit(rec));
    }
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
    // Its last entry could be hidden too.
    if (auto checked = CheckRunPath(store, txn, RunId(bytes)); !checked.has_value()) return checked.error();
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

namespace {

// Corruption unless `bytes` hash to `hash`.
Status CheckBlob(const Hash& hash, ByteView bytes) {
  if (Sha256(bytes) == hash) return Status::Ok();
  return Status(Code::kCorruption,
                "blob " + HexEncode(ByteView(hash.data(), hash.size())) + " is damaged: its bytes hash to another value");
}

}  // namespace

Result<std::uint64_t> VerifyAllIn(const Store& store, const mdb::Txn& txn) {
  // Pass 1: the global stream is dense and every run's chain links up.
  std::unordered_map<RunId, ChainCheck> chains;
  std::uint64_t expected_position = 1;
  REWIND_RETURN_IF_ERROR(ReadAllIn(store, txn, 1, Journal::kEnd, [&](const EventRecord& rec) -> Status {
    if (rec.position != expected_position) {
      return Status(Code::kCorruption, "position " + std::to_string(expected_position) +
                                           " is missing (next stored is " +
                                           std::to_string(rec.position) + ")");
    }
    ++expected_position;
    return chains[rec.run].Next(rec);
  }));
  // Pass 2: the run index holds exactly those events, each where it should be.
  std::uint64_t runs_seen = 0;
  REWIND_RETURN_IF_ERROR(ForEachRunIn(store, txn, [&](const RunId& run, std::uint64_t) -> Status {
    ++runs_seen;
    auto it = chains.find(run);
    const RunHead stream_head = it == chains.end() ? RunHead{} : it->second.head;
    auto verified = VerifyRunIn(store, txn, run);
    if (!verified.has_value() && verified.error().code() == Code::kNotFound) {
      return Status(Code::kCorruption, "the run index lists run " + run.ToString() +
                                           " but a lookup cannot find it (its key is damaged)");
    }
    REWIND_ASSIGN_OR_RETURN(RunHead index_head, std::move(verified));
    if (index_head != stream_head) {
      return Status(Code::kCorruption, "run " + run.ToString() + ": the run index ends at seq " +
                                           std::to_string(index_head.seq) +
                                           " but the stream holds the run up to seq " +
                                           std::to_string(stream_head.seq));
    }
    return Status::Ok();
  }));
  if (runs_seen != chains.size()) {
    return Err(Code::kCorruption, std::to_string(chains.size() - runs_seen) +
                                      " run(s) in the stream are missing from the run index");
  }
  // Pass 3: every blob is stored under its own hash.
  MDB_cursor* blobs = nullptr;
  if (store.blobs() != 0 && mdb_cursor_open(txn.get(), store.blobs(), &blobs) == MDB_SUCCESS) {
    mdb_cursor_close(blobs);  // (EINVAL: a snapshot older than the database has no blobs)
    REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.blobs()));
    MDB_val k, v;
    int rc = cursor.Get(&k, &v, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = cursor.Get(&k, &v, MDB_NEXT)) {
      Hash hash{};
      if (k.mv_size != hash.size()) return Err(Code::kCorruption, "blobs database has a malformed key");
      std::memcpy(hash.data(), k.mv_data, hash.size());
      REWIND_RETURN_IF_ERROR(CheckBlob(hash, mdb::View(v)));
    }
    if (rc != MDB_NOTFOUND) return Err(mdb::Error(rc, "reading the blobs database"));
  }
  return expected_position - 1;
}

Result<std::optional<ByteView>> ReadBlob(const Store& store, const mdb::Txn& txn, const Hash& hash) {
  if (store.blobs() == 0) {
    // A writer knows: there are none. A reader only knows there were none
    // when it opened the journal.
    if (!store.options().read_only) return std::optional<ByteView>();
    return Err(Code::kUnavailable, "journal '" + store.dir() + "' got its first blobs after this process opened " +
                                       "it; open it again to read them");
  }
  MDB_val k = mdb::Val(ByteView(hash.data(), hash.size())), v;
  const int rc = mdb_get(txn.get(), store.blobs(), &k, &v);
  // EINVAL: a snapshot begun before this process made the database (the
  // first PutBlob) knows no blobs, as it should.
  if (rc == MDB_NOTFOUND || rc == EINVAL) return std::optional<ByteView>();
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading a blob"));
  const ByteView stored = mdb::View(v);
  if (!store.BlobVerified(hash)) {
    REWIND_RETURN_IF_ERROR(CheckBlob(hash, stored));
    store.SetBlobVerified(hash);
  }
  return std::optional<ByteView>(stored);
}

namespace {

// The run's last index entry; nullopt for a run with no events.
Result<std::optional<key::DecodedRunEntry>> LastEntry(const Store& store, const mdb::Txn& txn, const RunId& run) {
  if (auto checked = CheckRunPath(store, txn, run); !checked.has_value()) return Err(checked.error());
  return LastIndexed(store, txn, run);
}

}  // namespace

Result<std::uint64_t> ReadLogSeq(const Store& store, const mdb::Txn& txn, ByteView key) {
  Result<ByteView> v = txn.Get(store.log(), key);
  if (!v.has_value()) {
    if (v.error().code() == Code::kNotFound) return std::uint64_t{0};
    return Err(v.error());
  }
  if (v->size() != 8) {
    return Err(Code::kCorruption, "journal '" + store.dir() + "' has a malformed log sequence in its log database");
  }
  return key::GetBe64(v->data());
}

Result<std::uint64_t> ReadLastSeq(const Store& store, const mdb::Txn& txn, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(auto entry, LastEntry(store, txn, run));
  return entry ? entry->seq : 0;
}

Result<std::uint64_t> ReadLastPosition(const Store& store, const mdb::Txn& txn) {
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store.events()));
  MDB_val k, v;
  const int rc = cursor.Get(&k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::uint64_t{0};
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the last position"));
  if (k.mv_size != 8) return Err(Code::kCorruption, "events database has a malformed key");
  return key::GetBe64(static_cast<const std::uint8_t*>(k.mv_data));  // the last record's last event
}

Result<RunHead> ReadHead(const Store& store, const mdb::Txn& txn, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(auto entry, LastEntry(store, txn, run));
  if (!entry) return RunHead{};
  EventBatch batch;
  REWIND_RETURN_IF_ERROR(ReadIndexed(store, txn, run, *entry, &batch));
  return RunHead{entry->seq, batch.HashOf(batch.size() - 1)};
}

}  // namespace rwd::journal_internal
