// ReplayCheck: histories recorded the way the engine records them (Plan's
// events stamped with the time it decided, outside events between) replay
// clean through their own definition, and each kind of definition change or
// altered decision is found at the first event it would change.
#include "rewind/inspect/replay_check.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "rewind/fold/decide.h"
#include "rewind/fold/run_state.h"
#include "tests/fold/run_builder.h"
#include "tests/support/random_history.h"

namespace rwd::test {
namespace {

using inspect::ReplayCheck;
using inspect::ReplayDivergence;
using inspect::ReplayReport;

constexpr std::int64_t kT0 = 1'800'000'000'000'000;

// Plays the engine for one run: after each outside event, Plan's events at
// the current time (LiveRun::Drive), unless told the engine did not decide
// in between.
class Recorder {
 public:
  explicit Recorder(RunStarted definition, std::uint32_t max_parallel = 0) : max_parallel_(max_parallel) {
    state_.run = RunId(RunId::Bytes{7});
    Outside(std::move(definition));
  }
  Recorder(const RunForked& fork, std::uint32_t max_parallel) : max_parallel_(max_parallel) {
    state_.run = RunId(RunId::Bytes{8});
    Outside(fork);
  }

  Recorder& Outside(EventBody body, bool decide = true, std::optional<Actor> actor = std::nullopt) {
    Append(Event{now_, std::move(actor), kSchemaVersion, std::move(body)});
    if (decide) Drive();
    return *this;
  }
  Recorder& Complete(std::uint32_t step, bool decide = true) {
    const StepState& s = state_.steps[step];
    return Outside(StepCompleted{step, s.attempts, ToBytes("out"), s.epoch}, decide);
  }
  Recorder& Fail(std::uint32_t step, bool retryable = true, bool decide = true) {
    const StepState& s = state_.steps[step];
    return Outside(StepFailed{step, s.attempts, "boom", "it broke", retryable, s.epoch}, decide);
  }
  // The process stopped while the attempt ran; recovery records it.
  Recorder& Abandon(std::uint32_t step, bool decide = true) {
    const StepState& s = state_.steps[step];
    return Outside(StepAbandoned{step, s.attempts, s.epoch}, decide);
  }
  Recorder& Approve(std::uint32_t step) {
    return Outside(ApprovalDecided{step, true, {}}, true, Actor{ActorKind::kUser, "alice", ""});
  }
  // The clock moves on to the run's wake-up, and the engine decides again.
  Recorder& Wake() {
    now_ = std::max(now_ + 1, wake_.value_or(now_ + 1));
    Drive();
    return *this;
  }

  const std::vector<Event>& events() const { return events_; }
  std::vector<Event>& mutable_events() { return events_; }
  const RunState& state() const { return state_; }
  // The seq of the last event of type T.
  template <typename T>
  std::uint64_t SeqOfLast() const {
    for (std::size_t i = events_.size(); i-- > 0;) {
      if (std::holds_alternative<T>(events_[i].body)) return i + 1;
    }
    ADD_FAILURE() << "no such event";
    return 0;
  }

  Result<ReplayReport> Check(const RunStarted& candidate, std::optional<std::uint32_t> max_parallel = {}) const {
    return ReplayCheck(state_.run, events_, candidate, max_parallel.value_or(max_parallel_));
  }

 private:
  void Append(Event e) {
    const Status s = Evolve(state_, e);
    ASSERT_TRUE(s.ok()) << s.ToString();
    events_.push_back(std::move(e));
  }
  void Drive() {
    auto plan = Plan(state_, now_, max_parallel_);
    ASSERT_TRUE(plan.has_value()) << plan.error().ToString();
    for (EventBody& body : plan->events) events_.push_back(Event{now_, std::nullopt, kSchemaVersion, std::move(body)});
    wake_ = plan->wake_unix_us;
  }

