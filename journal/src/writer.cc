#include "journal/src/writer.h"

#include <algorithm>

#include <future>
#include <numeric>
#include <optional>
#include <string>

#include "journal/src/key_codec.h"
#include "journal/src/read.h"
#include "journal/src/record.h"

namespace rwd::journal_internal {
namespace {

constexpr std::size_t kMaxCachedHeads = 1u << 16;
// Record buffers are reused across batches up to this many bytes.
constexpr std::size_t kMaxHeldRecordBytes = 4u << 20;

const Status kNotWritten(Code::kInternal, "not written");

// A batch of more requests than this has its callbacks run by the completer.
// One request, the usual batch of a run waited on alone, never pays for the
// hand-off.
constexpr std::size_t kMaxInlineCompletions = 8;

}  // namespace

Result<std::unique_ptr<Writer>> Writer::Start(Store& store) {
  std::unique_ptr<Writer> writer(new Writer(store));
  {
    REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store.BeginRead());
    REWIND_ASSIGN_OR_RETURN(std::uint64_t last, ReadLastPosition(store, g.txn));
    writer->next_position_ = last + 1;
    MutexLock lock(writer->committed_mu_);
    writer->committed_ = last;
  }
  writer->completer_ = std::thread([w = writer.get()] { w->CompleterLoop(); });
  writer->thread_ = std::thread([w = writer.get()] { w->Loop(); });
  writer->completer_id_ = writer->completer_.get_id();
  writer->writer_id_ = writer->thread_.get_id();
  return writer;
}

Writer::~Writer() { Stop(); }

void Writer::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyOne();
  if (thread_.joinable()) thread_.join();  // which ran or awaited every callback
  {
    MutexLock lock(done_mu_);
    completer_stopping_ = true;
  }
  done_cv_.NotifyAll();
  if (completer_.joinable()) completer_.join();
  {
    MutexLock lock(committed_mu_);
    stopped_ = true;
  }
  committed_cv_.NotifyAll();
}

std::uint64_t Writer::WaitPast(std::uint64_t position, std::chrono::steady_clock::time_point deadline) {
  MutexLock lock(committed_mu_);
  while (committed_ <= position && !stopped_) {
    if (!lock.WaitUntil(committed_cv_, deadline)) break;
  }
  return committed_;
}

void Writer::Enqueue(AppendRequest request) {
  {
    MutexLock lock(mu_);
    // Appends made by callbacks while stopping are still taken: the loop drains
    // the queue before it exits. Only a stopped writer refuses.
    if (!stopping_ || OnWriterThreads()) {
      queue_.push_back(std::move(request));
      wake_.NotifyOne();
      return;
    }
  }
  request.done(Err(Code::kUnavailable, "journal '" + store_.dir() + "' is closing"));
}

void Writer::Enqueue(WriteJob job) {
  {
    MutexLock lock(mu_);
    if (stopping_ && (exited_ || !OnWriterThreads())) {
      job.write = nullptr;
      job.refused = Status(Code::kUnavailable, "journal '" + store_.dir() + "' is closing");
    }
    // Refused or not, `done` runs on the writer thread while there is one: it
    // may touch what the writer thread owns (a hook, the projections' cache).
    if (!exited_) {
      jobs_.push_back(std::move(job));
      wake_.NotifyOne();
      return;
    }
  }
  job.done(job.refused);
}

Status Writer::SetHook(CommitHook hook) {
  std::promise<Status> installed;
  Enqueue(WriteJob{nullptr, [&](const Status& s) {
                     if (!s.ok()) return installed.set_value(s);
                     if (hook.apply && hook_.apply) {
                       installed.set_value(Status(Code::kFailedPrecondition,
                                                  "journal '" + store_.dir() + "' has a commit hook already"));
                       return;
                     }
                     hook_ = std::move(hook);
                     installed.set_value(Status::Ok());
                   }});
  return installed.get_future().get();
}

bool Writer::OnWriterThreads() const {
  const std::thread::id me = std::this_thread::get_id();
  return me == writer_id_ || me == completer_id_;
}

