#include "rewind/executor/engine.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "executor/src/engine_impl.h"
#include "rewind/base/log.h"
#include "rewind/base/time.h"
#include "rewind/executor/refusals.h"
#include "rewind/projections/history.h"

namespace rwd {

namespace asio = boost::asio;
using engine_internal::Ack;
using engine_internal::LiveRun;

bool Principal::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kStart: return "start";
    case Action::kRead: return "read";
    case Action::kSignal: return "signal";
    case Action::kResume: return "resume";
    case Action::kApprove: return "approve";
    case Action::kPause: return "pause";
    case Action::kCancel: return "cancel";
    case Action::kFork: return "fork";
  }
  return "unknown";
}

Status ValidateTenant(std::string_view tenant) {
  if (tenant.empty()) return Status(Code::kInvalidArgument, "a tenant's name is empty");
  if (tenant.size() > kMaxNameBytes) {
    return Status(Code::kInvalidArgument, "a tenant's name is at most " + std::to_string(kMaxNameBytes) +
                                              " bytes, not " + std::to_string(tenant.size()));
  }
  for (std::size_t i = 0; i < tenant.size(); ++i) {
    const auto c = static_cast<unsigned char>(tenant[i]);
    if (c < 0x21 || c > 0x7e) {
      return Status(Code::kInvalidArgument, "a tenant's name is printable ASCII without spaces; byte " +
                                                std::to_string(i + 1) + " is not");
    }
  }
  return Status::Ok();
}

Status DefaultAuthorizer(const Principal& who, Action action, const RunState*) {
  switch (action) {
    case Action::kStart:
    case Action::kRead:
    case Action::kSignal:
      return Status::Ok();
    default:
      if (who.HasRole(kOperatorRole)) return Status::Ok();
      return Status(Code::kPermissionDenied, "'" + who.subject + "' needs the operator role to " +
                                                 std::string(ActionName(action)) + " runs");
  }
}

namespace {

// A principal's names are recorded as the actor of its events.
Status CheckPrincipal(const Principal& who) {
  REWIND_RETURN_IF_ERROR(ValidateTenant(who.tenant));
  if (who.subject.size() <= kMaxNameBytes) return Status::Ok();
  return Status(Code::kInvalidArgument, "a principal's subject is at most " + std::to_string(kMaxNameBytes) +
                                            " bytes");
}

}  // namespace


namespace {

RunState NewRunState(const RunId& run) {
  RunState state;
  state.run = run;
  return state;
}

Actor ActorOf(const Principal& who) { return Actor{ActorKind::kUser, who.subject, who.tenant}; }

std::vector<std::string> StepIds(const RunStarted& def, const std::vector<std::uint32_t>& steps) {
  std::vector<std::string> out;
  for (std::uint32_t s : steps) out.push_back(def.steps[s].id);
  return out;
}

// A keyed start always maps to the same run id, so a repeated start finds the
// run instead of needing an index of keys.
// The id of a keyed start, or (with an empty workflow, which no workflow
// has) of a fork with a request id.
RunId KeyedRunId(const std::string& tenant, const std::string& workflow, const std::string& key) {
  const std::string material = tenant + '\0' + workflow + '\0' + key;
  const Hash h = Sha256(AsBytes(material));
  RunId::Bytes bytes{};
  std::copy_n(h.begin(), RunId::kSize, bytes.begin());
  return RunId(bytes);
}

}  // namespace

Engine::Impl::Impl(EngineOptions options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = NowUnixMicros;
  if (!options_.new_id) options_.new_id = RunId::New;
  if (!options_.authorize) options_.authorize = DefaultAuthorizer;
}

Engine::Impl::~Impl() {
  stopping_ = true;
  if (handlers_) handlers_->Close();  // before the attempts running stop and free their slots
  {
    MutexLock lock(mu_);
    for (auto& [run, live] : live_) asio::post(live->strand(), [live] { live->StopAttempts(); });
  }
  room_.NotifyAll();
  if (handlers_) handlers_->Drain();
  work_.reset();
  io_.stop();
  for (auto& t : io_threads_) t.join();
  projections_.reset();  // appends still queued are projected at the next Open
  journal_.reset();      // completes queued appends
}

Status Engine::Impl::Open(std::unique_ptr<Journal> journal) {
  for (Workflow& w : options_.workflows) {
    REWIND_RETURN_IF_ERROR(Register(std::move(w)));  // no journal yet: recovery waits
  }
  options_.workflows.clear();
  if (journal) {
    journal_ = std::move(journal);
  } else {
    REWIND_ASSIGN_OR_RETURN(journal_, Journal::Open(options_.journal));
  }
  if (options_.projections) {
    REWIND_ASSIGN_OR_RETURN(projections_, Projections::Open(*journal_, *options_.projections));
  }
  // Everything a live run may use exists before the first strand task can run.
  // One thread more than handlers may occupy: strands and timers always have one.
  const unsigned slots = std::max(1u, options_.handler_threads);
  handlers_.emplace(io_, slots);
  work_.emplace(io_.get_executor());
  for (unsigned i = 0; i <= slots; ++i) io_threads_.emplace_back([this] { io_.run(); });
  return options_.recover ? RecoverAll() : Status::Ok();
}