  std::uint32_t max_parallel_;
  RunState state_;  // Plan leaves it as after its events
  std::vector<Event> events_;
  std::int64_t now_ = kT0;
  std::optional<std::int64_t> wake_;
};

// The divergence a replay names; fails the test, and returns an empty one,
// when the replay failed or found none.
ReplayDivergence DivergenceIn(const Result<ReplayReport>& report) {
  if (!report.has_value()) {
    ADD_FAILURE() << report.error().ToString();
    return {};
  }
  if (!report->divergence) {
    ADD_FAILURE() << "no divergence";
    return {};
  }
  return *report->divergence;
}

// a (3 attempts, 200 ms backoff) -> gate (approval) -> nap (sleep) -> d.
RunStarted Order() {
  StepDef a = Def("a", {}, StepKind::kCode, 3);
  a.retry.initial_backoff_ms = 200;
  StepDef nap = Def("nap", {1}, StepKind::kSleep);
  nap.sleep_ms = 1000;
  RunStarted def = Definition({a, Def("gate", {0}, StepKind::kApproval), nap, Def("d", {2})});
  def.workflow = "order";
  def.tenant = "acme";
  def.input = ToBytes("in");
  return def;
}

// The whole of Order(): a fails once, is retried, the gate is approved, the
// timer fires, d completes.
Recorder OrderCompleted() {
  Recorder r(Order());
  r.Fail(0).Wake().Complete(0).Approve(1).Wake().Complete(3);
  EXPECT_EQ(r.state().status, RunStatus::kCompleted);
  return r;
}

TEST(ReplayCheckTest, AHistoryReplaysCleanThroughItsOwnDefinition) {
  const Recorder r = OrderCompleted();
  auto report = r.Check(Order());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_FALSE(report->divergence.has_value()) << report->divergence->message;
  EXPECT_TRUE(report->same_definition);
  EXPECT_EQ(report->events, r.events().size());
  // StepStarted a, RetryScheduled, StepStarted a#2, RunPaused, TimerScheduled,
  // TimerFired, RunCompleted: each begins a plan.
  EXPECT_EQ(report->decision_points, 7u);
}

TEST(ReplayCheckTest, TheRecordedInputAndTenantAreKept) {
  const Recorder r = OrderCompleted();
  RunStarted candidate = Order();
  candidate.tenant = "other";
  candidate.input = ToBytes("other");
  candidate.idempotency_key = "k";
  auto report = r.Check(candidate);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->divergence.has_value());
  EXPECT_TRUE(report->same_definition);
}

TEST(ReplayCheckTest, AStepAddedAtTheEndDivergesWhereTheRunCompleted) {
  const Recorder r = OrderCompleted();
  RunStarted candidate = Order();
  candidate.version = 2;
  candidate.steps.push_back(Def("e", {3}));
  auto report = r.Check(candidate);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->same_definition);
  ASSERT_TRUE(report->divergence.has_value());
  const auto& d = *report->divergence;
  EXPECT_EQ(d.seq, r.SeqOfLast<RunCompleted>());
  EXPECT_EQ(d.check, "decision");
  ASSERT_TRUE(d.recorded.has_value());
  EXPECT_TRUE(std::holds_alternative<RunCompleted>(d.recorded->body));
  ASSERT_EQ(d.decided.size(), 1u);
  EXPECT_EQ(d.decided[0].body, EventBody(StepStarted{4, 1, 0}));
  EXPECT_NE(d.message.find("step 'e'"), std::string::npos) << d.message;
  EXPECT_EQ(report->events, d.seq - 1);
}

TEST(ReplayCheckTest, ARemovedStepDivergesWhereItStarted) {
  const Recorder r = OrderCompleted();
  RunStarted candidate = Order();
  candidate.steps.Mutable().pop_back();
  const ReplayDivergence d = DivergenceIn(r.Check(candidate));
  EXPECT_EQ(d.seq, r.SeqOfLast<StepStarted>());
  ASSERT_EQ(d.decided.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<RunCompleted>(d.decided[0].body));
}

TEST(ReplayCheckTest, AShorterRetryBudgetFailsTheRunWhereARetryWasScheduled) {
  const Recorder r = OrderCompleted();
  RunStarted candidate = Order();
  candidate.steps.Mutable()[0].retry.max_attempts = 1;
  const ReplayDivergence d = DivergenceIn(r.Check(candidate));
  EXPECT_EQ(d.seq, r.SeqOfLast<RetryScheduled>());
  ASSERT_EQ(d.decided.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<RunFailed>(d.decided[0].body));
}

