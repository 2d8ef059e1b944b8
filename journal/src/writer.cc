#include "journal/src/writer.h"

#include <cerrno>
#include <string>

#include "journal/src/key_codec.h"
#include "journal/src/record.h"

namespace rwd::journal_internal {
namespace {

constexpr std::size_t kMaxCachedHeads = 1u << 16;

std::string RunText(const RunId& run) { return "run " + run.ToString(); }

}  // namespace

Result<std::unique_ptr<Writer>> Writer::Start(Store& store) {
  std::unique_ptr<Writer> writer(new Writer(store));
  {
    REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store.BeginRead());
    REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(g.txn, store.events()));
    MDB_val k, v;
    const int rc = cursor.Get(&k, &v, MDB_LAST);
    if (rc == MDB_SUCCESS) {
      if (k.mv_size != 8) return Err(Code::kCorruption, "events database has a malformed key");
      writer->next_position_ = key::GetBe64(static_cast<const std::uint8_t*>(k.mv_data)) + 1;
    } else if (rc != MDB_NOTFOUND) {
      return Err(mdb::Error(rc, "reading the last position"));
    }
  }
  writer->thread_ = std::thread([w = writer.get()] { w->Loop(); });
  return writer;
}

Writer::~Writer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Writer::Enqueue(AppendRequest request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(request));
      wake_.notify_one();
      return;
    }
  }
  request.done(Err(Code::kUnavailable, "journal '" + store_.dir() + "' is closing"));
}

void Writer::Loop() {
  std::vector<AppendRequest> batch;
  std::vector<Result<AppendResult>> results;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      std::size_t bytes = 0;
      while (!queue_.empty() &&
             (batch.empty() || bytes + queue_.front().bytes <= store_.options().max_batch_bytes)) {
        bytes += queue_.front().bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch, results);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
    batch.clear();
  }
}

void Writer::CommitBatch(std::vector<AppendRequest>& batch,
                         std::vector<Result<AppendResult>>& results) {
  results.assign(batch.size(), Err(Code::kInternal, "not written"));
  Status status = poison_;
  while (status.ok()) {
    bool map_full = false;
    status = TryBatch(batch, results, &map_full);
    if (!map_full) break;
    status = store_.Grow();  // ok: redo the batch in the larger map
  }
  if (status.ok()) return;
  // The whole batch failed: requests that had been written share the cause;
  // those refused on their own (conflicts) keep their own error.
  for (auto& r : results) {
    if (r.has_value() || r.error().code() == Code::kInternal) r = Err(status);
  }
}

