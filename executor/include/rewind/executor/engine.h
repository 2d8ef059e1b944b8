// Engine: runs workflows durably on a journal.
//
// Every transition of a run is an event appended to the journal before it
// takes effect: a step's handler runs only after its StepStarted is durable,
// and a step's dependents start only after its completion is durable. The run
// state is the fold of the run's events (run_state.h); the next actions come
// from the pure decider (decide.h). Handlers run apart from the decisions; all
// decisions of one run are serialized. Step execution is at-least-once: an
// attempt in flight when the process dies is recorded as StepAbandoned on the
// next Open and retried. Handlers receive an idempotency key, one per
// (run, step, epoch), the same for every attempt of the epoch, so the service
// a step calls can deduplicate a retried side effect; a resume starts a new
// epoch and so a new key (StepContext, workflow.h).
//
// Open recovers by itself: runs left running continue (their due retries and
// timers keep their recorded due times). One engine process owns a journal
// for writing; tools read it beside the engine. Before the engine extends a
// run it loads, it verifies the run's history (Journal::VerifyRun): a damaged
// run is Corruption, never written to.
//
// When the journal has no room (a full disk, the map at max_map_bytes) the
// calls that would append fail with ResourceExhausted, and a run whose own
// progress could not be recorded is loaded afresh a second later, and again
// until there is room: runs go on by themselves once space is freed, their
// attempts in flight retried as after a crash. An I/O error poisons the
// journal instead (journal.h): every later append fails with Unavailable and
// runs stop being driven until the engine is opened again.
//
// Every call carries a Principal (tenant, subject, roles). The authorization
// hook decides what it may do; the default lets anyone in a tenant start,
// signal and read runs, and requires the "operator" role to resume, approve,
// reject, pause, cancel and fork. A run of another tenant is NotFound, as if it
// did not exist. A subject longer than kMaxNameBytes, or a tenant that
// ValidateTenant refuses, is InvalidArgument. Refusals are logged.
//
// Threads, and the hops between them:
//   * the caller's thread: an API call posts its work to the run's strand and
//     waits on a future for the answer (and, for a request that appends, for
//     the append to be durable);
//   * the io threads (handler_threads + 1, running one io_context): every
//     run's strand — the fold of its accepted events, decisions (Plan),
//     acceptance of requests and outcomes —, the timers (retries, sleeps,
//     timeouts, revivals) and the step handlers, at most handler_threads of
//     them at once (the rest wait their turn), so one thread always remains
//     for strands and timers. A strand hands appends to the journal
//     (AppendAsync) and never waits for them. A handler is queued on the
//     thread whose strand dispatched it and its outcome on the thread that
//     ran it, so a quick step usually costs no hop between threads;
//   * the journal's writer thread: drains the append queue into one write
//     transaction per group, runs the projections' hook in that transaction
//     (so projections match every acknowledged append), syncs, then calls each
//     append's callback, which posts the result to the run's strand;
//   * the projections' worker (ProjectionsOptions::background): catch-up and
//     rebuilds after Open, through the journal's table updates;
//   * the warden of each shell step's attempt is a process, not a thread
//     (shell_step.h).
// No lock is held across a hop; a run's state is only touched on its strand.
//
// Thread-safety: every method may be called from any thread concurrently.
// Destroying the engine stops new work, asks running handlers to stop (their
// stop_token) and waits for them; what they return then is not recorded and
// the attempt is retried after the next Open.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/executor/workflow.h"
#include "rewind/journal/journal.h"
#include "rewind/projections/projections.h"
#include "rewind/schemas/events.h"