TEST(ReplayCheckTest, AnotherBackoffSchedulesTheRetryAtAnotherTime) {
  const Recorder r = OrderCompleted();
  RunStarted candidate = Order();
  candidate.steps.Mutable()[0].retry.initial_backoff_ms = 300;
  const ReplayDivergence d = DivergenceIn(r.Check(candidate));
  const std::uint64_t at = r.SeqOfLast<RetryScheduled>();
  EXPECT_EQ(d.seq, at);
  ASSERT_EQ(d.decided.size(), 1u);
  const auto* retry = std::get_if<RetryScheduled>(&d.decided[0].body);
  ASSERT_NE(retry, nullptr);
  EXPECT_EQ(retry->due_unix_us - std::get<RetryScheduled>(r.events()[at - 1].body).due_unix_us, 100'000);
}

TEST(ReplayCheckTest, AnAlteredDecisionIsFoundWithTheSameDefinition) {
  // What a changed decider would have written: the recorded timer fires a
  // microsecond later than this decider schedules it.
  Recorder r = OrderCompleted();
  const std::uint64_t at = r.SeqOfLast<TimerScheduled>();
  std::get<TimerScheduled>(r.mutable_events()[at - 1].body).due_unix_us += 1;
  auto report = r.Check(Order());
  ASSERT_TRUE(report.has_value());
  ASSERT_TRUE(report->divergence.has_value());
  EXPECT_EQ(report->divergence->seq, at);
  EXPECT_TRUE(report->same_definition);
}

TEST(ReplayCheckTest, ADecisionTheCandidateWouldNotTakeIsFound) {
  // An approval gate the candidate does not have: the recorded pause has no
  // counterpart, and the candidate's fold refuses the approval.
  const Recorder r = OrderCompleted();
  RunStarted candidate = Order();
  candidate.steps.Mutable()[1].kind = StepKind::kCode;
  auto report = r.Check(candidate);
  ASSERT_TRUE(report.has_value());
  ASSERT_TRUE(report->divergence.has_value());
  EXPECT_EQ(report->divergence->seq, r.SeqOfLast<RunPaused>());
  ASSERT_EQ(report->divergence->decided.size(), 1u);
  EXPECT_EQ(report->divergence->decided[0].body, EventBody(StepStarted{1, 1, 0}));
}

TEST(ReplayCheckTest, AnOutsideEventTheCandidateCannotFoldIsRefused) {
  // a fails for good, and the run fails the same way under both definitions;
  // then an operator resumes it from b, which the candidate does not have.
  Recorder r(Definition({Def("a"), Def("b", {0})}));
  r.Fail(0);
  ASSERT_EQ(r.state().status, RunStatus::kFailed);
  r.Outside(ResumeRequested{1, "try b", "req-1", {}}, true, Actor{ActorKind::kUser, "alice", ""});
  auto report = r.Check(Definition({Def("a")}));
  ASSERT_TRUE(report.has_value());
  ASSERT_TRUE(report->divergence.has_value());
  const auto& d = *report->divergence;
  EXPECT_EQ(d.seq, r.SeqOfLast<ResumeRequested>());
  EXPECT_EQ(d.check, "refused");
  EXPECT_TRUE(d.decided.empty());
  EXPECT_EQ(report->events, d.seq - 1);
}

TEST(ReplayCheckTest, AStepThatWouldStartWhileTheRecordedRunWaitedIsFoundBeforeTheNextOutsideEvent) {
  // a and b run at once; a completes while b runs (the engine decides
  // nothing), then b completes. A candidate step c after a would have started
  // right after a completed.
  Recorder r(Definition({Def("a"), Def("b", {})}));
  r.Complete(0).Complete(1);
  const std::uint64_t b_done = 5;  // RunStarted, StepStarted a, StepStarted b, StepCompleted a, StepCompleted b
  ASSERT_TRUE(std::holds_alternative<StepCompleted>(r.events()[b_done - 1].body));
  RunStarted candidate = Definition({Def("a"), Def("b", {}), Def("c", {0})});
  const ReplayDivergence d = DivergenceIn(r.Check(candidate));
  EXPECT_EQ(d.seq, b_done);
  EXPECT_EQ(d.check, "decision");
  ASSERT_EQ(d.decided.size(), 1u);
  EXPECT_EQ(d.decided[0].body, EventBody(StepStarted{2, 1, 0}));
  EXPECT_NE(d.message.find("recorded definition decides nothing"), std::string::npos) << d.message;
}

TEST(ReplayCheckTest, AnOutsideEventAcceptedBeforeTheEngineDecidedIsNoDivergence) {
  // a completes and, before the engine decides, a signal arrives: the engine
  // decides once, after both. The recorded definition plans something at the
  // state in between; the same definition plans the same, so no finding.
  Recorder r(Definition({Def("a"), Def("b", {0})}));
  r.Complete(0, /*decide=*/false);
  r.Outside(SignalReceived{"early", {}}, true, Actor{ActorKind::kUser, "bob", ""});
  r.Complete(1);
  auto report = r.Check(Definition({Def("a"), Def("b", {0})}));
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->divergence.has_value()) << report->divergence->message;
}

