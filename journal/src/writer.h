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
//   * Out of space (the map at max_map_bytes, ENOSPC, a too-large transaction)
//     aborts the transaction: nothing was written. If the batch held several
//     requests each is then tried alone, so only those that do not fit fail,
//     with ResourceExhausted; later batches may succeed.
//   * Any other write or commit failure poisons the writer: this batch and all
//     later ones fail with Unavailable carrying the first cause.
// When a batch fails, requests that were refused as Conflict only because of
// an earlier request of the same batch get the batch's error instead: that
// earlier request was not written after all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "journal/src/store.h"
#include "rewind/journal/journal.h"

namespace rwd::journal_internal {

struct AppendRequest {
  RunId run;
  std::uint64_t expected_seq = 0;
  std::vector<Bytes> payloads;
  Journal::AppendCallback done;
  std::size_t bytes = 0;  // record bytes (headers included), for batch sizing
};

class Writer {
 public:
  // REQUIRES: `store` outlives the writer and is writable.
  static Result<std::unique_ptr<Writer>> Start(Store& store);
  ~Writer();  // Stop()

  // Completes everything queued, then stops the thread. Idempotent. Requests
  // enqueued afterwards fail at once with Unavailable.
  void Stop();

  // Queues `request`; its callback runs on the writer thread.
  void Enqueue(AppendRequest request);

  JournalStats stats() const;

 private:
  explicit Writer(Store& store) : store_(store) {}
  void Loop();
  void CommitBatch(std::vector<AppendRequest>& batch, std::vector<Result<AppendResult>>& results);
  // Writes the requests at `indices` in one transaction and commits. Fills
  // their results; sets in_batch_conflict[i] for conflicts caused by the batch.
  Status TryBatch(std::vector<AppendRequest>& batch, std::span<const std::size_t> indices,
                  std::vector<Result<AppendResult>>& results, std::vector<bool>& in_batch_conflict);
  Result<RunHead> LoadHead(const mdb::Txn& txn, const RunId& run);
  Status Inject(FaultPoint point) const;

  Store& store_;
  // Writer-thread state.
  std::uint64_t next_position_ = 1;
  std::unordered_map<RunId, RunHead> heads_;    // committed heads of recent runs (bounded)
  std::unordered_map<RunId, RunHead> touched_;  // heads written by the current transaction
  Bytes record_;
  Status poison_;
  std::atomic<std::uint64_t> commits_{0}, appends_{0}, events_{0};

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<AppendRequest> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rwd::journal_internal
