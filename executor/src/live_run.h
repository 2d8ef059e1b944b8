// LiveRun: the live half of one run inside the engine.
//
// All of a run's work happens on its strand, one thing at a time:
//   * state_   is the fold of the run's durable events;
//   * working_ is state_ plus the events accepted but not yet appended
//     (outcomes of handlers and operators' commands). Every accepted event is
//     evolved into working_ at once, so a request that no longer fits the run
//     is refused with a precise reason, in arrival order. A run that waits
//     with nothing running (a timer, a signal, an approval, or stopped) keeps
//     no working copy: it equals state_ then, and runs in flight are mostly
//     such runs, so they hold one state each, not two.
//   * Drive() appends the accepted events together with what the decider plans
//     from working_, as one journal append (at most one in flight). When it is
//     durable, the same events are applied to state_, handlers of newly
//     started steps are dispatched, and the acks of the accepted events fire.
// A failed append (no room, or the journal is poisoned) fails every pending
// ack and marks the live run broken; the engine then evicts it and later loads
// the run afresh (after a pause when there was no room, else when asked).
//
// Lifecycle: the engine inserts a live run into its map before the live run has
// loaded its run, and queues Load() as the first task of its strand, so every
// later request queues behind the load. Once idle and stopped the live run is
// evicted (on its strand, under the engine's map lock) and refuses further
// work: a request that reaches an evicted live run is retried on a fresh one,
// which loads the run from the journal — exactly the evicted one's state,
// since nothing of it was in flight.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <vector>

#include "rewind/fold/decide.h"
#include "rewind/executor/engine.h"

namespace rwd::engine_internal {


// Called once the accepted event is durable (ok) or can no longer be (error).
using Ack = std::function<void(const Status&)>;

class LiveRun : public std::enable_shared_from_this<LiveRun> {
 public:
  // `state` is the run's durable state (seq 0 for a run being started); with
  // `loaded` false the live run waits for Load() to read it from the journal.
  LiveRun(Engine::Impl& engine, RunState state, std::shared_ptr<const Workflow> workflow, bool loaded = true);

  boost::asio::strand<boost::asio::io_context::executor_type>& strand() { return strand_; }

  // --- Everything below runs on the strand. ---

  // Verifies the run's chain and reads it from the journal, then
  // ResolveAndRecover() when the engine recovers runs by itself, else only
  // Resolve(): a one-shot tool records orphans only as part of a command it
  // accepts (AcceptOrphans), so a refused command appends nothing.
  void Load();
  // Finds the run's handlers if it has none yet.
  void Resolve();
  // The attempts the journal shows running that no handler here runs: the
  // attempts of a process that stopped. A run loaded while running has only
  // such attempts: the engine never forgets a live run that is driving a run.
  std::vector<StepAbandoned> Orphans() const;
  // Accepts a StepAbandoned for each orphan (no-op without handlers).
  void AcceptOrphans();
  // Resolve(), AcceptOrphans(), then drives the run.
  void ResolveAndRecover();

  // What is accepted but not yet appended, to take back a tentative Accept:
  // RollBack(MarkPending()) forgets whatever was accepted after the mark.
  struct Mark {
    std::size_t pending = 0;
    std::optional<RunState> working;
  };
  Mark MarkPending() const;
  void RollBack(Mark mark);
  // Ok once loaded; the load error (NotFound, Corruption) otherwise.
  const Status& load_status() const { return load_status_; }
  bool evicted() const { return evicted_; }
  void set_evicted() { evicted_ = true; }

  const RunState& state() const { return state_; }
  const RunState& working() const { return working_ ? *working_ : state_; }
  bool broken() const { return broken_; }
  // Nothing in flight, queued or scheduled: the engine may forget the live run.
  bool Idle() const;

  // Evolves `event` into working_ and queues it for the next append. Returns
  // the refusal (Evolve's reason, code `refused_code`) without queueing when
  // the event does not fit the run as it will be.
  Status Accept(Event event, Ack ack, Code refused_code = Code::kConflict);

  // Calls `ack` once what is accepted now is durable (or can no longer be);
  // at once when nothing is pending.
  void AckPending(Ack ack);

  // Appends what is queued and planned, if anything and no append is in flight.
  void Drive();

  // Calls `done` with the durable state once the run is stopped (now if it
  // is), or with the reason it stopped being driven (Break: no room, a
  // poisoned journal) while it was not.
  using StoppedCallback = std::function<void(const Result<RunState>&)>;
  void OnStopped(StoppedCallback done);

  // Handlers: the workflow supplying them (set when resolved later).
  const Workflow* workflow() const { return workflow_.get(); }

  // Asks every attempt in flight to stop (cancel, shutdown).
  void StopAttempts();

 private:
  struct Attempt {
    std::uint32_t epoch = 0;
    std::uint32_t attempt = 0;
    std::stop_source stop;
    std::unique_ptr<boost::asio::steady_timer> timeout;
  };

  void OnAppended(Result<AppendResult> result, std::vector<Event> events, std::vector<Ack> acks,
                  std::vector<std::uint32_t> dispatch, std::optional<std::int64_t> wake);
  // Whether the attempt of `step` its StepStarted started still counts: not
  // cancelled or reset meanwhile, and the engine not stopping.
  bool StillCounts(std::uint32_t step) const;
  void Dispatch(std::uint32_t step);
  // A handler returned: its outcome, or the end of a timed-out attempt.
  void OnReturned(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt, Result<Bytes> result);
  void OnOutcome(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt, Result<Bytes> result);
  void ArmTimeout(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt);
  void OnTimeout(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt);
  void ScheduleWake(std::optional<std::int64_t> wake_unix_us);
  void NotifyIfStopped();
  void Break(const Status& cause);
  // working_, made from state_ when there is none.
  RunState& Working();
  // Drops working_ while it equals state_ and nothing will change it soon.
  void DropWorkingIfIdle();

  Engine::Impl& engine_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  RunState state_;
  std::optional<RunState> working_;  // none while it would equal state_
  std::shared_ptr<const Workflow> workflow_;
  std::vector<Event> pending_;
  std::vector<Ack> acks_;
  bool appending_ = false;
  bool broken_ = false;
  bool evicted_ = false;
  std::map<std::uint32_t, Attempt> in_flight_;
  // A timed-out attempt's failure is recorded at once, but its handler may
  // take a while to stop (a command's grace before SIGKILL). Until it has
  // returned, the step's next attempt is durable but not dispatched: two
  // attempts of a step never run at once.
  std::map<std::uint32_t, std::pair<std::uint32_t, std::uint32_t>> timed_out_;  // step → (epoch, attempt)
  std::set<std::uint32_t> held_;  // steps whose started attempt waits for that
  boost::asio::steady_timer wake_;
  std::optional<std::int64_t> wake_at_;
  std::vector<StoppedCallback> waiters_;
  Status load_status_;
};

}  // namespace rwd::engine_internal