// a (3 attempts, `backoff_ms`), b (one attempt), c: three roots.
RunStarted Three(std::uint32_t backoff_ms) {
  StepDef a = Def("a", {}, StepKind::kCode, 3);
  a.retry.initial_backoff_ms = backoff_ms;
  return Definition({a, Def("b", {}), Def("c", {})});
}

// The events after the first (the definition), times and actors included.
std::vector<Event> AfterStart(const Recorder& r) { return {r.events().begin() + 1, r.events().end()}; }

TEST(ReplayCheckTest, OutsideEventsAppendedTogetherAreNoPointTheEngineDecidedAt) {
  // c completes; while that append is in flight a fails (retryable) and b
  // fails for good, so both results go out in one append and the engine
  // decides once, after both: the run fails. A candidate with another backoff
  // writes the very same history; the state between the two failures, where
  // the definitions would schedule different retries, was never decided on.
  auto record = [](std::uint32_t backoff_ms) {
    Recorder r(Three(backoff_ms));
    r.Complete(2).Fail(0, true, /*decide=*/false).Fail(1, /*retryable=*/false);
    EXPECT_EQ(r.state().status, RunStatus::kFailed);
    return r;
  };
  const Recorder recorded = record(200);
  ASSERT_EQ(AfterStart(recorded), AfterStart(record(300)));
  auto report = recorded.Check(Three(300));
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->divergence.has_value()) << report->divergence->message;
  EXPECT_FALSE(report->same_definition);
}

TEST(ReplayCheckTest, AttemptsAbandonedTogetherAtRecoveryAreNoPointTheEngineDecidedAt) {
  auto record = [](std::uint32_t backoff_ms) {
    Recorder r(Three(backoff_ms));
    r.Complete(2).Abandon(0, /*decide=*/false).Abandon(1);
    return r;
  };
  const Recorder recorded = record(200);
  ASSERT_EQ(AfterStart(recorded), AfterStart(record(300)));
  auto report = recorded.Check(Three(300));
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->divergence.has_value()) << report->divergence->message;
}

TEST(ReplayCheckTest, AStepThatWouldStartWhileTheRunWaitedForAWakeUpIsFoundThere) {
  // a fails and waits for its retry; b completes and the engine decides
  // nothing; the wake-up restarts a. A candidate step c after b would have
  // started as soon as b completed: the divergence is named at the wake-up's
  // event, the first after that point.
  StepDef a = Def("a", {}, StepKind::kCode, 2);
  a.retry.initial_backoff_ms = 1000;
  Recorder r(Definition({a, Def("b", {})}));
  r.Fail(0).Complete(1);
  const std::uint64_t b_done = r.events().size();
  r.Wake().Complete(0);
  ASSERT_EQ(r.state().status, RunStatus::kCompleted);
  auto report = r.Check(Definition({a, Def("b", {}), Def("c", {1})}));
  ASSERT_TRUE(report.has_value());
  ASSERT_TRUE(report->divergence.has_value());
  EXPECT_EQ(report->divergence->seq, b_done + 1);
  ASSERT_EQ(report->divergence->decided.size(), 1u);
  EXPECT_EQ(report->divergence->decided[0].body, EventBody(StepStarted{2, 1, 0}));
}