void Writer::Loop() {
  std::vector<AppendRequest> batch;
  std::vector<Result<AppendResult>> results;
  for (;;) {
    std::optional<WriteJob> job;
    bool idle = false;
    {
      MutexLock lock(mu_);
      while (!stopping_ && queue_.empty() && jobs_.empty()) lock.Wait(wake_);
      idle = queue_.empty() && jobs_.empty();  // and stopping
      // Jobs and append batches take turns, so neither waits for more than one of the other.
      if (!idle && !jobs_.empty() && (queue_.empty() || job_turn_)) {
        job = std::move(jobs_.front());
        jobs_.pop_front();
        job_turn_ = false;
      } else if (!idle) {
        std::size_t bytes = 0;
        while (!queue_.empty() &&
               (batch.empty() || bytes + queue_.front().bytes <= store_.options().max_batch_bytes)) {
          bytes += queue_.front().bytes;
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
          if (batch.back().blob) break;
        }
        job_turn_ = true;
      }
    }
    if (idle) {
      // Callbacks still to run may append more: stop once they ran and did not.
      AwaitCompleted();
      MutexLock lock(mu_);
      if (queue_.empty() && jobs_.empty()) {
        exited_ = true;
        return;
      }
      continue;
    }
    if (job) {
      AwaitCompleted();  // a job's `done` follows every earlier callback, on this thread
      RunJob(*job);
      continue;
    }
    CommitBatch(batch, results);
    Complete(batch, results);
  }
}

void Writer::Complete(std::vector<AppendRequest>& batch, std::vector<Result<AppendResult>>& results) {
  {
    MutexLock lock(done_mu_);
    if (completing_ > 0 || batch.size() > kMaxInlineCompletions) {
      ++completing_;
      completions_.push_back(Completion{std::move(batch), std::move(results)});
      batch.clear();
      results.clear();
      done_cv_.NotifyAll();
      return;
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
  batch.clear();
}

void Writer::AwaitCompleted() {
  MutexLock lock(done_mu_);
  while (completing_ > 0) lock.Wait(done_cv_);
}

void Writer::CompleterLoop() {
  for (;;) {
    Completion c;
    {
      MutexLock lock(done_mu_);
      while (!completer_stopping_ && completions_.empty()) lock.Wait(done_cv_);
      if (completions_.empty()) return;  // stopping: the writer awaited every completion
      c = std::move(completions_.front());
      completions_.pop_front();
    }
    for (std::size_t i = 0; i < c.batch.size(); ++i) c.batch[i].done(std::move(c.results[i]));
    c.batch.clear();  // the callbacks' captures go before the writer hears of it
    MutexLock lock(done_mu_);
    --completing_;
    done_cv_.NotifyAll();
  }
}

void Writer::RunJob(WriteJob& job) {
  if (!job.refused.ok()) return job.done(job.refused);
  if (!job.write) return job.done(Status::Ok());
  if (!poison_.ok()) return job.done(poison_);
  if (Status room = room_.Reserve(0); !room.ok()) {
    if (room.code() != Code::kResourceExhausted) poison_ = Status(Code::kUnavailable, room.message());
    return job.done(room);
  }
  auto g = BeginWrite();
  if (!g.has_value()) return job.done(g.error());
  WriteView view(store_, g->txn);
  Status status = job.write(view);
  if (status.ok()) {
    status = Commit(g->txn, FaultPoint::kBeforeUpdateCommit);
    if (!status.ok() && status.code() != Code::kResourceExhausted) {
      poison_ = Status(Code::kUnavailable, status.message());
    }
  }
  if (status.ok()) status = Inject(FaultPoint::kAfterUpdateCommit).WithContext("commit failed");
  job.done(status);
}

void Writer::CommitBatch(std::vector<AppendRequest>& batch, std::vector<Result<AppendResult>>& results) {
  results.assign(batch.size(), Err(kNotWritten));
  if (!poison_.ok()) {
    for (auto& r : results) r = Err(poison_);
    return;
  }
  std::vector<bool> in_batch_conflict(batch.size(), false);
  std::vector<std::size_t> all(batch.size());
  std::iota(all.begin(), all.end(), 0);
  Status status = TryBatch(batch, all, results, in_batch_conflict);
  if (status.ok()) return;
  // A mirror's records must be stored in their log's order: never one
  // without those before it.
  const bool received = std::ranges::any_of(batch, [](const AppendRequest& r) { return r.log_seq != 0; });
  if (status.code() == Code::kResourceExhausted && batch.size() > 1 && !received) {
    // Perhaps one request does not fit where the others would: try each alone.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::size_t one[] = {i};
      in_batch_conflict.assign(batch.size(), false);
      Status alone = TryBatch(batch, one, results, in_batch_conflict);
      if (!alone.ok() && alone.code() != Code::kResourceExhausted) {
        poison_ = Status(Code::kUnavailable, alone.message());
        for (std::size_t j = i; j < batch.size(); ++j) results[j] = Err(poison_);
        return;
      }
      if (!alone.ok()) results[i] = Err(alone);
    }
    return;
  }
  if (status.code() != Code::kResourceExhausted) poison_ = Status(Code::kUnavailable, status.message());
  // A mirror learns why its log's message was refused as it is (Corruption).
  const bool kept = status.code() == Code::kResourceExhausted || (received && status.code() == Code::kCorruption);
  const Status& cause = kept ? status : poison_;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Result<AppendResult>& r = results[i];
    if (r.has_value() || r.error() == kNotWritten || in_batch_conflict[i]) r = Err(cause);
  }
}