namespace rwd {

inline constexpr std::string_view kOperatorRole = "operator";

struct Principal {
  std::string tenant = "default";
  std::string subject;
  std::vector<std::string> roles;
  bool HasRole(std::string_view role) const;
};

// A tenant's name is non-empty, at most kMaxNameBytes, and printable ASCII
// without spaces ('!' to '~'): it is shown in tables and progress lines and
// will be part of URLs. InvalidArgument saying which rule `tenant` breaks.
// Every call of the engine checks its principal's tenant so, as the tools do
// with the tenants they are given.
Status ValidateTenant(std::string_view tenant);

enum class Action { kStart, kRead, kSignal, kResume, kApprove, kPause, kCancel, kFork };
std::string_view ActionName(Action action);

// Decides whether `who` may do `action` on a run of its own tenant (`run` is null for kStart): Ok or
// PermissionDenied with a reason. Called from any thread, concurrently.
using Authorizer = std::function<Status(const Principal& who, Action action, const RunState* run)>;
Status DefaultAuthorizer(const Principal& who, Action action, const RunState* run);

// Supplies handlers for runs whose workflow was not registered, from the
// definition the run recorded (the CLI runs workflow files whose commands are
// recorded in the steps' config). Returns nullptr when it cannot. May be
// called from any engine thread.
using HandlerResolver = std::function<std::shared_ptr<const Workflow>(const RunStarted& definition)>;

// Called after each durable append of a run, with the events appended and the
// run's state after them. Runs on the run's serialized context: keep it short.
using RunObserver =
    std::function<void(const RunState& state, const std::vector<Event>& appended)>;

struct EngineOptions {
  JournalOptions journal;
  // The read models every append maintains (projections.h): run index and
  // summaries, step statistics, audit index, snapshots (which make StateAt and
  // loading a run cost at most K folds). nullopt: none.
  std::optional<ProjectionsOptions> projections = ProjectionsOptions{};
  std::vector<Workflow> workflows;  // registered before recovery runs
  HandlerResolver resolve;          // for runs of workflows not registered
  unsigned handler_threads = 2;     // step handlers running at once (at least 1)
  // Runs in flight (not stopped) at most; Start waits up to start_wait for room,
  // then fails with Unavailable.
  std::size_t max_active_runs = 10'000;
  // Code steps of one run running at once (0: as many as are ready). With 1 a
  // run executes one step at a time in definition order, so the same fault
  // schedule always records the same events.
  std::uint32_t max_parallel_steps = 0;
  std::chrono::milliseconds start_wait{5'000};
  Authorizer authorize = DefaultAuthorizer;
  // Recover every unfinished run at Open and whenever a workflow is registered
  // (what a service wants). One-shot tools set false: a run whose process
  // stopped is then recovered only by a request on it that is accepted (its
  // attempts in flight recorded abandoned in the same append), or by
  // Recover(); a refused request appends nothing. Other runs are left to the
  // process that serves them.
  bool recover = true;
  // Microseconds since the Unix epoch. Tests drive time through it.
  std::function<std::int64_t()> clock;
  // The ids of new runs (starts without an idempotency key, forks) and of
  // resume requests that name none. Default RunId::New (random); a simulation
  // makes them reproducible. Must not repeat an id.
  std::function<RunId()> new_id;
  RunObserver observer;
  // Called once, from an engine thread, when an append fails because the
  // journal can no longer be written (it is poisoned: an I/O error, or a
  // commit that met data this writer did not write). Runs then stop being
  // driven until the engine is opened again; a server should say so and
  // stop rather than go on idle. Not called for a full disk
  // (ResourceExhausted), from which the engine recovers by itself.
  std::function<void(const Status& cause)> on_journal_failure;
};

struct StartRequest {
  std::string workflow;  // a registered workflow's name
  Bytes input;
  // Optional. Starting again with the same key (same tenant and workflow)
  // returns the run the first call started and appends nothing.
  std::string idempotency_key;
  Principal actor;
};

struct ResumeRequest {
  RunId run;
  // A step id, or a 1-based index in definition order. Empty: the first step
  // that is not completed.
  std::string from_step;
  Principal actor;
  std::string reason;
  // Optional. A request id seen before returns that resume's result and
  // appends nothing.
  std::string request_id;
  Bytes data;                           // handed to handlers as resume_data
  std::optional<std::uint64_t> expected_seq;  // Conflict unless the run is at this seq
  bool dry_run = false;                 // preview only: append nothing
};

struct ResumeResult {
  std::uint32_t from_step = 0;
  std::string from_step_id;
  std::vector<std::string> kept;   // completed steps whose outputs stay memoized
  std::vector<std::string> reset;  // steps that run again with a fresh budget
  std::uint32_t epoch = 0;         // the epoch the resume starts (would start)
  std::uint64_t seq = 0;           // the ResumeRequested's seq (0 for a dry run)
  bool repeated = false;           // the request id was seen before: nothing appended
};

struct ForkRequest {
  RunId run;
  std::string from_step;  // the step the fork re-runs from (id or 1-based index)
  std::optional<std::uint64_t> at_seq;  // the parent's state at this seq (default: now)
  Principal actor;
  // Optional. Forking the same run again with the same id returns the run
  // the first call made and appends nothing (a retry after a lost answer).
  std::string request_id;
};

class Engine {
 public:
  // Opens the journal, registers options.workflows and recovers: runs left
  // running get StepAbandoned for attempts in flight and continue. Errors as
  // Journal::Open, or InvalidArgument for an invalid workflow.
  static Result<std::unique_ptr<Engine>> Open(EngineOptions options);
  // The same on a journal the caller opened for writing (options.journal is
  // not used): for a caller that checks the journal before the engine and
  // its projections touch it, as the rewind CLI verifies the run a command
  // acts on first. FailedPrecondition for a read-only journal.
  static Result<std::unique_ptr<Engine>> Open(std::unique_ptr<Journal> journal, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Registers (or replaces) a workflow by name, and continues runs of it that
  // were waiting for their handlers since Open.
  Status Register(Workflow workflow);

  // Starts a run; returns its id once RunStarted is durable. NotFound for an
  // unknown workflow; Unavailable when max_active_runs stays full.
  Result<RunId> Start(const StartRequest& request);

  // Resume from a step (DESIGN §4). Conflict for a running run or a stale
  // expected_seq; NotFound for an unknown run or step; FailedPrecondition when a
  // dependency of the step is not completed (named); PermissionDenied.
  Result<ResumeResult> Resume(const ResumeRequest& request);

  // A new run whose state is the parent's at the chosen point, resumed from
  // `from_step`; the parent is not touched.
  Result<RunId> Fork(const ForkRequest& request);

  // Decides the approval gate `step` (id or 1-based index) the run is paused at.
  // Idempotent, as a resume's request id: the decision the gate already has in
  // this epoch is Ok and appends nothing, the other one is Conflict.
  // FailedPrecondition when the run is not waiting for that approval and it
  // was not decided (or the step is not an approval); NotFound for an
  // unknown step.
  Status Approve(const RunId& run, std::string_view step, const Principal& actor, Bytes data = {});
  Status Reject(const RunId& run, std::string_view step, const Principal& actor, Bytes data = {});

  // Delivers a signal: completes a signal step waiting for `name`, or is kept
  // until one waits. FailedPrecondition for a finished run.
  Status Signal(const RunId& run, std::string_view name, Bytes payload, const Principal& actor);

  // Pauses a running run (attempts in flight finish; nothing new starts) until
  // it is resumed. Conflict when the run is not running.
  Status Pause(const RunId& run, const Principal& actor, std::string reason);

  // Records a refusal its caller made before reaching the engine (a server
  // refusing a request on another tenant's path, `run_tenant`), as the
  // engine records its own (refusals.h). Returns `why` once recorded.
  Status RecordRefusal(const Principal& who, Action action, std::optional<RunId> run, std::string run_tenant,
                       Status why);

  // Cancels a run that has not finished; attempts in flight are asked to stop
  // and their outcomes are not recorded. Conflict for a finished run.
  Status Cancel(const RunId& run, const Principal& actor, std::string reason);

  // Continues a running run whose driving process stopped, in an engine that
  // does not recover runs by itself (EngineOptions::recover false): its
  // attempts in flight are recorded as abandoned (retried within their
  // budget) and the run is driven. Ok with nothing recorded when it was driven
  // already. FailedPrecondition for a run that is not running (resume it
  // instead); needs the resume permission.
  Status Recover(const RunId& run, const Principal& actor);

  // The run's current state (durable events only), read from the journal: never queued behind the run's work.
  Result<RunState> State(const RunId& run, const Principal& actor);
  // The state after the first `seq` events (time travel).
  Result<RunState> StateAt(const RunId& run, std::uint64_t seq, const Principal& actor);
  // The state right after `step`'s last completion, or right before its first
  // start if it never completed. FailedPrecondition if it never started.
  Result<RunState> StateAtStep(const RunId& run, std::string_view step, const Principal& actor);

  // Waits until the run is stopped (completed, failed, cancelled or paused) and
  // the outcomes of its attempts in flight are recorded (a cancelled run records
  // none), and returns its state then. Unavailable when `timeout` passes; the
  // cause, with "run … stopped being driven", when the engine stops driving the
  // run first (ResourceExhausted: no room to record its progress; Unavailable:
  // the journal was poisoned).
  Result<RunState> Await(const RunId& run, const Principal& actor, std::chrono::milliseconds timeout);

  // The run's events, decoded, from seq 1 (for tools and tests).
  Result<std::vector<Event>> Events(const RunId& run, const Principal& actor);

  // Ok while the engine drives runs (it recovered them as it opened);
  // Unavailable with the cause once its journal can no longer be written
  // (on_journal_failure) or while it stops. A server's readiness.
  Status Health() const;

  Journal& journal();
  // The projections on the journal (queries, health, rebuild); null when
  // EngineOptions::projections was nullopt. Queries are not tenant-checked:
  // callers serving users filter by tenant (RunQuery::tenant).
  Projections* projections();

  // The engine's machinery (executor/src/engine_impl.h); opaque here.
  class Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwd
