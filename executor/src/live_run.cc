#include "executor/src/live_run.h"

#include <boost/asio/defer.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <exception>

#include "executor/src/engine_impl.h"

namespace rwd::engine_internal {

namespace asio = boost::asio;

LiveRun::LiveRun(Engine::Impl& engine, RunState state, std::shared_ptr<const Workflow> workflow, bool loaded)
    : engine_(engine),
      strand_(asio::make_strand(engine.io())),
      state_(std::move(state)),
      workflow_(std::move(workflow)),
      wake_(strand_),
      load_status_(loaded ? Status::Ok() : Status(Code::kUnavailable, "not loaded yet")) {}

void LiveRun::Load() {
  // A run this engine will extend must have an intact history: a writer never
  // buries damage under new events. Only the runs an engine touches are
  // checked, so the cost is the run's, not the journal's.
  if (auto verified = engine_.journal().VerifyRun(state_.run); !verified.has_value()) {
    load_status_ = verified.error();
    return;
  }
  auto loaded = engine_.LoadState(state_.run);
  if (!loaded.has_value()) {
    load_status_ = loaded.error();
    return;
  }
  state_ = std::move(*loaded);
  working_.reset();
  load_status_ = Status::Ok();
  engine_.Track(*this);
  if (engine_.recovers()) {
    ResolveAndRecover();
  } else {
    Resolve();
  }
}

void LiveRun::Resolve() {
  if (!load_status_.ok() || broken_ || evicted_ || !state_.definition) return;
  if (!workflow_) workflow_ = engine_.FindWorkflow(*state_.definition);
}

std::vector<StepAbandoned> LiveRun::Orphans() const {
  // An orphan is an attempt the journal records as started that no handler
  // here runs. Only durable starts count: a StepStarted still being appended
  // is dispatched when it is durable (recovery can run again meanwhile, when
  // a workflow is registered), and one already abandoned is not again.
  std::vector<StepAbandoned> orphans;
  if (!load_status_.ok() || !state_.definition) return orphans;
  const RunState& working = this->working();
  for (std::uint32_t i = 0; i < state_.steps.size(); ++i) {
    const StepState& durable = state_.steps[i];
    const StepState& s = working.steps[i];
    if (durable.status == StepStatus::kRunning && s.status == StepStatus::kRunning &&
        s.attempts == durable.attempts && s.epoch == durable.epoch && in_flight_.count(i) == 0 &&
        held_.count(i) == 0) {
      orphans.push_back(StepAbandoned{i, s.attempts, s.epoch});
    }
  }
  return orphans;
}

void LiveRun::AcceptOrphans() {
  if (!workflow_) return;  // without handlers nothing could run the retry
  for (const StepAbandoned& a : Orphans()) {
    spdlog::info("run={} step={} attempt={} was in flight when its process stopped; retrying",
                 state_.run.ToString(), state_.definition->steps[a.step].id, a.attempt);
    (void)Accept(Event{engine_.Now(), std::nullopt, kSchemaVersion, a}, [](const Status&) {});
  }
}

void LiveRun::ResolveAndRecover() {
  Resolve();
  if (!load_status_.ok() || broken_ || evicted_ || !state_.definition || !workflow_) return;
  const bool orphans = !Orphans().empty();
  AcceptOrphans();
  // A stopped run with nothing to record needs no driving; driving it would
  // let it be forgotten before the requests queued behind its load.
  if (!orphans && state_.Stopped()) return;
  Drive();
}

LiveRun::Mark LiveRun::MarkPending() const { return Mark{pending_.size(), working_}; }

void LiveRun::RollBack(Mark mark) {
  pending_.resize(mark.pending);
  acks_.resize(mark.pending);
  working_ = std::move(mark.working);
  DropWorkingIfIdle();
}

bool LiveRun::Idle() const {
  return !appending_ && pending_.empty() && in_flight_.empty() && timed_out_.empty() && held_.empty() &&
         waiters_.empty() && !wake_at_;
}


Status LiveRun::Accept(Event event, Ack ack, Code refused_code) {
  if (broken_) return Status(Code::kUnavailable, "run " + state_.run.ToString() + " cannot be written now");
  if (Status s = Evolve(Working(), event); !s.ok()) {
    DropWorkingIfIdle();  // a refusal changes nothing
    // Evolve explains in terms of the journal ("seq 12: ..."); the caller asked
    // for something the run no longer allows.
    return Status(refused_code, s.message());
  }
  pending_.push_back(std::move(event));
  acks_.push_back(std::move(ack));
  return Status::Ok();
}

void LiveRun::AckPending(Ack ack) {
  if (pending_.empty()) return ack(Status::Ok());
  acks_.back() = [earlier = std::move(acks_.back()), ack = std::move(ack)](const Status& s) {
    earlier(s);
    ack(s);
  };
}

void LiveRun::Drive() {
  if (appending_ || broken_ || engine_.stopping()) return;
  const std::int64_t now = engine_.Now();
  auto plan = Plan(Working(), now, engine_.max_parallel_steps());
  if (!plan.has_value()) return Break(plan.error());
  std::vector<Event> events = std::move(pending_);
  pending_.clear();
  for (EventBody& body : plan->events) events.push_back(Event{now, std::nullopt, kSchemaVersion, std::move(body)});
  if (events.empty()) {
    DropWorkingIfIdle();
    ScheduleWake(plan->wake_unix_us);
    NotifyIfStopped();
    engine_.MaybeEvict(shared_from_this());
    return;
  }
  std::vector<Bytes> payloads;
  payloads.reserve(events.size());
  for (const Event& e : events) payloads.push_back(Encode(e));
  appending_ = true;
  engine_.journal().AppendAsync(
      state_.run, state_.seq, std::move(payloads),
      [self = shared_from_this(), events = std::move(events), acks = std::move(acks_),
       dispatch = std::move(plan->dispatch), wake = plan->wake_unix_us](Result<AppendResult> r) mutable {
        asio::post(self->strand_, [self, r = std::move(r), events = std::move(events),
                                   acks = std::move(acks), dispatch = std::move(dispatch), wake]() mutable {
          self->OnAppended(std::move(r), std::move(events), std::move(acks), std::move(dispatch), wake);
        });
      });
  acks_.clear();
}

void LiveRun::OnAppended(Result<AppendResult> result, std::vector<Event> events, std::vector<Ack> acks,
                          std::vector<std::uint32_t> dispatch, std::optional<std::int64_t> wake) {
  appending_ = false;
  if (!result.has_value()) {
    for (Ack& ack : acks) ack(result.error());
    // No room to record the run's progress: it is loaded afresh later and
    // goes on once there is room (a poisoned journal needs a reopen instead).
    engine_.AppendFailed(state_.run, result.error());
    return Break(result.error());
  }
  for (const Event& e : events) {
    if (Status s = Evolve(state_, e); !s.ok()) return Break(Status(Code::kInternal, s.message()));
  }
  engine_.Appended(*this, events);
  for (Ack& ack : acks) ack(Status::Ok());
  for (std::uint32_t step : dispatch) {
    // Skip attempts that stopped counting while their StepStarted was being
    // appended (a cancel, a shutdown): nothing would stop them otherwise.
    if (!StillCounts(step)) continue;
    if (timed_out_.count(step) != 0) {
      held_.insert(step);  // dispatched once the timed-out attempt has returned
      continue;
    }
    Dispatch(step);
  }
  ScheduleWake(wake);
  // Waiters resume once the live run has done what this append led to, so a
  // caller that acts next never races the live run's own reading of the clock.
  Drive();
  NotifyIfStopped();
}

bool LiveRun::StillCounts(std::uint32_t step) const {
  const StepState& now = working().steps[step];
  const StepState& started = state_.steps[step];
  return !engine_.stopping() && now.status == StepStatus::kRunning && now.epoch == started.epoch &&
         now.attempts == started.attempts;
}

void LiveRun::Dispatch(std::uint32_t index) {
  const StepState& step = state_.steps[index];
  const StepDef& def = state_.definition->steps[index];
  // The handler is copied: it runs apart from the strand and must outlive a replacement
  // of its workflow.
  const StepHandler* found = workflow_ != nullptr ? workflow_->handler(index) : nullptr;
  std::shared_ptr<const StepHandler> handler = found ? std::make_shared<const StepHandler>(*found) : nullptr;
  Attempt& attempt = in_flight_[index];
  attempt = Attempt{step.epoch, step.attempts, std::stop_source(), nullptr};
  // Everything the handler reads is copied: it runs on another thread.
  auto context = std::make_shared<StepContext>();
  auto dependencies = std::make_shared<std::map<std::string, Bytes>>();
  for (std::uint32_t dep : def.depends_on) {
    (*dependencies)[state_.definition->steps[dep].id] = state_.steps[dep].output;
  }
  auto input = std::make_shared<Bytes>(state_.definition->input);
  auto resume_data = std::make_shared<Bytes>(state_.resumes.empty() ? Bytes() : state_.resumes.back().data);
  context->run = state_.run;
  context->step = &def;  // the definition is immutable and shared; the live run outlives the call
  context->index = index;
  context->epoch = step.epoch;
  context->attempt = step.attempts;
  context->idempotency_key = IdempotencyKey(state_.run, def, step.epoch);
  context->input = *input;
  context->dependencies = dependencies.get();
  context->resume_data = *resume_data;
  context->stop = attempt.stop.get_token();
  context->hold_fd = engine_.journal().lock_fd();
  engine_.RunHandler([self = shared_from_this(), definition = state_.definition, context, dependencies,
                       input, resume_data, handler] {
    // The timeout counts from now, when the handler starts, not from when the
    // attempt waited for a slot. Posted, not deferred: another thread arms it
    // while this one runs the handler.
    if (context->step->timeout_ms > 0) {
      asio::post(self->strand_, [self, index = context->index, epoch = context->epoch, n = context->attempt] {
        self->ArmTimeout(index, epoch, n);
      });
    }
    Result<Bytes> result = Err(Code::kFailedPrecondition,
                               "no handler for step '" + context->step->id + "' of workflow '" +
                                   definition->workflow + "' (is the workflow registered?)");
    if (handler != nullptr) {
      try {
        result = (*handler)(*context);
      } catch (const std::exception& e) {
        result = Err(Code::kInternal, std::string("handler threw: ") + e.what());
      } catch (...) {
        result = Err(Code::kInternal, "handler threw a non-standard exception");
      }
    }
    // Deferred: the outcome is queued on this thread (handler_slots.h).
    asio::defer(self->strand_, [self, index = context->index, epoch = context->epoch,
                                attempt = context->attempt, result = std::move(result)]() mutable {
      self->OnReturned(index, epoch, attempt, std::move(result));
    });
  });
}

void LiveRun::OnReturned(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt, Result<Bytes> result) {
  auto t = timed_out_.find(step);
  if (t == timed_out_.end() || t->second != std::pair(epoch, attempt)) {
    return OnOutcome(step, epoch, attempt, std::move(result));
  }
  // The timed-out attempt has stopped: its failure is recorded already.
  timed_out_.erase(t);
  if (held_.erase(step) != 0 && !broken_ && StillCounts(step)) Dispatch(step);
  NotifyIfStopped();
  DropWorkingIfIdle();
  engine_.MaybeEvict(shared_from_this());
}

void LiveRun::OnOutcome(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt, Result<Bytes> result) {
  auto it = in_flight_.find(step);
  if (it == in_flight_.end() || it->second.epoch != epoch || it->second.attempt != attempt) return;
  in_flight_.erase(it);  // also cancels its timeout timer
  Event outcome{engine_.Now(), std::nullopt, kSchemaVersion, {}};
  if (result.has_value()) {
    outcome.body = StepCompleted{step, attempt, std::move(*result), epoch};
  } else {
    const Status& e = result.error();
    outcome.body = StepFailed{step, attempt, std::string(CodeName(e.code())), e.message(),
                              !IsPermanentFailure(e.code()), epoch};
  }
  // Refused when the attempt no longer counts (cancelled or reset meanwhile).
  if (Status s = Accept(std::move(outcome), [](const Status&) {}); !s.ok()) {
    spdlog::debug("run={} step={} attempt={} outcome dropped: {}", state_.run.ToString(), step, attempt,
                  s.message());
  }
  Drive();
}

void LiveRun::ArmTimeout(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt) {
  auto it = in_flight_.find(step);
  if (it == in_flight_.end() || it->second.epoch != epoch || it->second.attempt != attempt) return;
  const auto timeout = std::chrono::milliseconds(state_.definition->steps[step].timeout_ms);
  it->second.timeout = std::make_unique<asio::steady_timer>(strand_, timeout);
  it->second.timeout->async_wait([self = shared_from_this(), step, epoch, attempt](const boost::system::error_code& ec) {
    if (!ec) self->OnTimeout(step, epoch, attempt);
  });
}

void LiveRun::OnTimeout(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt) {
  auto it = in_flight_.find(step);
  if (it == in_flight_.end() || it->second.epoch != epoch || it->second.attempt != attempt) return;
  it->second.stop.request_stop();
  timed_out_[step] = {epoch, attempt};  // until its handler returns
  const std::uint32_t timeout_ms = state_.definition->steps[step].timeout_ms;
  OnOutcome(step, epoch, attempt,
            Err(Code::kUnavailable, "timed out after " + std::to_string(timeout_ms) + " ms"));
}

void LiveRun::ScheduleWake(std::optional<std::int64_t> wake_unix_us) {
  if (wake_unix_us == wake_at_) return;
  wake_at_ = wake_unix_us;
  wake_.cancel();
  if (!wake_unix_us) return;
  const std::int64_t delay_us = std::max<std::int64_t>(0, *wake_unix_us - engine_.Now());
  wake_.expires_after(std::chrono::microseconds(delay_us));
  wake_.async_wait([self = shared_from_this(), at = *wake_unix_us](const boost::system::error_code& ec) {
    if (ec || self->wake_at_ != at) return;
    self->wake_at_.reset();
    self->Drive();
  });
}

void LiveRun::OnStopped(StoppedCallback done) {
  waiters_.push_back(std::move(done));
  NotifyIfStopped();
}

void LiveRun::NotifyIfStopped() {
  // Paused and failed runs still record the outcomes of attempts in flight;
  // a cancelled run records none, so it is settled at once.
  const bool settled =
      (in_flight_.empty() && timed_out_.empty() && held_.empty()) || state_.status == RunStatus::kCancelled;
  if (!state_.Stopped() || appending_ || !pending_.empty() || !settled) return;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w(state_);
}

void LiveRun::StopAttempts() {
  for (auto& [step, attempt] : in_flight_) attempt.stop.request_stop();
}

RunState& LiveRun::Working() {
  if (!working_) working_ = state_;
  return *working_;
}

void LiveRun::DropWorkingIfIdle() {
  // Nothing accepted and nothing being appended: working_ equals state_. With
  // no handler running it stays so until something wakes the run.
  if (pending_.empty() && !appending_ && in_flight_.empty() && held_.empty()) working_.reset();
}

void LiveRun::Break(const Status& cause) {
  broken_ = true;
  spdlog::error("run={} stopped being driven: {}", state_.run.ToString(), cause.ToString());
  for (Ack& ack : acks_) ack(cause);
  acks_.clear();
  pending_.clear();
  working_.reset();
  StopAttempts();
  in_flight_.clear();
  timed_out_.clear();
  held_.clear();
  wake_.cancel();
  wake_at_.reset();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  const Result<RunState> outcome =
      state_.Stopped() ? Result<RunState>(state_)
                       : Result<RunState>(Err(cause.WithContext("run " + state_.run.ToString() + " stopped being driven")));
  for (auto& w : waiters) w(outcome);
  engine_.MaybeEvict(shared_from_this());
}

}  // namespace rwd::engine_internal
