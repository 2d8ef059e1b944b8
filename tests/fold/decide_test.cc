#include "rewind/fold/decide.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>

#include "tests/fold/run_builder.h"

namespace rwd::test {
namespace {

template <typename T>
std::vector<T> Only(const Decision& d) {
  std::vector<T> out;
  for (const EventBody& e : d.events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

constexpr std::int64_t kNow = 1'000'000;

TEST(DecideTest, FreshRunStartsEveryRootStep) {
  RunBuilder b(Definition({Def("a"), Def("b", {}), Def("c", {0, 1})}));
  const Decision d = Decide(b.state(), kNow);
  EXPECT_EQ(d.dispatch, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(Only<StepStarted>(d).size(), 2u);
}

TEST(DecideTest, ParallelLimitStartsOnlyThatManyStepsInDefinitionOrder) {
  RunBuilder b(Definition({Def("a"), Def("b", {}), Def("c", {})}));
  EXPECT_EQ(Decide(b.state(), kNow, 1).dispatch, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(Decide(b.state(), kNow, 2).dispatch, (std::vector<std::uint32_t>{0, 1}));
  b.Apply(StepStarted{0, 1, 0});
  EXPECT_TRUE(Decide(b.state(), kNow, 1).dispatch.empty());
}

TEST(DecideTest, CompletedStepStartsTheStepsThatWereWaitingForIt) {
  RunBuilder b(Definition({Def("a"), Def("b", {0})}));
  b.Complete(0);
  EXPECT_EQ(Decide(b.state(), kNow).dispatch, (std::vector<std::uint32_t>{1}));
}

TEST(DecideTest, RetryableFailureWithinBudgetSchedulesARetry) {
  StepDef charge = Def("charge", {}, StepKind::kCode, 3);
  charge.retry.initial_backoff_ms = 200;
  RunBuilder b(Definition({charge}));
  b.FailAttempt(0);
  const auto retries = Only<RetryScheduled>(Decide(b.state(), kNow));
  ASSERT_EQ(retries.size(), 1u);
  EXPECT_EQ(retries[0].next_attempt, 2u);
  EXPECT_EQ(retries[0].due_unix_us, kNow + 200'000);
}

TEST(DecideTest, ExhaustedBudgetFailsTheRunNamingTheStep) {
  RunBuilder b(Definition({Def("charge", {}, StepKind::kCode, 2)}));
  b.FailAttempt(0).Apply(RetryScheduled{0, 2, 0}).FailAttempt(0);
  const auto failed = Only<RunFailed>(Decide(b.state(), kNow));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].step, 0u);
  EXPECT_NE(failed[0].message.find("'charge' failed after 2 attempt(s)"), std::string::npos);
}

TEST(DecideTest, ARunAtTheLimitOfEventsFailsOnceNothingIsInFlight) {
  RunBuilder b(Definition({Def("a"), Def("b", {})}));
  b.Apply(StepStarted{0, 1, 0});
  RunState at_limit = b.state();
  at_limit.seq = kMaxRunEvents;
  EXPECT_TRUE(Decide(at_limit, kNow).events.empty()) << "b must not start, a is still in flight";
  b.Apply(StepCompleted{0, 1, {}, 0});
  at_limit = b.state();
  at_limit.seq = kMaxRunEvents;
  const auto failed = Only<RunFailed>(Decide(at_limit, kNow));
  ASSERT_EQ(Decide(at_limit, kNow).events.size(), 1u);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].code, "resource_exhausted");
  EXPECT_NE(failed[0].message.find(std::to_string(kMaxRunEvents)), std::string::npos);
}

TEST(DecideTest, TerminalFailureWaitsForAttemptsInFlightAndStartsNothingNew) {
  RunBuilder b(Definition({Def("a"), Def("b"), Def("c", {1})}));
  b.Apply(StepStarted{0, 1, 0}).FailAttempt(1, false);
  EXPECT_TRUE(Decide(b.state(), kNow).events.empty());
  b.Apply(StepCompleted{0, 1, {}, 0});
  EXPECT_EQ(Only<RunFailed>(Decide(b.state(), kNow)).size(), 1u);
}

TEST(DecideTest, RetryStartsWhenDueAndAsksToWakeBeforeThat) {
  RunBuilder b(Definition({Def("a", {}, StepKind::kCode, 3)}));
  b.FailAttempt(0).Apply(RetryScheduled{0, 2, kNow + 500});
  const Decision early = Decide(b.state(), kNow);
  EXPECT_TRUE(early.events.empty());
  EXPECT_EQ(early.wake_unix_us, kNow + 500);
  EXPECT_EQ(Decide(b.state(), kNow + 500).dispatch, (std::vector<std::uint32_t>{0}));
}

TEST(DecideTest, ApprovalGatePausesOnlyOnceNothingElseCanRun) {
  RunBuilder b(Definition({Def("gate", {}, StepKind::kApproval), Def("work")}));
  const Decision first = Decide(b.state(), kNow);
  EXPECT_TRUE(Only<RunPaused>(first).empty());
  EXPECT_EQ(first.dispatch, (std::vector<std::uint32_t>{1}));
  b.Complete(1);
  const auto paused = Only<RunPaused>(Decide(b.state(), kNow));
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(paused[0].step, 0u);
  EXPECT_EQ(paused[0].reason, PauseReason::kApprovalRequired);
}

TEST(DecideTest, SignalThatArrivedEarlyIsConsumedWithoutPausing) {
  RunBuilder b(Definition({Def("wait", {}, StepKind::kSignal)}));
  b.Apply(SignalReceived{"go", ToBytes("payload")});
  const auto completed = Only<StepCompleted>(Decide(b.state(), kNow));
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].output, ToBytes("payload"));
}

TEST(DecideTest, OneEarlySignalCompletesOneOfTwoStepsWaitingForIt) {
  RunBuilder b(Definition({Def("first", {}, StepKind::kSignal), Def("second", {}, StepKind::kSignal)}));
  b.Apply(SignalReceived{"go", ToBytes("once")});
  EXPECT_EQ(Only<StepCompleted>(Decide(b.state(), kNow)).size(), 1u);
}

TEST(DecideTest, UncappedBackoffSaturatesInsteadOfOverflowing) {
  StepDef s = Def("s", {}, StepKind::kCode, 100);
  s.retry.initial_backoff_ms = 1000;
  const RunId run = RunId::New();
  std::int64_t last = 0;
  for (std::uint32_t attempt = 2; attempt < 100; ++attempt) {
    const std::int64_t d = BackoffMicros(s.retry, run, 0, 0, attempt);
    EXPECT_GE(d, last) << "attempt " << attempt;
    last = d;
  }
  RunBuilder b(Definition({s}));
  for (int i = 0; i < 60; ++i) b.FailAttempt(0).Apply(RetryScheduled{0, b.state().steps[0].attempts + 1, 0});
  b.FailAttempt(0);
  const auto retry = Only<RetryScheduled>(Decide(b.state(), std::numeric_limits<std::int64_t>::max() - 5));
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].due_unix_us, std::numeric_limits<std::int64_t>::max());
}