Status Writer::TryBatch(std::vector<AppendRequest>& batch, std::span<const std::size_t> indices,
                        std::vector<Result<AppendResult>>& results, std::vector<bool>& in_batch_conflict) {
  std::uint64_t bytes = 0;
  for (std::size_t i : indices) bytes += batch[i].bytes;
  REWIND_RETURN_IF_ERROR(room_.Reserve(bytes));
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, BeginWrite());
  touched_.clear();
  written_.clear();
  batches_.clear();
  std::uint64_t position = next_position_;
  std::uint64_t appended = 0;
  for (std::size_t i : indices) {
    AppendRequest& request = batch[i];
    if (request.log_seq != 0) {
      AppendResult received;  // all zero for a blob
      REWIND_RETURN_IF_ERROR(StoreReceived(g.txn, request, position, &received));
      if (received.first_seq != 0) {
        position += received.head.seq - received.first_seq + 1;
        ++appended;
      }
      results[i] = received;
      continue;
    }
    RunHead head;
    const auto in_batch = touched_.find(request.run);
    if (in_batch != touched_.end()) {
      head = in_batch->second;
    } else {
      auto loaded = LoadHead(g.txn, request.run);
      if (!loaded.has_value()) {
        results[i] = Err(loaded.error());
        continue;
      }
      head = *loaded;
    }
    if (head.seq != request.expected_seq) {
      results[i] = Err(Code::kConflict, "run " + request.run.ToString() + ": expected seq " +
                                            std::to_string(request.expected_seq) + " but the run is at seq " +
                                            std::to_string(head.seq));
      in_batch_conflict[i] = in_batch != touched_.end();
      continue;
    }
    AppendResult result{head.seq + 1, position, {}};
    payloads_.assign(request.payloads.begin(), request.payloads.end());
    hashes_.clear();
    for (ByteView payload : payloads_) {
      hashes_.push_back(record::ChainHash(request.run, head.seq + hashes_.size() + 1,
                                          hashes_.empty() ? head.hash : hashes_.back(), payload));
    }
    // Format 2: the request is one record; format 1: a record per event.
    const std::size_t per_record = format_ == 1 ? 1 : payloads_.size();
    for (std::size_t first = 0; first < payloads_.size(); first += per_record) {
      if (records_.size() <= batches_.size()) records_.emplace_back();
      Bytes& stored = records_[batches_.size()];
      const auto payloads = std::span<const ByteView>(payloads_).subspan(first, per_record);
      const Hash& prev = first == 0 ? head.hash : hashes_[first - 1];
      record::Encode(format_, request.run, head.seq + first + 1, prev, payloads, &stored);
      const std::uint64_t at = position + first;
      const std::uint64_t last = at + payloads.size() - 1;  // the record's key
      REWIND_RETURN_IF_ERROR(PutRecord(g.txn, request.run, head.seq + first + payloads.size(), last, stored));
      EventBatch& made = batches_.emplace_back();
      made.Assign(format_, request.run, head.seq + first + 1, at, prev, payloads,
                  std::span<const Hash>(hashes_).subspan(first, per_record), stored);
      for (std::size_t e = 0; e < made.size(); ++e) written_.push_back(made.At(e));
    }
    head.seq += payloads_.size();
    head.hash = hashes_.back();
    position += payloads_.size();
    result.head = head;
    touched_[request.run] = head;
    results[i] = result;
    ++appended;
  }
  const bool hooked = hook_.apply && !written_.empty();
  if (hooked) ApplyHook(g.txn, written_);
  // ENOSPC while writing pages at commit aborts before the meta page is
  // written: the journal is intact (ResourceExhausted, no poison).
  const auto commit_start = std::chrono::steady_clock::now();
  Status status = Commit(g.txn, FaultPoint::kBeforeCommit);
  if (status.ok()) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                         commit_start).count();
    const double seconds = static_cast<double>(ns) / 1e9;
    // One bucket per commit (the first bound it is within); stats() adds them up.
    const auto& bounds = JournalStats::kCommitLatencyBounds;
    const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
    commit_latency_[std::min(bucket, bounds.size() - 1)].fetch_add(1, std::memory_order_relaxed);
    commit_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    events_.fetch_add(position - next_position_, std::memory_order_relaxed);
    appends_.fetch_add(appended, std::memory_order_relaxed);
    next_position_ = position;
    {
      MutexLock lock(committed_mu_);
      committed_ = position - 1;
    }
    committed_cv_.NotifyAll();
    if (heads_.size() + touched_.size() > kMaxCachedHeads) heads_.clear();
    for (const auto& [run, head] : touched_) heads_[run] = head;
    status = Inject(FaultPoint::kAfterCommit).WithContext("commit failed");
  }
  if (hooked && hook_.finished) hook_.finished(status);
  ReleaseRecords();
  return status;
}