void Engine::Impl::RunHandler(std::function<void()> work) { handlers_->Run(std::move(work)); }

void Engine::Impl::Appended(LiveRun& live, const std::vector<Event>& events) {
  Track(live);
  if (options_.observer) options_.observer(live.state(), events);
}

void Engine::Impl::Track(LiveRun& live) {
  const bool running = !live.state().Stopped() && !live.broken();
  MutexLock lock(mu_);
  auto it = counted_.find(live.state().run);
  if (running && it == counted_.end()) {
    counted_.emplace(live.state().run, true);
    ++active_;
  } else if (!running && it != counted_.end()) {
    counted_.erase(it);
    --active_;
    room_.NotifyAll();
  }
}

void Engine::Impl::MaybeEvict(const std::shared_ptr<LiveRun>& live) {
  if (live->evicted() || !live->Idle()) return;
  if (live->load_status().ok() && !live->state().Stopped() && !live->broken()) return;
  if (live->load_status().ok()) Track(*live);
  MutexLock lock(mu_);
  auto it = live_.find(live->state().run);
  if (it != live_.end() && it->second == live) live_.erase(it);
  live->set_evicted();
}

void Engine::Impl::ReviveLater(const RunId& run) {
  constexpr auto kPause = std::chrono::seconds(1);
  auto timer = std::make_shared<asio::steady_timer>(io_, kPause);
  timer->async_wait([this, timer, run](const boost::system::error_code& ec) {
    if (ec || stopping()) return;
    // A fresh live run loads the run and recovers it; the broken one may not be
    // evicted yet (its strand had work queued): then try again later.
    std::shared_ptr<LiveRun> live = Live(run);
    asio::post(live->strand(), [this, live, run] {
      if (live->broken()) ReviveLater(run);
    });
  });
}

void Engine::Impl::AppendFailed(const RunId& run, const Status& cause) {
  if (cause.code() == Code::kResourceExhausted) return ReviveLater(run);
  if (cause.code() != Code::kUnavailable || stopping()) return;
  std::call_once(journal_failed_, [&] {
    {
      MutexLock lock(health_mu_);
      health_ = cause;
    }
    spdlog::critical("journal '{}' can no longer be written: {}; runs are not driven until the engine is opened "
                     "again", options_.journal.directory, cause.message());
    if (options_.on_journal_failure) options_.on_journal_failure(cause);
  });
}

Result<RunState> Engine::Impl::LoadState(const RunId& run, std::uint64_t to_seq) const {
  RunState state;
  state.run = run;
  if (to_seq == 0) return state;
  if (projections_) return projections_->StateAt(run, to_seq);
  std::optional<RunState> out;
  REWIND_RETURN_IF_ERROR(journal_->View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(out, rwd::LoadState(view, nullptr, run, to_seq));
    return Status::Ok();
  }));
  return std::move(*out);
}

std::shared_ptr<const Workflow> Engine::Impl::FindWorkflow(const RunStarted& definition) {
  {
    MutexLock lock(mu_);
    auto it = workflows_.find(definition.workflow);
    if (it != workflows_.end() && it->second.definition.steps == definition.steps) {
      return it->second.workflow;
    }
  }
  return options_.resolve ? options_.resolve(definition) : nullptr;
}

Status Engine::Impl::Register(Workflow workflow) {
  REWIND_ASSIGN_OR_RETURN(RunStarted definition, workflow.Definition());
  const std::string name = workflow.name();
  {
    MutexLock lock(mu_);
    workflows_[name] = Registered{std::make_shared<const Workflow>(std::move(workflow)), std::move(definition)};
  }
  // Runs of this workflow that could not continue at Open continue now.
  return journal_ && options_.recover ? RecoverAll() : Status::Ok();
}