TEST(DecideTest, AnyRecordedTimeIsAValidNowWhenAHistoryIsReplayed) {
  // A replayed history decides at its recorded times, which a damaged or
  // forged journal may put anywhere, the far past included.
  StepDef s = Def("s", {}, StepKind::kCode, 3);
  s.retry.initial_backoff_ms = 1000;
  RunBuilder b(Definition({s}));
  b.FailAttempt(0);
  for (const std::int64_t now : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-646723031856617760}}) {
    const auto retry = Only<RetryScheduled>(Decide(b.state(), now));
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(retry[0].due_unix_us, now + BackoffMicros(s.retry, b.state().run, 0, 0, 2));
  }
}

TEST(DecideTest, SleepSchedulesItsTimerAndFiresItWhenDue) {
  StepDef nap = Def("nap", {}, StepKind::kSleep);
  nap.sleep_ms = 3;
  RunBuilder b(Definition({nap}));
  const auto timers = Only<TimerScheduled>(Decide(b.state(), kNow));
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].due_unix_us, kNow + 3000);
  b.Apply(timers[0]);
  EXPECT_EQ(Decide(b.state(), kNow).wake_unix_us, kNow + 3000);
  EXPECT_EQ(Only<TimerFired>(Decide(b.state(), kNow + 3000)).size(), 1u);
}

TEST(DecideTest, RunCompletesWithTheLastStepsOutput) {
  RunBuilder b(Definition({Def("a"), Def("b", {0})}));
  b.Complete(0, "first").Complete(1, "last");
  const auto done = Only<RunCompleted>(Decide(b.state(), kNow));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].output, ToBytes("last"));
}

TEST(DecideTest, StoppedRunsDecideNothing) {
  RunBuilder b(Definition({Def("a")}));
  b.Apply(CancelRequested{""}).Apply(RunCancelled{""});
  EXPECT_TRUE(Decide(b.state(), kNow).events.empty());
}

TEST(DecideTest, PlanPutsACompletionAndTheNextStartInOneAppend) {
  RunBuilder b(Definition({Def("a"), Def("b", {0}), Def("c", {1})}));
  b.Complete(0);
  RunState s = b.state();
  const auto plan = Plan(s, kNow);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->dispatch, (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(s.steps[1].status, StepStatus::kRunning);
}

TEST(DecideTest, PlanRunsZeroBackoffRetriesAndZeroSleepsToTheirEnd) {
  StepDef nap = Def("nap", {}, StepKind::kSleep);
  RunBuilder b(Definition({Def("a", {}, StepKind::kCode, 2), nap}));
  b.FailAttempt(0);
  RunState s = b.state();
  const auto plan = Plan(s, kNow);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->dispatch, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(s.steps[0].attempts, 2u);
  EXPECT_EQ(s.steps[1].status, StepStatus::kCompleted);
}

RC_GTEST_PROP(DecideTest, BackoffIsDeterministicCappedAndJitterOnlyShortensIt,
              (std::uint16_t initial, std::uint16_t cap, std::uint8_t attempt)) {
  RetryPolicy p{5, initial, 2.0, cap, 0.5};
  const RunId run = RunId::New();
  const std::uint32_t next = attempt % 20 + 2u;
  const std::int64_t a = BackoffMicros(p, run, 1, 0, next);
  RC_ASSERT(a == BackoffMicros(p, run, 1, 0, next));
  RetryPolicy no_jitter = p;
  no_jitter.jitter = 0;
  const std::int64_t full = BackoffMicros(no_jitter, run, 1, 0, next);
  RC_ASSERT(a <= full);
  RC_ASSERT(a >= full / 2);
  if (cap > 0) RC_ASSERT(full <= static_cast<std::int64_t>(cap) * 1000);
}

}  // namespace
}  // namespace rwd::test