Status StoreBlob(mdb::Txn& txn, MDB_dbi blobs, const Hash& hash, ByteView bytes) {
  const ByteView key(hash.data(), hash.size());
  auto stored = txn.Get(blobs, key);
  if (stored.has_value()) {
    if (std::equal(stored->begin(), stored->end(), bytes.begin(), bytes.end())) return Status::Ok();
    return Status(Code::kCorruption, "blob " + HexEncode(key) + " is stored damaged");
  }
  if (stored.error().code() != Code::kNotFound) return stored.error();
  return txn.Put(blobs, key, bytes, MDB_NOOVERWRITE, "blobs");
}

Status Writer::PutRecord(mdb::Txn& txn, const RunId& run, std::uint64_t last_seq, std::uint64_t last_position,
                         ByteView stored) {
  auto put = [&](MDB_dbi dbi, ByteView k, ByteView v, unsigned flags, const char* what) -> Status {
    MDB_val key = mdb::Val(k), value = mdb::Val(v);
    const int rc = mdb_put(txn.get(), dbi, &key, &value, flags);
    if (rc == MDB_SUCCESS) return Status::Ok();
    return mdb::Error(rc, std::string("appending to '") + store_.dir() + "' (" + what + ")");
  };
  REWIND_RETURN_IF_ERROR(put(store_.events(), key::EncodePosition(last_position), stored, MDB_APPEND, "events"));
  return put(store_.runs(), run.bytes(), key::EncodeRunEntry(last_seq, last_position), MDB_APPENDDUP, "runs");
}