Status Engine::Impl::RecoverAll() {
  // Only the last event of each run is read to skip the runs that are done.
  std::vector<RunId> candidates;
  REWIND_RETURN_IF_ERROR(journal_->ForEachRun([&](const RunId& run, std::uint64_t last_seq) -> Status {
    std::optional<EventBody> last;
    REWIND_RETURN_IF_ERROR(journal_->ReadRun(run, last_seq, last_seq, [&](const EventRecord& r) -> Status {
      REWIND_ASSIGN_OR_RETURN(Event e, Decode(r.payload));
      last = std::move(e.body);
      return Status::Ok();
    }));
    if (last && (std::holds_alternative<RunCompleted>(*last) || std::holds_alternative<RunFailed>(*last) ||
                 std::holds_alternative<RunCancelled>(*last))) {
      return Status::Ok();
    }
    candidates.push_back(run);
    return Status::Ok();
  }));
  // A new live run recovers as it loads; one loaded earlier without handlers
  // (its workflow was registered only now) recovers when asked again.
  for (const RunId& run : candidates) {
    std::shared_ptr<LiveRun> live = Live(run);
    asio::post(live->strand(), [live] { live->ResolveAndRecover(); });
  }
  return Status::Ok();
}

std::shared_ptr<LiveRun> Engine::Impl::Live(const RunId& run) {
  MutexLock lock(mu_);
  if (auto it = live_.find(run); it != live_.end()) return it->second;
  RunState empty;
  empty.run = run;
  auto live = std::make_shared<LiveRun>(*this, std::move(empty), nullptr, /*loaded=*/false);
  live_.emplace(run, live);
  // Queued while the map is locked: no request can reach the strand before it.
  asio::post(live->strand(), [live] { live->Load(); });
  return live;
}

void Engine::Impl::RefusedAsync(const Principal& who, Action action, Refusing about, Status why,
                                std::function<void(Status)> then) {
  spdlog::warn("refused {} of {} by subject='{}' tenant='{}': {}", ActionName(action),
               about.run ? "run=" + about.run->ToString() : "workflow='" + about.workflow + "'", who.subject,
               who.tenant, why.message());
  if (action == Action::kRead) return then(std::move(why));
  auto table = journal_->OpenTable(kRefusalsTable);
  if (!table.has_value()) {
    spdlog::error("the refusal above is not recorded: {}", table.error().ToString());
    return then(std::move(why));
  }
  Refusal r{.unix_us = Now(),
            .subject = who.subject,
            .actor_tenant = who.tenant,
            .action = std::string(ActionName(action)),
            .run = about.run,
            .run_tenant = std::move(about.run_tenant),
            .workflow = std::move(about.workflow),
            .reason = why.message()};
  journal_->UpdateAsync([table = *table, r = std::move(r)](WriteView& txn) { return AppendRefusal(txn, table, r); },
                        [why = std::move(why), then = std::move(then)](const Status& recorded) mutable {
                          if (!recorded.ok()) spdlog::error("the refusal above is not recorded: {}", recorded.ToString());
                          then(std::move(why));
                        });
}

