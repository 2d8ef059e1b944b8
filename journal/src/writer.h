// Writer: the journal's single writer thread and its group commit.
//
// Appends from any thread are queued; the writer takes everything queued (up
// to max_batch_bytes), writes it in one LMDB transaction, commits once (one
// sync in durable mode), and only then completes each request. Requests are
// applied in queue order, so two appends to one run in a batch see each other.
//
// Failure rules:
//   * Conflict / InvalidArgument / Corruption of one request fail that request
//     only; it writes nothing.
//   * MDB_MAP_FULL aborts the transaction, grows the map and redoes the batch.
//   * Out of space (map at its limit, ENOSPC at commit) fails the batch with
//     ResourceExhausted; nothing was written and later batches may succeed.
//   * Any other write or commit failure poisons the writer: this batch and all
//     later ones fail with Unavailable carrying the first cause.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
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
  ~Writer();  // completes everything queued, then stops the thread

  // Queues `request`; its callback runs on the writer thread. After shutdown
  // began, fails it at once with Unavailable.
  void Enqueue(AppendRequest request);

  JournalStats stats() const;

 private:
  explicit Writer(Store& store) : store_(store) {}
  void Loop();
  void CommitBatch(std::vector<AppendRequest>& batch, std::vector<Result<AppendResult>>& results);
  // One attempt at writing the batch; sets *map_full when LMDB ran out of map.
  Status TryBatch(std::vector<AppendRequest>& batch, std::vector<Result<AppendResult>>& results,
                  bool* map_full);
  Result<RunHead> LoadHead(const mdb::Txn& txn, const RunId& run);
  Status Inject(FaultPoint point) const;

  Store& store_;
  // Writer-thread state.
  std::uint64_t next_position_ = 1;
  std::unordered_map<RunId, RunHead> heads_;    // committed heads of recent runs (bounded)
  std::unordered_map<RunId, RunHead> touched_;  // heads written by the current batch
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
