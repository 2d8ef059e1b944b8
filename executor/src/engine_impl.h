// Engine::Impl: the engine's shared machinery.
//
// Owns the journal, the registry of workflows, the io_context whose threads
// run the live runs' strands, their timers and (HandlerSlots) the step
// handlers, and the map of live runs (one per run with anything going on).
// Actors are created on demand by loading a run from the journal and are
// forgotten once idle and stopped; the journal is the only source of truth.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>  // std::once_flag
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "executor/src/handler_slots.h"
#include "executor/src/live_run.h"
#include "rewind/base/bounded_cache.h"
#include "rewind/base/mutex.h"
#include "rewind/executor/engine.h"

namespace rwd::engine_internal {

struct Registered {
  std::shared_ptr<const Workflow> workflow;  // shared with the live runs running it: replacing it frees nothing in use
  RunStarted definition;               // without input, tenant or key
};

}  // namespace rwd

namespace rwd {

class Engine::Impl {
 public:
  using Ack = engine_internal::Ack;
  using LiveRun = engine_internal::LiveRun;
  using Registered = engine_internal::Registered;

  explicit Impl(EngineOptions options);
  ~Impl();
  // Opens options.journal, or takes `journal` when given (open for writing).
  Status Open(std::unique_ptr<Journal> journal);

  // --- for live runs ---
  boost::asio::io_context& io() { return io_; }
  Journal& journal() { return *journal_; }
  Projections* projections() { return projections_.get(); }
  std::int64_t Now() const { return options_.clock(); }

  // A refusal of `who`'s `action`, logged and (unless a read) recorded
  // durably (refusals.h); `about` names the run (and its tenant, when known)
  // or the workflow a start named. Refused returns `why` once recorded;
  // RefusedAsync calls `then(why)` then, from the journal's writer thread.
  struct Refusing {
    std::optional<RunId> run;
    std::string run_tenant;
    std::string workflow;
  };
  Status Refused(const Principal& who, Action action, Refusing about, Status why);
  void RefusedAsync(const Principal& who, Action action, Refusing about, Status why,
                    std::function<void(Status)> then);
  std::uint32_t max_parallel_steps() const { return options_.max_parallel_steps; }
  // Runs `work` (a step's handler) when one of handler_threads slots is free.
  void RunHandler(std::function<void()> work);
  // After each durable append of `live` (on its strand).
  void Appended(LiveRun& live, const std::vector<Event>& events);
  // Keeps the count of active runs (on the live's strand).
  void Track(LiveRun& live) REWIND_EXCLUDES(mu_);
  // When `live` may be forgotten (on its strand).
  void MaybeEvict(const std::shared_ptr<LiveRun>& live) REWIND_EXCLUDES(mu_);
  // Loads `run` afresh (recovering it) after a pause, and again while its
  // live stays broken: for a run whose append found no room.
  void ReviveLater(const RunId& run);
  // An append of `run` failed with `cause`: no room (ReviveLater), or a
  // journal that can no longer be written (on_journal_failure, once).
  void AppendFailed(const RunId& run, const Status& cause);
  Mutex health_mu_;
  Status health_ REWIND_GUARDED_BY(health_mu_);  // the journal's failure, once AppendFailed saw it
  bool stopping() const { return stopping_.load(); }
  // EngineOptions::recover: runs are recovered as they load.
  bool recovers() const { return options_.recover; }
  // The run's durable state after `to_seq` events (kEnd: all), from the
  // newest snapshot at or before it plus the events after (without
  // projections: folded from the first event). NotFound for an unknown run
  // or a seq past its end.
  Result<RunState> LoadState(const RunId& run, std::uint64_t to_seq = Journal::kEnd) const;
  // The registered workflow (or the resolver's) whose steps equal the
  // definition's; nullptr if none.
  std::shared_ptr<const Workflow> FindWorkflow(const RunStarted& definition) REWIND_EXCLUDES(mu_);

  // --- the Engine API ---
  Status Register(Workflow workflow) REWIND_EXCLUDES(mu_);
  Result<RunId> Start(const StartRequest& request) REWIND_EXCLUDES(mu_);
  Result<ResumeResult> Resume(const ResumeRequest& request);
  Result<RunId> Fork(const ForkRequest& request) REWIND_EXCLUDES(mu_);
  Status DecideApproval(const RunId& run, std::string_view step, const Principal& live, bool approved,
                        Bytes data);
  Status Signal(const RunId& run, std::string_view name, Bytes payload, const Principal& live);
  Status Pause(const RunId& run, const Principal& live, std::string reason);
  Status Cancel(const RunId& run, const Principal& live, std::string reason);
  Status Recover(const RunId& run, const Principal& live);
  Result<RunState> State(const RunId& run, const Principal& live);
  Result<RunState> StateAt(const RunId& run, std::uint64_t seq, const Principal& live);
  Result<RunState> StateAtStep(const RunId& run, std::string_view step, const Principal& live);
  Result<RunState> Await(const RunId& run, const Principal& live, std::chrono::milliseconds timeout);
  Result<std::vector<Event>> Events(const RunId& run, const Principal& live);

