#include "rewind/journal/journal.h"

#include <cstring>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>

#include "journal/src/key_codec.h"
#include "journal/src/record.h"
#include "journal/src/store.h"
#include "journal/src/writer.h"
#include "journal/src/writer_lock.h"

namespace rwd {

using journal_internal::AppendRequest;
using journal_internal::GuardedTxn;
using journal_internal::Store;
using journal_internal::Writer;
using journal_internal::WriterLock;

namespace {

std::string At(const RunId& run, std::uint64_t seq, std::uint64_t position) {
  return "run " + run.ToString() + " seq " + std::to_string(seq) + " (position " +
         std::to_string(position) + ")";
}

EventRecord ToRecord(const record::View& view, std::uint64_t position, ByteView stored) {
  return EventRecord{view.run, view.seq, position, view.prev_hash, view.payload, stored};
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

// Follows one run's chain record by record: seqs dense from 1, each prev hash
// equal to the chain hash of the record before.
struct ChainCheck {
  RunHead head;
  Status Next(const EventRecord& rec) {
    if (rec.seq != head.seq + 1) {
      return Status(Code::kCorruption, At(rec.run, rec.seq, rec.position) + ": expected seq " +
                                           std::to_string(head.seq + 1));
    }
    if (rec.prev_hash != head.hash) {
      return Status(Code::kCorruption,
                    At(rec.run, rec.seq, rec.position) +
                        ": its previous hash does not match the chain (an earlier event of "
                        "the run was changed or removed)");
    }
    head = RunHead{rec.seq, record::ChainHash(rec.stored)};
    return Status::Ok();
  }
};

Result<RunHead> VerifyRunIn(const Store& store, const mdb::Txn& txn, const RunId& run) {
  ChainCheck chain;
  REWIND_RETURN_IF_ERROR(ReadRunIn(store, txn, run, 1, Journal::kEnd,
                                   [&](const EventRecord& rec) { return chain.Next(rec); }));
  return chain.head;
}

}  // namespace

class Journal::Impl {
 public:
  JournalOptions options;
  WriterLock lock;  // destroyed last: no other writer until everything is closed
  std::unique_ptr<Store> store;
  std::unique_ptr<Writer> writer;  // destroyed first: drains the queue
};

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() {
  if (impl_) impl_->writer.reset();
}

Result<std::unique_ptr<Journal>> Journal::Open(const JournalOptions& options) {
  if (options.directory.empty()) return Err(Code::kInvalidArgument, "journal directory is empty");
  if (options.initial_map_bytes == 0 || options.initial_map_bytes > options.max_map_bytes) {
    return Err(Code::kInvalidArgument, "initial_map_bytes must be in 1..max_map_bytes");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!options.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(options.directory, ec);
    if (ec) {
      return Err(Code::kUnavailable,
                 "cannot create journal directory '" + options.directory + "': " + ec.message());
    }
    REWIND_ASSIGN_OR_RETURN(impl->lock, WriterLock::Acquire(options.directory));
  }
  REWIND_ASSIGN_OR_RETURN(impl->store, Store::Open(options));
  if (!options.read_only) {
    REWIND_ASSIGN_OR_RETURN(impl->writer, Writer::Start(*impl->store));
  }
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

void Journal::AppendAsync(const RunId& run, std::uint64_t expected_seq, std::vector<Bytes> payloads,
                          AppendCallback done) {
  if (impl_->writer == nullptr) {
    return done(Err(Code::kFailedPrecondition,
                    "journal '" + impl_->options.directory + "' is open read-only"));
  }
  if (payloads.empty()) return done(Err(Code::kInvalidArgument, "append of no events"));
  if (run.IsZero()) return done(Err(Code::kInvalidArgument, "append to the zero run id"));
  std::size_t bytes = 0;
  for (const Bytes& p : payloads) {
    if (p.size() > impl_->options.max_payload_bytes) {
      return done(Err(Code::kInvalidArgument,
                      "run " + run.ToString() + ": an event of " + std::to_string(p.size()) +
                          " bytes exceeds the limit of " +
                          std::to_string(impl_->options.max_payload_bytes)));
    }
    bytes += p.size() + record::kHeaderSize;
  }
  impl_->writer->Enqueue(AppendRequest{run, expected_seq, std::move(payloads), std::move(done), bytes});
}

Result<AppendResult> Journal::Append(const RunId& run, std::uint64_t expected_seq,
                                     std::vector<Bytes> payloads) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(run, expected_seq, std::move(payloads),
              [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Result<RunHead> Journal::Head(const RunId& run) const {
  const Store& store = *impl_->store;
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store.BeginRead());
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(g.txn, store.runs()));
  MDB_val k = mdb::Val(run.bytes()), v;
  int rc = cursor.Get(&k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return Err(Code::kNotFound, "run " + run.ToString() + " is unknown");
  if (rc == MDB_SUCCESS) rc = cursor.Get(&k, &v, MDB_LAST_DUP);
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the head of run " + run.ToString()));
  REWIND_ASSIGN_OR_RETURN(EventRecord rec,
                          ReadIndexed(store, g.txn, run, key::DecodeRunEntry(mdb::View(v))));
  return RunHead{rec.seq, record::ChainHash(rec.stored)};
}

Status Journal::ReadRun(const RunId& run, std::uint64_t from_seq, std::uint64_t to_seq,
                        const EventVisitor& visit) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return ReadRunIn(*impl_->store, g.txn, run, from_seq, to_seq, visit);
}

Status Journal::ReadAll(std::uint64_t from_position, std::uint64_t to_position,
                        const EventVisitor& visit) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return ReadAllIn(*impl_->store, g.txn, from_position, to_position, visit);
}

Status Journal::ForEachRun(const RunVisitor& visit) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return ForEachRunIn(*impl_->store, g.txn, visit);
}

Result<std::uint64_t> Journal::LastPosition() const {
  const Store& store = *impl_->store;
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store.BeginRead());
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(g.txn, store.events()));
  MDB_val k, v;
  const int rc = cursor.Get(&k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::uint64_t{0};
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the last position"));
  if (k.mv_size != 8) return Err(Code::kCorruption, "events database has a malformed key");
  return key::GetBe64(static_cast<const std::uint8_t*>(k.mv_data));
}

Result<RunHead> Journal::VerifyRun(const RunId& run) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return VerifyRunIn(*impl_->store, g.txn, run);
}

Result<std::uint64_t> Journal::VerifyAll() const {
  const Store& store = *impl_->store;
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store.BeginRead());
  // Pass 1: the global stream is dense and every run's chain links up.
  std::unordered_map<RunId, ChainCheck> chains;
  std::uint64_t expected_position = 1;
  REWIND_RETURN_IF_ERROR(ReadAllIn(store, g.txn, 1, kEnd, [&](const EventRecord& rec) -> Status {
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
  REWIND_RETURN_IF_ERROR(ForEachRunIn(store, g.txn, [&](const RunId& run, std::uint64_t) -> Status {
    ++runs_seen;
    auto it = chains.find(run);
    const RunHead stream_head = it == chains.end() ? RunHead{} : it->second.head;
    REWIND_ASSIGN_OR_RETURN(RunHead index_head, VerifyRunIn(store, g.txn, run));
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
  return expected_position - 1;
}

const JournalInfo& Journal::info() const { return impl_->store->info(); }
const JournalOptions& Journal::options() const { return impl_->options; }

JournalStats Journal::stats() const {
  return impl_->writer ? impl_->writer->stats() : JournalStats{};
}

Status Journal::Sync() {
  if (int rc = mdb_env_sync(impl_->store->env(), 1); rc != MDB_SUCCESS) {
    return mdb::Error(rc, "syncing '" + impl_->options.directory + "'");
  }
  return Status::Ok();
}

}  // namespace rwd