TEST(ReplayCheckTest, ARenamedOrMovedStepIsFoundWhereTheHistoryFirstNamesIt) {
  Recorder r(Definition({Def("charge"), Def("ship", {}), Def("notify", {0, 1})}));
  r.Complete(0).Complete(1).Complete(2);
  ASSERT_EQ(r.state().status, RunStatus::kCompleted);
  // Same shape, other positions: the decisions are the same, but the history
  // would name the other step.
  for (const RunStarted& candidate : {Definition({Def("ship"), Def("charge", {}), Def("notify", {0, 1})}),
                                      Definition({Def("charge_v2"), Def("ship", {}), Def("notify", {0, 1})})}) {
    auto report = r.Check(candidate);
    ASSERT_TRUE(report.has_value());
    ASSERT_TRUE(report->divergence.has_value());
    EXPECT_EQ(report->divergence->check, "step");
    EXPECT_EQ(report->divergence->seq, 2u);  // StepStarted of step 1
    EXPECT_NE(report->divergence->message.find("'charge'"), std::string::npos) << report->divergence->message;
  }
  // A new step at the end leaves every recorded position as it was.
  auto longer = r.Check(Definition({Def("charge"), Def("ship", {}), Def("notify", {0, 1}), Def("audit", {2})}));
  ASSERT_TRUE(longer.has_value());
  ASSERT_TRUE(longer->divergence.has_value());
  EXPECT_EQ(longer->divergence->check, "decision");
}

TEST(ReplayCheckTest, AnUnfinishedPlanAtTheEndIsADivergence) {
  // The history ends right after a's start (the engine stopped before a
  // completed); a candidate with a second root would have started it too.
  Recorder r(Definition({Def("a")}));
  RunStarted candidate = Definition({Def("a"), Def("b", {})});
  auto report = r.Check(candidate);
  ASSERT_TRUE(report.has_value());
  ASSERT_TRUE(report->divergence.has_value());
  EXPECT_EQ(report->divergence->seq, r.events().size() + 1);
  EXPECT_FALSE(report->divergence->recorded.has_value());
  ASSERT_EQ(report->divergence->decided.size(), 1u);
  EXPECT_EQ(report->divergence->decided[0].body, EventBody(StepStarted{1, 1, 0}));
}

TEST(ReplayCheckTest, MaxParallelMustBeTheEnginesSetting) {
  Recorder r(Definition({Def("a"), Def("b", {})}), /*max_parallel=*/1);
  r.Complete(0).Complete(1);
  ASSERT_EQ(r.state().status, RunStatus::kCompleted);
  auto same = r.Check(Definition({Def("a"), Def("b", {})}), 1);
  ASSERT_TRUE(same.has_value());
  EXPECT_FALSE(same->divergence.has_value());
  auto unlimited = r.Check(Definition({Def("a"), Def("b", {})}), 0);
  ASSERT_TRUE(unlimited.has_value());
  ASSERT_TRUE(unlimited->divergence.has_value());
  EXPECT_EQ(unlimited->divergence->seq, 3u);  // a's result, where the history stopped following the plan
}

TEST(ReplayCheckTest, AForkReplaysWithItsCopyOfTheDefinition) {
  RunForked fork;
  fork.parent_run = RunId(RunId::Bytes{1});
  fork.parent_seq = 4;
  fork.from_step = 1;
  fork.start = Definition({Def("a"), Def("b", {0})});
  fork.kept = {StepOutput{0, ToBytes("kept")}};
  Recorder r(fork, 0);
  r.Complete(1);
  ASSERT_EQ(r.state().status, RunStatus::kCompleted);
  auto same = r.Check(Definition({Def("a"), Def("b", {0})}));
  ASSERT_TRUE(same.has_value());
  EXPECT_FALSE(same->divergence.has_value());
  auto longer = r.Check(Definition({Def("a"), Def("b", {0}), Def("c", {1})}));
  ASSERT_TRUE(longer.has_value());
  ASSERT_TRUE(longer->divergence.has_value());
  EXPECT_EQ(longer->divergence->seq, r.SeqOfLast<RunCompleted>());
}

TEST(ReplayCheckTest, BadCandidatesAndBadHistoriesAreErrors) {
  const Recorder r = OrderCompleted();
  RunStarted other = Order();
  other.workflow = "invoice";
  auto renamed = r.Check(other);
  ASSERT_FALSE(renamed.has_value());
  EXPECT_EQ(renamed.error().code(), Code::kInvalidArgument);
  EXPECT_NE(renamed.error().message().find("'invoice'"), std::string::npos);
  EXPECT_NE(renamed.error().message().find("'order'"), std::string::npos);

  RunStarted cycle = Definition({Def("a", {1}), Def("b", {0})});
  cycle.workflow = "order";
  auto invalid = r.Check(cycle);
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().code(), Code::kInvalidArgument);

  std::vector<Event> broken = r.events();
  broken.erase(broken.begin() + 2);  // the recorded history no longer folds
  auto corrupt = ReplayCheck(r.state().run, broken, Order(), 0);
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_EQ(corrupt.error().code(), Code::kCorruption);

  auto empty = ReplayCheck(r.state().run, {}, Order(), 0);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), Code::kNotFound);
}

