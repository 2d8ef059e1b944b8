// Writer: the journal's single writer thread and its group commit.
//
// Appends from any thread are queued; the writer takes what is queued (while
// it fits in max_batch_bytes), writes it in one LMDB transaction, commits once
// (one sync in durable mode), and only then completes each request. Requests
// are applied in queue order, so two appends to one run in a batch see each
// other.
//
// Failure rules (classified in CommitBatch only):
//   * Conflict or Corruption of one request fail that request only; it writes
//     nothing.
//   * Out of space (the map at max_map_bytes, the disk full when DiskRoom
//     reserves blocks before the transaction, ENOSPC, a too-large transaction)
//     aborts the transaction: nothing was written. If the batch held several
//     requests each is then tried alone, so only those that do not fit fail,
//     with ResourceExhausted; later batches may succeed.
//   * Any other write or commit failure poisons the writer: this batch and all
//     later ones fail with Unavailable carrying the first cause.
// When a batch fails, requests that were refused as Conflict only because of
// an earlier request of the same batch get the batch's error instead: that
// earlier request was not written after all.
//
// Completions: a committed batch's callbacks run on the writer thread when the
// batch holds few requests, and on a second thread of the writer's (the
// completer) when it holds many, so that the writer begins the next commit
// while the callers of the last one are woken (each wake-up is a system call:
// waking hundreds of them one by one was a third of the writer's time). Either
// way they run in commit order: a batch's callbacks wait for those handed off
// before them, and a job runs only once every handed-off callback has run.
//
// Table updates (Journal::UpdateAsync) are jobs: each runs in a transaction of
// its own between group commits, taking turns with append batches so that a
// stream of jobs delays appends by at most one job. A job that fails writes
// nothing; its commit failing is classified as a batch's is. The commit hook
// runs inside each batch's transaction in a nested transaction (tables.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "journal/src/disk_room.h"
#include "journal/src/record.h"
#include "journal/src/store.h"
#include "rewind/base/mutex.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"

namespace rwd::journal_internal {

struct AppendRequest {
  RunId run;
  std::uint64_t expected_seq = 0;
  std::vector<Bytes> payloads;
  Journal::AppendCallback done;
  std::size_t bytes = 0;  // record bytes (headers included), for batch sizing
  // A mirror's record as its log holds it (mirror.h), at log sequence
  // `log_seq` (0: an append of `payloads` instead). It is stored as it is
  // once it checks out as the next record of its run; one that does not
  // fails the batch and poisons the writer (Corruption naming the message):
  // the mirror cannot skip a record of its log.
  std::uint64_t log_seq = 0;
  Bytes record;
  // The received message is a blob, stored under its SHA-256. A batch ends
  // with it, so the records after it that name it find it committed (the
  // commit hook reads blobs from the committed snapshot).
  bool blob = false;
};

// Stores `bytes` under `hash` in `blobs` unless there already; Corruption
// when other bytes are there.
Status StoreBlob(mdb::Txn& txn, MDB_dbi blobs, const Hash& hash, ByteView bytes);

struct WriteJob {
  std::function<Status(WriteView&)> write;  // null: no transaction, only `done`
  std::function<void(const Status&)> done;
  Status refused;  // not ok: nothing runs; `done` is called with it
};

class Writer {
 public:
  // REQUIRES: `store` outlives the writer and is writable.
  static Result<std::unique_ptr<Writer>> Start(Store& store);
  ~Writer();  // Stop()

  // Completes everything queued, then stops the thread. Idempotent. Requests
  // enqueued afterwards fail at once with Unavailable.
  void Stop() REWIND_EXCLUDES(mu_);
  // Whether a write transaction failed to begin or to commit (what it wrote
  // may have reached the file in part), whether or not that poisoned the
  // writer. REQUIRES: Stop returned.
  bool WriteFailed() const { return write_failed_; }

  // Queues `request`; its callback runs on the writer thread or the completer.
  void Enqueue(AppendRequest request) REWIND_EXCLUDES(mu_);
  // Queues `job`; its `done` runs on the writer thread, also when the job is
  // refused because the writer is stopping (until the writer has exited).
  void Enqueue(WriteJob job) REWIND_EXCLUDES(mu_);
  // Installs `hook` for the batches after the current one; returns once the
  // writer no longer uses the previous hook. FailedPrecondition when a hook
  // is installed and `hook` is not empty. REQUIRES: not on the writer's threads.
  Status SetHook(CommitHook hook);

  JournalStats stats() const;

  // Waits until the last committed position is past `position`, `deadline`
  // passes, or the writer stops; returns the last committed position then.
  std::uint64_t WaitPast(std::uint64_t position, std::chrono::steady_clock::time_point deadline)
      REWIND_EXCLUDES(committed_mu_);