 private:
  // The live live of `run`; a new one is inserted and queued to load first.
  std::shared_ptr<LiveRun> Live(const RunId& run) REWIND_EXCLUDES(mu_);
  // Runs `fn` on the run's live (loaded, not evicted) after checking that
  // `who` is of the run's tenant (NotFound otherwise) and may do `action`
  // (PermissionDenied); refusals are logged. Waits for and returns its result.
  template <typename T>
  Result<T> WithRun(const RunId& run, const Principal& who, Action action, std::function<Result<T>(LiveRun&)> fn);
  // WithRun for a request that appends: `accept` queues events with the given
  // ack (or calls it at once, having nothing to append); waits until they are
  // durable (or refused). Attempts of a process that stopped are recorded
  // abandoned first, and taken back when the request is refused or appends
  // nothing of its own (unless `for_orphans`): a refused request appends
  // nothing.
  Status Submit(const RunId& run, const Principal& who, Action action, std::function<Status(LiveRun&, Ack)> accept,
                bool for_orphans = false);
  // Starts a new run whose first event is `first` (RunStarted or RunForked):
  // waits for room, registers its live, appends. Conflict if it exists.
  Result<RunId> StartNew(const RunId& run, EventBody first, std::shared_ptr<const Workflow> workflow,
                         const Principal& who) REWIND_EXCLUDES(mu_);
  // StartNew under an id derived from a key: the first call starts the run;
  // a repeated one (also while the first is under way) appends nothing and
  // returns the same id once the first has its outcome.
  Result<RunId> StartKeyed(const RunId& run, EventBody first, std::shared_ptr<const Workflow> workflow,
                           const Principal& who) REWIND_EXCLUDES(mu_);
  // Stores the definition `start` begins a run with in the journal (a blob,
  // once per definition and engine) and marks `start` to name it by hash
  // instead of holding it (RunStarted::definition_stored). A definition whose
  // hash is not that of its canonical encoding (none the engine makes; a
  // fork's of a run recorded otherwise) stays in the event: unless
  // `hash_checked` (the hash was computed from these steps), it is checked
  // each time.
  Status StoreDefinition(RunStarted& start, bool hash_checked) REWIND_EXCLUDES(mu_);
  // Waits up to start_wait until fewer than max_active_runs runs are active.
  // `lock` holds mu_. Unavailable when it stays full or the engine stops.
  Status WaitForRoom(MutexLock& lock) REWIND_REQUIRES(mu_);
  // Submits to a run that is being created (no checks: it has no events yet).
  Status SubmitNew(const std::shared_ptr<LiveRun>& live, std::function<Status(LiveRun&, Ack)> accept);
  Status RecoverAll();
  // Resume on the run's live (on its strand): the resume rule, then the
  // ResumeRequested accepted (its ack sets `durable`); a dry run or a repeated
  // request id sets `durable` at once and accepts nothing.
  Result<ResumeResult> ResumeOn(LiveRun& live, const ResumeRequest& request,
                                const std::shared_ptr<std::promise<Status>>& durable);
  // Ok when `who` may read the run (tenant and authorizer): State's checks.
  Status MayRead(const RunId& run, const Principal& who);
  // The run's durable state now: the one cached when the journal's head is
  // still at its seq, else loaded (and cached). NotFound for an unknown run.
  Result<RunState> CurrentState(const RunId& run);

  EngineOptions options_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Projections> projections_;  // on journal_, destroyed before it
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> io_threads_;
  std::optional<engine_internal::HandlerSlots> handlers_;  // on io_
  std::atomic<bool> stopping_{false};
  std::once_flag journal_failed_;
  // The newest durable state CurrentState read of each run: a run's state at
  // a seq never changes, so one whose seq is the run's head is current.
  static constexpr std::size_t kStateCacheBytes = 64 << 20;
  BoundedCache<RunId, std::shared_ptr<const RunState>> states_{kStateCacheBytes};

  Mutex mu_;  // guards what follows
  std::map<std::string, Registered> workflows_ REWIND_GUARDED_BY(mu_);
  std::unordered_map<RunId, std::shared_ptr<LiveRun>> live_ REWIND_GUARDED_BY(mu_);
  std::unordered_map<RunId, bool> counted_ REWIND_GUARDED_BY(mu_);  // runs counted as active
  // Keyed starts in flight: a repeated start waits for the first one's outcome.
  std::unordered_map<RunId, std::shared_future<Status>> starting_ REWIND_GUARDED_BY(mu_);
  std::size_t active_ REWIND_GUARDED_BY(mu_) = 0;
  std::set<std::string> stored_definitions_ REWIND_GUARDED_BY(mu_);  // their hashes
  CondVar room_;  // signalled when active_ drops (and when the engine stops)
};

}  // namespace rwd