Status Writer::TryBatch(std::vector<AppendRequest>& batch,
                        std::vector<Result<AppendResult>>& results, bool* map_full) {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store_.BeginWrite());
  touched_.clear();
  std::uint64_t position = next_position_;
  std::uint64_t touched_appends = 0;
  // A put that fails leaves the transaction unusable: stop and report.
  auto put_failed = [&](int rc, const char* what) {
    if (rc == MDB_MAP_FULL) *map_full = true;
    Status s = mdb::Error(rc, std::string("appending to '") + store_.dir() + "' (" + what + ")");
    if (!*map_full) poison_ = Status(Code::kUnavailable, s.message());
    return s;
  };
  for (std::size_t i = 0; i < batch.size(); ++i) {
    AppendRequest& request = batch[i];
    RunHead head;
    if (auto it = touched_.find(request.run); it != touched_.end()) {
      head = it->second;
    } else {
      auto loaded = LoadHead(g.txn, request.run);
      if (!loaded.has_value()) {
        results[i] = Err(loaded.error());
        continue;
      }
      head = *loaded;
    }
    if (head.seq != request.expected_seq) {
      results[i] = Err(Code::kConflict, RunText(request.run) + ": expected seq " +
                                            std::to_string(request.expected_seq) +
                                            " but the run is at seq " + std::to_string(head.seq));
      continue;
    }
    AppendResult result{head.seq + 1, position, {}};
    for (const Bytes& payload : request.payloads) {
      ++head.seq;
      record::Encode(request.run, head.seq, head.hash, payload, &record_);
      const key::Position pos = key::EncodePosition(position);
      const key::RunEntry entry = key::EncodeRunEntry(head.seq, position);
      MDB_val k = mdb::Val(pos), v = mdb::Val(record_);
      if (int rc = mdb_put(g.txn.get(), store_.events(), &k, &v, MDB_APPEND); rc != MDB_SUCCESS) {
        return put_failed(rc, "events");
      }
      MDB_val rk = mdb::Val(request.run.bytes()), rv = mdb::Val(entry);
      if (int rc = mdb_put(g.txn.get(), store_.runs(), &rk, &rv, MDB_APPENDDUP); rc != MDB_SUCCESS) {
        return put_failed(rc, "runs");
      }
      head.hash = record::ChainHash(record_);
      ++position;
    }
    result.head = head;
    touched_[request.run] = head;
    results[i] = result;
    ++touched_appends;
  }
  if (Status s = Inject(FaultPoint::kBeforeCommit); !s.ok()) {
    poison_ = Status(Code::kUnavailable, "commit failed: " + s.message());
    return poison_;
  }
  int commit_rc = MDB_SUCCESS;
  if (Status s = g.txn.Commit(&commit_rc); !s.ok()) {
    if (commit_rc == MDB_MAP_FULL) {
      // Commit allocates pages too (free list, database records): grow and redo.
      *map_full = true;
      return s;
    }
    if (s.code() == Code::kResourceExhausted) {
      // ENOSPC while writing pages: LMDB aborted the transaction before its
      // meta page, so the journal is intact and a later batch may succeed.
      return Status(Code::kResourceExhausted, "appending to '" + store_.dir() + "': " + s.message());
    }
    poison_ = Status(Code::kUnavailable, "commit of '" + store_.dir() + "' failed: " + s.message());
    return poison_;
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  events_.fetch_add(position - next_position_, std::memory_order_relaxed);
  appends_.fetch_add(touched_appends, std::memory_order_relaxed);
  next_position_ = position;
  if (heads_.size() + touched_.size() > kMaxCachedHeads) heads_.clear();
  for (const auto& [run, head] : touched_) heads_[run] = head;
  if (Status s = Inject(FaultPoint::kAfterCommit); !s.ok()) {
    poison_ = Status(Code::kUnavailable, "commit failed: " + s.message());
    return poison_;
  }
  return Status::Ok();
}

Result<RunHead> Writer::LoadHead(const mdb::Txn& txn, const RunId& run) {
  if (auto it = heads_.find(run); it != heads_.end()) return it->second;
  REWIND_ASSIGN_OR_RETURN(mdb::Cursor cursor, mdb::Cursor::Open(txn, store_.runs()));
  MDB_val k = mdb::Val(run.bytes()), v;
  int rc = cursor.Get(&k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return RunHead{};
  if (rc == MDB_SUCCESS) rc = cursor.Get(&k, &v, MDB_LAST_DUP);
  if (rc != MDB_SUCCESS) return Err(mdb::Error(rc, "reading the head of " + RunText(run)));
  if (v.mv_size != sizeof(key::RunEntry)) {
    return Err(Code::kCorruption, "run index entry of " + RunText(run) + " is malformed");
  }
  const auto entry = key::DecodeRunEntry(mdb::View(v));
  REWIND_ASSIGN_OR_RETURN(ByteView stored, txn.Get(store_.events(), key::EncodePosition(entry.position)));
  REWIND_ASSIGN_OR_RETURN(record::View view, record::Parse(stored, entry.position));
  if (view.run != run || view.seq != entry.seq) {
    return Err(Code::kCorruption, RunText(run) + " seq " + std::to_string(entry.seq) +
                                      ": the run index points at position " +
                                      std::to_string(entry.position) + ", which holds another event");
  }
  return RunHead{entry.seq, record::ChainHash(stored)};
}

JournalStats Writer::stats() const {
  return JournalStats{commits_.load(std::memory_order_relaxed), appends_.load(std::memory_order_relaxed),
                      events_.load(std::memory_order_relaxed)};
}

Status Writer::Inject(FaultPoint point) const {
  const auto& hook = store_.options().fault_hook;
  return hook ? hook(point) : Status::Ok();
}

}  // namespace rwd::journal_internal