Status Writer::StoreReceived(mdb::Txn& txn, AppendRequest& request, std::uint64_t position, AppendResult* result) {
  const std::string message = "message " + std::to_string(request.log_seq) + " of the log '" + store_.info().upstream + "'";
  // The log's messages are stored in order, every one: never one without
  // those before it (a batch that failed leaves none of its own behind).
  const ByteView last_key = AsBytes(key::kLogLastKey);
  REWIND_ASSIGN_OR_RETURN(const std::uint64_t mirrored, ReadLogSeq(store_, txn, last_key));
  if (request.log_seq != mirrored + 1) {
    return Status(Code::kCorruption, message + " does not follow the last one mirrored, " + std::to_string(mirrored));
  }
  const key::Position seq = key::EncodePosition(request.log_seq);
  if (request.blob) {
    REWIND_RETURN_IF_ERROR(StoreBlob(txn, store_.blobs(), Sha256(request.record), request.record).WithContext(message));
    *result = AppendResult{};
    return txn.Put(store_.log(), last_key, seq, 0, "log");
  }
  if (records_.size() <= batches_.size()) records_.emplace_back();
  Bytes& stored = records_[batches_.size()];
  stored = std::move(request.record);
  EventBatch& made = batches_.emplace_back();
  if (Status s = made.ParseReceived(stored, position); !s.ok()) {
    return Status(Code::kCorruption, message + " is not a Rewind record of format 2: " + s.message());
  }
  const RunId& run = made.run();
  RunHead head;
  if (auto in_batch = touched_.find(run); in_batch != touched_.end()) {
    head = in_batch->second;
  } else {
    REWIND_ASSIGN_OR_RETURN(head, LoadHead(txn, run));
  }
  if (made.first_seq() != head.seq + 1 || made.prev_hash() != head.hash) {
    return Status(Code::kCorruption, message + " does not follow on from run " + run.ToString() + " at seq " +
                                         std::to_string(head.seq) + " (it names seq " +
                                         std::to_string(made.first_seq()) + " and another previous hash)");
  }
  REWIND_RETURN_IF_ERROR(PutRecord(txn, run, head.seq + made.size(), position + made.size() - 1, stored));
  REWIND_RETURN_IF_ERROR(txn.Put(store_.log(), run.bytes(), seq, 0, "log"));
  REWIND_RETURN_IF_ERROR(txn.Put(store_.log(), last_key, seq, 0, "log"));
  for (std::size_t e = 0; e < made.size(); ++e) written_.push_back(made.At(e));
  *result = AppendResult{head.seq + 1, position, RunHead{head.seq + made.size(), made.HashOf(made.size() - 1)}};
  touched_[run] = result->head;
  return Status::Ok();
}

void Writer::ApplyHook(mdb::Txn& txn, std::span<EventRecord> records) {
  // A blob an event names was committed before it (Journal::PutBlob): the
  // records read blobs in a snapshot of the committed journal, apart from
  // this transaction, in which the hook opens nested ones as it likes. (This
  // process writes the journal, so its map is never resized under it.)
  mdb::Txn committed;
  std::optional<ReadView> before;
  if (mdb::Txn::Begin(store_.env(), MDB_RDONLY, &committed) == MDB_SUCCESS) before.emplace(store_, committed);
  for (EventRecord& record : records) record.view = before ? &*before : nullptr;
  // The hook owns its failures (it records them); here they only undo its writes.
  WriteView view(store_, txn);
  (void)view.Nested([&](WriteView& nested) { return hook_.apply(nested, records); });
  for (EventRecord& record : records) record.view = nullptr;  // `before` ends here
}

Result<GuardedTxn> Writer::BeginWrite() {
  Result<GuardedTxn> g = store_.BeginWrite();
  if (!g.has_value()) write_failed_ = true;
  return g;
}

Status Writer::Commit(mdb::Txn& txn, FaultPoint before) {
  Status status = Inject(before).WithContext("commit failed");
  if (status.ok()) status = txn.Commit().WithContext("committing to '" + store_.dir() + "'");
  if (!status.ok()) write_failed_ = true;
  return status;
}

void Writer::ReleaseRecords() {
  written_.clear();
  batches_.clear();
  std::size_t held = 0;
  for (const Bytes& r : records_) held += r.capacity();
  if (held > kMaxHeldRecordBytes) records_.clear();
}

Result<RunHead> Writer::LoadHead(const mdb::Txn& txn, const RunId& run) {
  if (auto it = heads_.find(run); it != heads_.end()) return it->second;
  return ReadHead(store_, txn, run);
}

JournalStats Writer::stats() const {
  JournalStats s{commits_.load(std::memory_order_relaxed), appends_.load(std::memory_order_relaxed),
                 events_.load(std::memory_order_relaxed)};
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < commit_latency_.size(); ++i) {
    cumulative += commit_latency_[i].load(std::memory_order_relaxed);
    s.commit_latency[i] = cumulative;
  }
  s.commit_seconds = static_cast<double>(commit_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

Status Writer::Inject(FaultPoint point) const {
  const auto& hook = store_.options().fault_hook;
  return hook ? hook(point) : Status::Ok();
}

}  // namespace rwd::journal_internal