 private:
  explicit Writer(Store& store) : store_(store), room_(store), format_(store.info().format_version) {}
  void Loop() REWIND_EXCLUDES(mu_);
  void CommitBatch(std::vector<AppendRequest>& batch, std::vector<Result<AppendResult>>& results);
  // Writes the requests at `indices` in one transaction and commits. Fills
  // their results; sets in_batch_conflict[i] for conflicts caused by the batch.
  Status TryBatch(std::vector<AppendRequest>& batch, std::span<const std::size_t> indices,
                  std::vector<Result<AppendResult>>& results, std::vector<bool>& in_batch_conflict);
  Result<RunHead> LoadHead(const mdb::Txn& txn, const RunId& run);
  // Puts record `stored` of `run`, ending at its seq `last_seq` and the
  // global position `last_position`, into `events` and the run index.
  Status PutRecord(mdb::Txn& txn, const RunId& run, std::uint64_t last_seq, std::uint64_t last_position,
                   ByteView stored);
  // Stores `request`'s received message (a record from `position` on, after
  // checking it follows on from its run; or a blob) after checking it is the
  // log's next; fills `result` (all zero for a blob). Corruption otherwise.
  Status StoreReceived(mdb::Txn& txn, AppendRequest& request, std::uint64_t position, AppendResult* result);
  // Runs the commit hook on `records` in a nested transaction of `txn`; when
  // it fails its writes are undone and the batch goes on.
  void ApplyHook(mdb::Txn& txn, std::span<EventRecord> records);
  void RunJob(WriteJob& job);
  // Runs the batch's callbacks with their results: here, or on the completer.
  void Complete(std::vector<AppendRequest>& batch, std::vector<Result<AppendResult>>& results)
      REWIND_EXCLUDES(done_mu_);
  // Waits until the completer has run every callback handed to it.
  void AwaitCompleted() REWIND_EXCLUDES(done_mu_);
  void CompleterLoop() REWIND_EXCLUDES(done_mu_);
  // Whether the calling thread is one of the writer's.
  bool OnWriterThreads() const;
  // BeginWrite begins a write transaction; Commit commits `txn` after the
  // fault point `before` (kBeforeCommit or kBeforeUpdateCommit). A failure of
  // either sets write_failed_.
  Result<GuardedTxn> BeginWrite();
  Status Commit(mdb::Txn& txn, FaultPoint before);
  // Drops the batch's record views; frees the buffers if they grew large.
  void ReleaseRecords();
  Status Inject(FaultPoint point) const;

  Store& store_;
  // Writer-thread state.
  DiskRoom room_;
  std::uint64_t next_position_ = 1;
  std::unordered_map<RunId, RunHead> heads_;    // committed heads of recent runs (bounded)
  std::unordered_map<RunId, RunHead> touched_;  // heads written by the current transaction
  const std::uint32_t format_;        // the journal's: what its records are written in
  std::vector<Bytes> records_;        // the current batch's stored records
  std::deque<EventBatch> batches_;    // them parsed (a deque: EventRecords point at them)
  std::vector<EventRecord> written_;  // their events, for the commit hook
  std::vector<ByteView> payloads_;    // scratch: one request's payloads
  std::vector<Hash> hashes_;          // scratch: their chain hashes
  CommitHook hook_;
  Status poison_;
  bool write_failed_ = false;
  std::atomic<std::uint64_t> commits_{0}, appends_{0}, events_{0};
  // Commits by latency bucket, not cumulative (JournalStats' are).
  std::array<std::atomic<std::uint64_t>, JournalStats::kCommitLatencyBounds.size()> commit_latency_{};
  std::atomic<std::uint64_t> commit_ns_{0};

  Mutex mu_;
  CondVar wake_;  // signalled when something is queued or stopping_ is set
  std::deque<AppendRequest> queue_ REWIND_GUARDED_BY(mu_);
  std::deque<WriteJob> jobs_ REWIND_GUARDED_BY(mu_);
  bool job_turn_ REWIND_GUARDED_BY(mu_) = false;  // the next round runs a job if one is queued
  bool stopping_ REWIND_GUARDED_BY(mu_) = false;
  bool exited_ REWIND_GUARDED_BY(mu_) = false;  // the loop returned: nothing queued runs
  Mutex committed_mu_;
  CondVar committed_cv_;  // signalled after each commit of events, and when stopping
  std::uint64_t committed_ REWIND_GUARDED_BY(committed_mu_) = 0;  // the last committed position
  bool stopped_ REWIND_GUARDED_BY(committed_mu_) = false;
  std::thread thread_;  // set by Start before anything is queued
  // The two threads' ids, set by Start before anything is queued and never
  // after (the std::thread objects change as Stop joins them).
  std::thread::id writer_id_, completer_id_;

  // Handed-off completions, oldest first; `completing_` counts them and the
  // one the completer is running.
  struct Completion {
    std::vector<AppendRequest> batch;
    std::vector<Result<AppendResult>> results;
  };
  Mutex done_mu_;
  CondVar done_cv_;  // signalled when a completion is queued or finished, or when stopping
  std::deque<Completion> completions_ REWIND_GUARDED_BY(done_mu_);
  std::size_t completing_ REWIND_GUARDED_BY(done_mu_) = 0;
  bool completer_stopping_ REWIND_GUARDED_BY(done_mu_) = false;
  std::thread completer_;  // set by Start before anything is queued
};

}  // namespace rwd::journal_internal