// The runs of a history, each with its events in order and its definition.
std::map<RunId, std::vector<Event>> RunsOf(const std::vector<HistoryAppend>& history) {
  std::map<RunId, std::vector<Event>> runs;
  for (const HistoryAppend& a : history) {
    auto& events = runs[a.run];
    events.insert(events.end(), a.events.begin(), a.events.end());
  }
  return runs;
}

const RunStarted& RecordedDefinition(const Event& first) {
  if (const auto* fork = std::get_if<RunForked>(&first.body)) return fork->start;
  return std::get<RunStarted>(first.body);
}

// Determinism: every run the engine could have written — failures, retries,
// timers, approvals, signals, pauses, cancels, resumes, forks, restarts —
// replays through its own definition without a divergence.
RC_GTEST_PROP(ReplayCheckProperty, EveryEngineHistoryReplaysCleanThroughItsOwnDefinition, ()) {
  HistoryOptions options;
  options.max_parallel = *rc::gen::element<std::uint32_t>(0, 1, 2);
  const auto history = *GenHistory(options);
  for (const auto& [run, events] : RunsOf(history)) {
    auto report = ReplayCheck(run, events, RecordedDefinition(events.front()), *options.max_parallel);
    RC_ASSERT(report.has_value());
    RC_ASSERT(report->same_definition);
    if (report->divergence) RC_FAIL("run " + run.ToString() + ": seq " + std::to_string(report->divergence->seq) + ": " + report->divergence->message);
    RC_ASSERT(report->events == events.size());
  }
}

// A definition change that touches only what a run never exercised — the
// backoff of runs that never scheduled a retry, the duration of sleeps in runs
// that never slept — writes the same history, so it replays clean.
RC_GTEST_PROP(ReplayCheckProperty, AChangeTheRunNeverExercisedReplaysClean, ()) {
  HistoryOptions options;
  options.max_parallel = *rc::gen::element<std::uint32_t>(0, 1, 2);
  const auto history = *GenHistory(options);
  for (const auto& [run, events] : RunsOf(history)) {
    bool retried = false, slept = false;
    for (const Event& e : events) {
      retried |= std::holds_alternative<RetryScheduled>(e.body);
      slept |= std::holds_alternative<TimerScheduled>(e.body);
    }
    RunStarted candidate = RecordedDefinition(events.front());
    for (StepDef& step : candidate.steps.Mutable()) {
      if (!retried) step.retry.initial_backoff_ms += 7;
      if (!slept) step.sleep_ms += 11;
    }
    RC_CLASSIFY(!retried || !slept);
    auto report = ReplayCheck(run, events, candidate, *options.max_parallel);
    RC_ASSERT(report.has_value());
    if (report->divergence) {
      RC_FAIL("run " + run.ToString() + ": seq " + std::to_string(report->divergence->seq) + ": " +
              report->divergence->message);
    }
  }
}

// A run that completed would not have completed with one more step after its
// last: the replay diverges at its completion at the latest.
RC_GTEST_PROP(ReplayCheckProperty, ACompletedRunDivergesFromADefinitionWithOneMoreStep, ()) {
  HistoryOptions options;
  options.max_parallel = *rc::gen::element<std::uint32_t>(0, 1, 2);
  const auto history = *GenHistory(options);
  for (const auto& [run, events] : RunsOf(history)) {
    std::uint64_t completed = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (std::holds_alternative<RunCompleted>(events[i].body)) completed = i + 1;
    }
    if (completed == 0) continue;
    RunStarted candidate = RecordedDefinition(events.front());
    candidate.steps.push_back(Def("one_more", {static_cast<std::uint32_t>(candidate.steps.size() - 1)}));
    auto report = ReplayCheck(run, events, candidate, *options.max_parallel);
    RC_ASSERT(report.has_value());
    RC_ASSERT(report->divergence.has_value());
    RC_ASSERT(report->divergence->seq <= completed);
  }
}

}  // namespace
}  // namespace rwd::test