Status Engine::Impl::Refused(const Principal& who, Action action, Refusing about, Status why) {
  std::promise<Status> done;
  RefusedAsync(who, action, std::move(about), std::move(why), [&done](Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

template <typename T>
Result<T> Engine::Impl::WithRun(const RunId& run, const Principal& who, Action action,
                           std::function<Result<T>(LiveRun&)> fn) {
  if (Status s = CheckPrincipal(who); !s.ok()) return Err(Refused(who, action, {.run = run}, std::move(s)));
  // A live run evicted between lookup and its turn on the strand sends us back
  // for a fresh one; that can only happen a few times in a row.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::shared_ptr<LiveRun> live = Live(run);
    auto done = std::make_shared<std::promise<std::optional<Result<T>>>>();
    auto future = done->get_future();
    asio::post(live->strand(), [&, live, done] {
      if (live->evicted()) return done->set_value(std::nullopt);
      Status verdict = live->load_status();
      if (verdict.ok() && !live->state().definition) {  // a run still being started
        verdict = Status(Code::kNotFound, "run " + run.ToString() + " is unknown");
      }
      if (verdict.ok() && live->state().definition->tenant != who.tenant) {
        verdict = Status(Code::kNotFound, "run " + run.ToString() + " is unknown");
      }
      if (verdict.ok()) verdict = options_.authorize(who, action, &live->state());
      // A refusal of the rules is recorded; a run that cannot be loaded (an
      // unknown one, or a damaged history, which no write may spread) is not.
      if (!verdict.ok() && live->load_status().ok()) {
        // Recorded before the caller hears of it; the strand goes on meanwhile.
        const RunState& state = live->state();
        RefusedAsync(who, action, {.run = run, .run_tenant = state.definition ? state.definition->tenant : ""},
                     std::move(verdict), [done](Status why) { done->set_value(Result<T>(Err(std::move(why)))); });
      } else if (!verdict.ok()) {
        done->set_value(Result<T>(Err(std::move(verdict))));
      } else {
        done->set_value(fn(*live));
      }
      MaybeEvict(live);
    });
    if (std::optional<Result<T>> result = future.get()) return std::move(*result);
  }
  return Err(Code::kInternal, "run " + run.ToString() + " kept being unloaded");
}

namespace {

// What a resume of a run with definition `def` does, as ids (seq left at 0).
ResumeResult ResultOf(const RunStarted& def, const ResumePlan& plan) {
  return ResumeResult{plan.from, def.steps[plan.from].id, StepIds(def, plan.kept), StepIds(def, plan.reset),
                      plan.epoch, 0, false};
}

// A process that lacks a run's handlers must not make it continue: its code
// steps would fail for want of a handler. It may still pause or cancel it.
Status CanDrive(const LiveRun& a) {
  if (a.workflow() != nullptr) return Status::Ok();
  for (const StepDef& step : a.state().definition->steps) {
    if (step.kind == StepKind::kCode) {
      return Status(Code::kFailedPrecondition,
                    "this process has no handlers for workflow '" + a.state().definition->workflow +
                        "' (version " + std::to_string(a.state().definition->version) +
                        "); continue run " + a.state().run.ToString() + " where that workflow is registered");
    }
  }
  return Status::Ok();
}

}  // namespace

Status Engine::Impl::Submit(const RunId& run, const Principal& who, Action action,
                       std::function<Status(LiveRun&, Ack)> accept, bool for_orphans) {
  auto durable = std::make_shared<std::promise<Status>>();
  auto future = durable->get_future();
  const Result<bool> accepted = WithRun<bool>(run, who, action, [&](LiveRun& a) -> Result<bool> {
    if (action != Action::kPause && action != Action::kCancel) REWIND_RETURN_IF_ERROR(CanDrive(a));
    // Attempts of a process that stopped are recorded abandoned before the
    // request is judged (a cancelled run needs no such record); all of it is
    // taken back if the request is refused, which so appends nothing.
    LiveRun::Mark mark = a.MarkPending();
    if (action != Action::kCancel) a.AcceptOrphans();
    const std::size_t orphans_end = a.MarkPending().pending;
    Status s = accept(a, [durable](const Status& st) { durable->set_value(st); });
    // A request that accepted nothing of its own (a repeated decision) has
    // nothing to record either, unless the orphans are what it is for.
    if (!s.ok() || (!for_orphans && a.MarkPending().pending == orphans_end)) a.RollBack(std::move(mark));
    a.Drive();
    if (!s.ok()) return Err(std::move(s));
    return true;
  });
  if (!accepted.has_value()) return accepted.error();
  return future.get();
}

Status Engine::Impl::SubmitNew(const std::shared_ptr<LiveRun>& live, std::function<Status(LiveRun&, Ack)> accept) {
  auto durable = std::make_shared<std::promise<Status>>();
  auto future = durable->get_future();
  asio::post(live->strand(), [live, accept = std::move(accept), durable] {
    Status s = accept(*live, [durable](const Status& st) { durable->set_value(st); });
    if (!s.ok()) durable->set_value(s);
    live->Drive();
  });
  return future.get();
}

Result<RunId> Engine::Impl::Start(const StartRequest& request) {
  Status s = CheckPrincipal(request.actor);
  if (s.ok()) s = options_.authorize(request.actor, Action::kStart, nullptr);
  if (!s.ok()) {
    return Err(Refused(request.actor, Action::kStart, {.workflow = request.workflow}, std::move(s)));
  }
  RunStarted started;
  std::shared_ptr<const Workflow> workflow;
  {
    MutexLock lock(mu_);
    auto it = workflows_.find(request.workflow);
    if (it == workflows_.end()) return Err(Code::kNotFound, "workflow '" + request.workflow + "' is not registered");
    started = it->second.definition;
    workflow = it->second.workflow;
  }
  started.input = request.input;
  started.tenant = request.actor.tenant;
  started.idempotency_key = request.idempotency_key;
  const RunId run = request.idempotency_key.empty()
                        ? options_.new_id()
                        : KeyedRunId(request.actor.tenant, request.workflow, request.idempotency_key);
  if (request.idempotency_key.empty()) return StartNew(run, std::move(started), std::move(workflow), request.actor);
  return StartKeyed(run, std::move(started), std::move(workflow), request.actor);
}

Result<RunId> Engine::Impl::StartKeyed(const RunId& run, EventBody first_event, std::shared_ptr<const Workflow> workflow,
                                       const Principal& who) {
  std::promise<Status> first;
  std::shared_future<Status> earlier;
  {
    MutexLock lock(mu_);
    if (auto it = starting_.find(run); it != starting_.end()) {
      earlier = it->second;
    } else {
      starting_.emplace(run, first.get_future().share());
    }
  }
  if (earlier.valid()) {
    REWIND_RETURN_IF_ERROR(earlier.get());
    return run;
  }
  Result<RunId> result = run;
  if (!journal_->Head(run).has_value()) {  // not started before
    result = StartNew(run, std::move(first_event), std::move(workflow), who);
    // A keyed run that finished and was forgotten between the check and the
    // append makes the append a Conflict: it was started before after all.
    if (!result.has_value() && result.error().code() == Code::kConflict && journal_->Head(run).has_value()) {
      result = run;
    }
  }
  first.set_value(internal::StatusOf(result));
  MutexLock lock(mu_);
  starting_.erase(run);
  return result;
}

Status Engine::Impl::WaitForRoom(MutexLock& lock) {
  const auto deadline = std::chrono::steady_clock::now() + options_.start_wait;
  while (active_ >= options_.max_active_runs && !stopping_) {
    if (!lock.WaitUntil(room_, deadline)) break;
  }
  if (active_ >= options_.max_active_runs || stopping_) {
    return Status(Code::kUnavailable,
                  "the engine is at its limit of " + std::to_string(options_.max_active_runs) + " active runs");
  }
  return Status::Ok();
}

Status Engine::Impl::StoreDefinition(RunStarted& start, bool hash_checked) {
  if (start.definition_hash.size() != Hash{}.size()) return Status::Ok();
  const std::string key(start.definition_hash.begin(), start.definition_hash.end());
  if (hash_checked) {
    MutexLock lock(mu_);
    if (stored_definitions_.contains(key)) {
      start.definition_stored = true;
      return Status::Ok();
    }
  }
  const Bytes canonical = EncodeDefinition(start);
  const Hash hash = Sha256(canonical);
  if (!std::equal(hash.begin(), hash.end(), start.definition_hash.begin())) return Status::Ok();
  REWIND_RETURN_IF_ERROR(journal_->PutBlob(canonical));
  MutexLock lock(mu_);
  stored_definitions_.insert(key);
  start.definition_stored = true;
  return Status::Ok();
}

Result<RunId> Engine::Impl::StartNew(const RunId& run, EventBody first, std::shared_ptr<const Workflow> workflow,
                                const Principal& who) {
  // A start's definition is a registered workflow's, its hash computed from
  // its steps; a fork's is as a run recorded it, checked again.
  if (auto* start = std::get_if<RunStarted>(&first); start != nullptr) {
    REWIND_RETURN_IF_ERROR(StoreDefinition(*start, /*hash_checked=*/true));
  } else if (auto* fork = std::get_if<RunForked>(&first); fork != nullptr) {
    REWIND_RETURN_IF_ERROR(StoreDefinition(fork->start, /*hash_checked=*/false));
  }
  auto live = std::make_shared<LiveRun>(*this, NewRunState(run), std::move(workflow));
  {
    MutexLock lock(mu_);
    REWIND_RETURN_IF_ERROR(WaitForRoom(lock));
    if (!live_.emplace(run, live).second) {
      return Err(Code::kConflict, "run " + run.ToString() + " exists already");
    }
    if (counted_.emplace(run, true).second) ++active_;
  }
  REWIND_RETURN_IF_ERROR(SubmitNew(live, [&](LiveRun& a, Ack ack) {
    return a.Accept(Event{Now(), ActorOf(who), kSchemaVersion, std::move(first)}, std::move(ack));
  }));
  return run;
}

Result<ResumeResult> Engine::Impl::Resume(const ResumeRequest& request) {
  auto durable = std::make_shared<std::promise<Status>>();
  auto appended = durable->get_future();
  const Result<ResumeResult> result = WithRun<ResumeResult>(
      request.run, request.actor, Action::kResume, [&](LiveRun& live) -> Result<ResumeResult> {
        // A step of a process that stopped is no longer running: recorded
        // abandoned first, and taken back unless the resume is appended.
        LiveRun::Mark mark = live.MarkPending();
        live.AcceptOrphans();
        Result<ResumeResult> out = ResumeOn(live, request, durable);
        if (!out.has_value() || request.dry_run || out->repeated) live.RollBack(std::move(mark));
        if (out.has_value() && !request.dry_run && !out->repeated) live.Drive();
        return out;
      });
  if (!result.has_value()) return result;
  REWIND_RETURN_IF_ERROR(appended.get());
  spdlog::info("run={} resumed from step='{}' by subject='{}' epoch={}{}", request.run.ToString(),
               result->from_step_id, request.actor.subject, result->epoch,
               request.dry_run ? " (dry run)" : result->repeated ? " (repeated request)" : "");
  return result;
}

Result<ResumeResult> Engine::Impl::ResumeOn(LiveRun& live, const ResumeRequest& request,
                                       const std::shared_ptr<std::promise<Status>>& durable) {
  const RunState& w = live.working();
  const RunStarted& def = *w.definition;
  if (!request.dry_run) REWIND_RETURN_IF_ERROR(CanDrive(live));
  if (!request.request_id.empty()) {
    for (const ResumeRecord& r : w.resumes) {
      if (r.request_id != request.request_id) continue;
      // The first result, recomputed from the state right before that resume.
      durable->set_value(Status::Ok());
      REWIND_ASSIGN_OR_RETURN(RunState before, LoadState(w.run, r.seq - 1));
      ResumeResult first = ResultOf(def, PlanResume(before, r.from_step));
      first.seq = r.seq;
      first.repeated = true;
      return first;
    }
  }
  REWIND_ASSIGN_OR_RETURN(ResumePlan plan, AdmitResume(w, request.from_step, request.expected_seq));
  const std::uint32_t from = plan.from;
  ResumeResult out = ResultOf(def, plan);
  if (request.dry_run) {
    durable->set_value(Status::Ok());
    return out;
  }
  const std::string request_id = request.request_id.empty() ? options_.new_id().ToString() : request.request_id;
  REWIND_RETURN_IF_ERROR(live.Accept(
      Event{Now(), ActorOf(request.actor), kSchemaVersion,
            ResumeRequested{from, request.reason, request_id, request.data}},
      [durable](const Status& st) { durable->set_value(st); }));
  out.seq = live.working().seq;
  return out;
}

Result<RunId> Engine::Impl::Fork(const ForkRequest& request) {
  REWIND_ASSIGN_OR_RETURN(RunState at, StateAt(request.run, request.at_seq.value_or(Journal::kEnd), request.actor));
  if (Status s = options_.authorize(request.actor, Action::kFork, &at); !s.ok()) {
    return Err(Refused(request.actor, Action::kFork, {.run = request.run, .run_tenant = at.definition->tenant},
                       std::move(s)));
  }
  const RunStarted& def = *at.definition;
  REWIND_ASSIGN_OR_RETURN(std::uint32_t from, ResolveStep(def, request.from_step));
  for (std::uint32_t dep : def.steps[from].depends_on) {
    if (at.steps[dep].status != StepStatus::kCompleted) {
      return Err(Code::kFailedPrecondition, "step '" + def.steps[from].id + "' depends on step '" +
                                                def.steps[dep].id + "', which had not completed at seq " +
                                                std::to_string(at.seq));
    }
  }
  const std::vector<std::uint32_t> reset = ResetSet(at, from);
  RunForked fork{request.run, at.seq, from, def, {}};
  for (std::uint32_t i = 0; i < at.steps.size(); ++i) {
    if (!std::binary_search(reset.begin(), reset.end(), i)) fork.kept.push_back(StepOutput{i, at.steps[i].output});
  }
  std::shared_ptr<const Workflow> workflow = FindWorkflow(def);
  if (workflow == nullptr) {
    return Err(Code::kFailedPrecondition, "this process has no handlers for workflow '" + def.workflow +
                                              "'; fork run " + request.run.ToString() + " where it is registered");
  }
  const RunId id = request.request_id.empty()
                      ? options_.new_id()
                      : KeyedRunId(request.actor.tenant, "", "fork\0" + request.run.ToString() + '\0' + request.request_id);
  REWIND_ASSIGN_OR_RETURN(const RunId run, request.request_id.empty()
                                               ? StartNew(id, std::move(fork), std::move(workflow), request.actor)
                                               : StartKeyed(id, std::move(fork), std::move(workflow), request.actor));
  spdlog::info("run={} forked from run={} seq={} at step='{}' by subject='{}'", run.ToString(),
               request.run.ToString(), at.seq, def.steps[from].id, request.actor.subject);
  return run;
}

Status Engine::Impl::DecideApproval(const RunId& run, std::string_view step, const Principal& who, bool approved,
                               Bytes data) {
  return Submit(run, who, Action::kApprove, [&](LiveRun& a, Ack ack) -> Status {
    const RunState& w = a.working();
    REWIND_ASSIGN_OR_RETURN(std::uint32_t index, ResolveStep(*w.definition, step));
    const std::string& id = w.definition->steps[index].id;
    if (w.definition->steps[index].kind != StepKind::kApproval) {
      return Status(Code::kFailedPrecondition, "step '" + id + "' of run " + run.ToString() + " is not an approval");
    }
    if (w.status != RunStatus::kPaused || w.paused_step != index) {
      // Decided already in this epoch: the same decision again is done (as a
      // repeated resume request id is), the other one is a conflict.
      const StepState& gate = w.steps[index];
      const bool was_approved = gate.status == StepStatus::kCompleted;
      if (was_approved || (gate.status == StepStatus::kFailed && gate.error_code == "rejected")) {
        if (was_approved != approved) {
          return Status(Code::kConflict, "step '" + id + "' of run " + run.ToString() + " was " +
                                             (was_approved ? "approved" : "rejected") + " already");
        }
        ack(Status::Ok());
        return Status::Ok();
      }
      return Status(Code::kFailedPrecondition,
                    "run " + run.ToString() + " is not waiting for approval of step '" + id + "'");
    }
    return a.Accept(Event{Now(), ActorOf(who), kSchemaVersion, ApprovalDecided{index, approved, std::move(data)}},
                    std::move(ack), Code::kFailedPrecondition);
  });
}

Status Engine::Impl::Signal(const RunId& run, std::string_view name, Bytes payload, const Principal& who) {
  return Submit(run, who, Action::kSignal, [&](LiveRun& a, Ack ack) {
    return a.Accept(Event{Now(), ActorOf(who), kSchemaVersion, SignalReceived{std::string(name), std::move(payload)}},
                    std::move(ack), Code::kFailedPrecondition);
  });
}

Status Engine::Impl::Pause(const RunId& run, const Principal& who, std::string reason) {
  return Submit(run, who, Action::kPause, [&](LiveRun& a, Ack ack) {
    return a.Accept(Event{Now(), ActorOf(who), kSchemaVersion, RunPaused{kNoStep, PauseReason::kManual, reason}},
                    std::move(ack));
  });
}

Status Engine::Impl::Cancel(const RunId& run, const Principal& who, std::string reason) {
  return Submit(run, who, Action::kCancel, [&](LiveRun& a, Ack ack) -> Status {
    REWIND_RETURN_IF_ERROR(
        a.Accept(Event{Now(), ActorOf(who), kSchemaVersion, CancelRequested{reason}}, [](const Status&) {}));
    REWIND_RETURN_IF_ERROR(a.Accept(Event{Now(), std::nullopt, kSchemaVersion, RunCancelled{reason}}, std::move(ack)));
    a.StopAttempts();
    return Status::Ok();
  });
}

Status Engine::Impl::Recover(const RunId& run, const Principal& who) {
  // Submit records the attempts of a process that stopped as abandoned and
  // drives the run; there is nothing else to accept.
  return Submit(run, who, Action::kResume, [&](LiveRun& a, Ack ack) -> Status {
    if (a.working().Stopped()) {
      return Status(Code::kFailedPrecondition, "run " + run.ToString() + " is " +
                                                   std::string(RunStatusName(a.working().status)) +
                                                   ", not running: resume it to continue it");
    }
    a.AckPending(std::move(ack));  // the abandoned attempts, once durable
    return Status::Ok();
  }, /*for_orphans=*/true);
}

Result<RunState> Engine::Impl::State(const RunId& run, const Principal& who) {
  // The durable state is the journal's: read on the caller's thread, never
  // queued behind the run's work on its strand. An event is acknowledged only
  // once committed, so a reader sees every write acknowledged before it began.
  if (Status s = CheckPrincipal(who); !s.ok()) return Err(Refused(who, Action::kRead, {.run = run}, std::move(s)));
  REWIND_ASSIGN_OR_RETURN(RunState state, CurrentState(run));
  if (!state.definition || state.definition->tenant != who.tenant) {
    return Err(Refused(who, Action::kRead, {.run = run}, Status(Code::kNotFound, "run " + run.ToString() + " is unknown")));
  }
  if (Status verdict = options_.authorize(who, Action::kRead, &state); !verdict.ok()) {
    return Err(Refused(who, Action::kRead, {.run = run, .run_tenant = state.definition->tenant}, std::move(verdict)));
  }
  return state;
}

namespace {

// About the memory a state holds, for the cache's budget.
std::size_t FootprintOf(const RunState& s) {
  std::size_t bytes = sizeof(RunState) + s.steps.size() * sizeof(StepState) + s.output.size() +
                      s.resumes.size() * sizeof(ResumeRecord) + s.error_message.size();
  for (const StepState& step : s.steps) bytes += step.output.size() + step.error_message.size();
  return bytes;
}

}  // namespace

Result<RunState> Engine::Impl::CurrentState(const RunId& run) {
  auto head = journal_->Head(run);
  if (!head.has_value()) {
    if (head.error().code() == Code::kNotFound) return Err(Code::kNotFound, "run " + run.ToString() + " is unknown");
    return Err(head.error());
  }
  if (auto known = states_.Find(run); known && (*known)->seq == head->seq) return **known;
  REWIND_ASSIGN_OR_RETURN(RunState state, LoadState(run));
  auto shared = std::make_shared<const RunState>(std::move(state));
  states_.Put(run, shared, FootprintOf(*shared));
  return *shared;
}

Status Engine::Impl::MayRead(const RunId& run, const Principal& who) { return internal::StatusOf(State(run, who)); }

Result<RunState> Engine::Impl::StateAt(const RunId& run, std::uint64_t seq, const Principal& who) {
  if (seq == 0) return Err(Code::kInvalidArgument, "seq counts events from 1: there is no state at seq 0");
  REWIND_RETURN_IF_ERROR(MayRead(run, who));
  return LoadState(run, seq);
}

Result<RunState> Engine::Impl::StateAtStep(const RunId& run, std::string_view step, const Principal& who) {
  REWIND_RETURN_IF_ERROR(MayRead(run, who));
  REWIND_ASSIGN_OR_RETURN(const RunHistory history, RunHistory::Read(*journal_, run));
  REWIND_ASSIGN_OR_RETURN(const std::uint64_t seq, history.SeqAtStep(step));
  return history.StateAt(seq);
}

Result<RunState> Engine::Impl::Await(const RunId& run, const Principal& who, std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<Result<RunState>>>();
  auto future = done->get_future();
  REWIND_RETURN_IF_ERROR(WithRun<bool>(run, who, Action::kRead, [done](LiveRun& a) -> Result<bool> {
    a.OnStopped([done](const Result<RunState>& s) { done->set_value(s); });
    return true;
  }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Err(Code::kUnavailable, "run " + run.ToString() + " is still running after " +
                                       std::to_string(timeout.count()) + " ms");
  }
  return future.get();
}

Result<std::vector<Event>> Engine::Impl::Events(const RunId& run, const Principal& who) {
  REWIND_RETURN_IF_ERROR(MayRead(run, who));
  REWIND_ASSIGN_OR_RETURN(RunHistory history, RunHistory::Read(*journal_, run));
  return std::move(history).TakeEvents();
}


// ---------------------------------------------------------------- Engine


Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(EngineOptions options) { return Open(nullptr, std::move(options)); }

Result<std::unique_ptr<Engine>> Engine::Open(std::unique_ptr<Journal> journal, EngineOptions options) {
  if (journal && journal->options().read_only) {
    return Err(Code::kFailedPrecondition, "the engine needs a journal open for writing, not read-only");
  }
  PrepareLogging();
  auto impl = std::make_unique<Impl>(std::move(options));
  REWIND_RETURN_IF_ERROR(impl->Open(std::move(journal)));
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Status Engine::Register(Workflow workflow) { return impl_->Register(std::move(workflow)); }
Result<RunId> Engine::Start(const StartRequest& request) { return impl_->Start(request); }
Result<ResumeResult> Engine::Resume(const ResumeRequest& request) { return impl_->Resume(request); }
Result<RunId> Engine::Fork(const ForkRequest& request) { return impl_->Fork(request); }
Status Engine::Approve(const RunId& run, std::string_view step, const Principal& live, Bytes data) {
  return impl_->DecideApproval(run, step, live, true, std::move(data));
}
Status Engine::Reject(const RunId& run, std::string_view step, const Principal& live, Bytes data) {
  return impl_->DecideApproval(run, step, live, false, std::move(data));
}
Status Engine::Signal(const RunId& run, std::string_view name, Bytes payload, const Principal& live) {
  return impl_->Signal(run, name, std::move(payload), live);
}
Status Engine::Health() const {
  if (impl_->stopping()) return Status(Code::kUnavailable, "the engine is stopping");
  MutexLock lock(impl_->health_mu_);
  return impl_->health_.ok() ? Status::Ok()
                             : impl_->health_.WithContext("runs are not driven: the journal can no longer be written");
}

Status Engine::RecordRefusal(const Principal& who, Action action, std::optional<RunId> run, std::string run_tenant,
                             Status why) {
  return impl_->Refused(who, action, {.run = run, .run_tenant = std::move(run_tenant)}, std::move(why));
}

Status Engine::Pause(const RunId& run, const Principal& live, std::string reason) {
  return impl_->Pause(run, live, std::move(reason));
}
Status Engine::Cancel(const RunId& run, const Principal& live, std::string reason) {
  return impl_->Cancel(run, live, std::move(reason));
}
Status Engine::Recover(const RunId& run, const Principal& live) { return impl_->Recover(run, live); }
Result<RunState> Engine::State(const RunId& run, const Principal& live) { return impl_->State(run, live); }
Projections* Engine::projections() { return impl_->projections(); }

Result<RunState> Engine::StateAt(const RunId& run, std::uint64_t seq, const Principal& live) {
  return impl_->StateAt(run, seq, live);
}
Result<RunState> Engine::StateAtStep(const RunId& run, std::string_view step, const Principal& live) {
  return impl_->StateAtStep(run, step, live);
}
Result<RunState> Engine::Await(const RunId& run, const Principal& live, std::chrono::milliseconds timeout) {
  return impl_->Await(run, live, timeout);
}
Result<std::vector<Event>> Engine::Events(const RunId& run, const Principal& live) {
  return impl_->Events(run, live);
}
Journal& Engine::journal() { return impl_->journal(); }

}  // namespace rwd
