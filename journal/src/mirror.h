// Mirror: a journal's side of its upstream log (rewind/journal/upstream.h).
//
// Two threads of its own:
//   * the publisher takes this process's appends in order, makes each one's
//     record from the run's head (the mirror's, or that of this process's
//     last append still on its way back), and appends it to the log fenced
//     by the run's last log sequence. A log that does not answer is asked
//     again with the same record, which it stores at most once.
//   * the follower reads the log in order from the mirror's last sequence on
//     and hands each message to the writer as a received record
//     (AppendRequest::log_seq): stored as it is, projections applied, in the
//     writer's group commits.
// An append is acknowledged when its record is stored in the mirror, with
// the position it got there. Anything but a Rewind record that follows on
// from its run stops the mirror (Corruption naming the message), and every
// later append fails with it: a mirror never skips a message of its log.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <thread>
#include <unordered_map>

#include "journal/src/store.h"
#include "journal/src/writer.h"
#include "rewind/base/mutex.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/upstream.h"

namespace rwd::journal_internal {

class Mirror {
 public:
  // Starts following the log from the mirror's last sequence on.
  // REQUIRES: `store` outlives the mirror, and `writer` outlives it or is
  // stopped after Stop and before the mirror goes (the writer's callbacks
  // of received records call it).
  static Result<std::unique_ptr<Mirror>> Start(Store& store, Writer& writer, std::shared_ptr<Upstream> upstream);
  ~Mirror();  // Stop()

  // Returns once the mirror holds every message the log held at Start, or
  // with the failure that stopped it first.
  Status AwaitCatchUp() REWIND_EXCLUDES(mu_);

  // Stops both threads; appends still queued, and later ones, fail with
  // Unavailable. Idempotent. Appends in the log whose records the writer
  // has not stored by the time the mirror is destroyed fail then, with
  // Unavailable saying so.
  void Stop() REWIND_EXCLUDES(mu_);

  // As Journal::AppendAsync. Besides its errors: Conflict also when another
  // process extended the run in the log first; Unavailable when the log did
  // not answer within the upstream's own retries, or the mirror stopped.
  void Append(const RunId& run, std::uint64_t expected_seq, std::vector<Bytes> payloads,
              Journal::AppendCallback done) REWIND_EXCLUDES(mu_);

  // As Journal::PutBlob: appends the blob to the log and returns its hash
  // once the mirror holds it (so a record naming it, appended after, finds
  // it in every mirror).
  Result<Hash> PutBlob(ByteView bytes) REWIND_EXCLUDES(mu_);

 private:
  Mirror(Store& store, Writer& writer, std::shared_ptr<Upstream> upstream)
      : store_(store), writer_(writer), upstream_(std::move(upstream)) {}

  struct Request {
    RunId run;
    std::uint64_t expected_seq;
    std::vector<Bytes> payloads;
    Journal::AppendCallback done;
  };
  // An append of this process in the log, until the mirror stores it: its
  // run's head after it, and its log sequence.
  struct Pending {
    RunHead head;
    std::uint64_t log_seq = 0;
  };
  // A caller waiting for its record to be mirrored: the one the log stored
  // at `log_seq` (once the publisher knows it), taking the run to `head`.
  // A record that took the run to `head` before the publisher knew its seq
  // is kept in `arrived` until it does.
  struct Waiter {
    RunHead head;
    Journal::AppendCallback done;
    std::optional<std::uint64_t> log_seq;
    std::optional<std::pair<std::uint64_t, AppendResult>> arrived;
  };

  // `call` (an append to the log), made again with the same arguments while
  // the log is Unavailable, for up to kUpstreamPatience or until Stop.
  Result<std::uint64_t> Persist(const std::function<Result<std::uint64_t>()>& call) REWIND_EXCLUDES(mu_);
  void PublishLoop() REWIND_EXCLUDES(mu_);
  void Publish(Request& request) REWIND_EXCLUDES(mu_);
  void FollowLoop() REWIND_EXCLUDES(mu_);
  // The writer stored (or failed to store) log message `seq` of `run`.
  void Mirrored(const RunId& run, std::uint64_t seq, Result<AppendResult> result) REWIND_EXCLUDES(mu_);
  // Stops the mirror for good with `cause`, failing every waiter.
  void Fail(Status cause) REWIND_EXCLUDES(mu_);
  // The run's head and log sequence: this process's last append of it still
  // on its way back, else the mirror's.
  Result<Pending> HeadOf(const RunId& run) REWIND_EXCLUDES(mu_);

  Store& store_;
  Writer& writer_;
  std::shared_ptr<Upstream> upstream_;
  std::thread publisher_, follower_;

  Mutex mu_;
  CondVar wake_;  // publisher: a request or stopping; Start: progress or failure
  std::deque<Request> queue_ REWIND_GUARDED_BY(mu_);
  bool stopping_ REWIND_GUARDED_BY(mu_) = false;
  Status failed_ REWIND_GUARDED_BY(mu_);
  std::uint64_t mirrored_ REWIND_GUARDED_BY(mu_) = 0;  // the last log sequence stored
  std::uint64_t caught_up_at_ REWIND_GUARDED_BY(mu_) = 0;  // the log's last sequence at Start
  std::unordered_map<RunId, Pending> pending_ REWIND_GUARDED_BY(mu_);
  std::map<std::pair<RunId, std::uint64_t>, Waiter> waiters_ REWIND_GUARDED_BY(mu_);  // by run, first seq
};

}  // namespace rwd::journal_internal
