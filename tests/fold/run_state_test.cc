#include "rewind/fold/run_state.h"

#include <gtest/gtest.h>

#include "tests/fold/run_builder.h"

namespace rwd::test {
namespace {

// validate -> charge (3 attempts) -> ship
RunStarted Linear() { return Definition({Def("validate"), Def("charge", {0}, StepKind::kCode, 3), Def("ship", {1})}); }

TEST(RunStateTest, RunStartedMakesARunningRunWithPendingSteps) {
  RunBuilder b(Linear());
  EXPECT_EQ(b.state().status, RunStatus::kRunning);
  EXPECT_EQ(b.state().seq, 1u);
  ASSERT_EQ(b.state().steps.size(), 3u);
  EXPECT_EQ(b.state().steps[0].status, StepStatus::kPending);
}

TEST(RunStateTest, SecondRunStartedIsRefused) {
  RunBuilder b(Linear());
  EXPECT_THAT(b.Try(Linear()), HasCode(Code::kCorruption));
}

TEST(RunStateTest, EveryEventBeforeRunStartedIsRefused) {
  // Any body but a definition, those that need none included (a signal, a
  // cancel, a manual pause), and the state stays empty.
  const std::vector<EventBody> bodies = {StepStarted{0, 1, 0},
                                         SignalReceived{"go", {}},
                                         CancelRequested{"stop"},
                                         RunCancelled{"stop"},
                                         RunPaused{kNoStep, PauseReason::kManual, "hold"},
                                         ResumeRequested{0, "again", "r", {}},
                                         RunCompleted{}};
  for (const EventBody& body : bodies) {
    RunState s;
    EXPECT_THAT(Evolve(s, Event{0, std::nullopt, kSchemaVersion, body}), HasCode(Code::kCorruption))
        << EventTypeName(body);
    EXPECT_EQ(s, RunState{});
  }
}

TEST(RunStateTest, StepCannotStartBeforeItsDependenciesComplete) {
  RunBuilder b(Linear());
  const Status s = b.Try(StepStarted{1, 1, 0});
  ASSERT_THAT(s, HasCode(Code::kCorruption));
  EXPECT_NE(s.message().find("'validate'"), std::string::npos) << s.message();
}

TEST(RunStateTest, AttemptsCountWithinTheEpochAndInTotal) {
  RunBuilder b(Linear());
  b.Complete(0).FailAttempt(1).Apply(RetryScheduled{1, 2, 5}).Complete(1);
  const StepState& charge = b.state().steps[1];
  EXPECT_EQ(charge.attempts, 2u);
  EXPECT_EQ(charge.total_attempts, 2u);
  EXPECT_EQ(charge.status, StepStatus::kCompleted);
  EXPECT_EQ(charge.output, ToBytes("out"));
}

TEST(RunStateTest, OutcomeOfAnAttemptNotInFlightIsRefused) {
  RunBuilder b(Linear());
  b.Apply(StepStarted{0, 1, 0});
  EXPECT_THAT(b.Try(StepCompleted{0, 2, {}, 0}), HasCode(Code::kCorruption));
  EXPECT_THAT(b.Try(StepCompleted{0, 1, {}, 1}), HasCode(Code::kCorruption));
  EXPECT_THAT(b.Try(StepFailed{1, 1, "x", "", true, 0}), HasCode(Code::kCorruption));
}

TEST(RunStateTest, RefusedEventLeavesTheStateUnchanged) {
  RunBuilder b(Linear());
  b.Complete(0);
  const RunState before = b.state();
  EXPECT_FALSE(b.Try(RunCompleted{}).ok());
  EXPECT_EQ(b.state(), before);
}

TEST(RunStateTest, FailedAttemptRecordsTheErrorAndWhetherItIsRetryable) {
  RunBuilder b(Linear());
  b.FailAttempt(0, false);
  const StepState& s = b.state().steps[0];
  EXPECT_EQ(s.status, StepStatus::kFailed);
  EXPECT_EQ(s.error_code, "boom");
  EXPECT_FALSE(s.retryable);
  EXPECT_THAT(b.Try(RetryScheduled{0, 2, 0}), HasCode(Code::kCorruption));
}

TEST(RunStateTest, RetryScheduledWaitsUntilItsDueTime) {
  RunBuilder b(Linear());
  b.FailAttempt(0).Apply(RetryScheduled{0, 2, 1234});
  EXPECT_EQ(b.state().steps[0].status, StepStatus::kRetryWait);
  EXPECT_EQ(b.state().steps[0].due_unix_us, 1234);
}

TEST(RunStateTest, AbandonedAttemptCountsAsARetryableFailure) {
  RunBuilder b(Linear());
  b.Apply(StepStarted{0, 1, 0}).Apply(StepAbandoned{0, 1, 0});
  EXPECT_EQ(b.state().steps[0].status, StepStatus::kFailed);
  EXPECT_EQ(b.state().steps[0].error_code, "abandoned");
  EXPECT_TRUE(b.state().steps[0].retryable);
}

TEST(RunStateTest, ApprovalPausesTheRunAndApprovingContinuesItWithTheData) {
  RunBuilder b(Definition({Def("a"), Def("approve", {0}, StepKind::kApproval), Def("c", {1})}));
  b.Complete(0).Apply(RunPaused{1, PauseReason::kApprovalRequired, ""});
  EXPECT_EQ(b.state().status, RunStatus::kPaused);
  EXPECT_EQ(b.state().paused_step, 1u);
  b.Apply(ApprovalDecided{1, true, ToBytes("ok by ops")});
  EXPECT_EQ(b.state().status, RunStatus::kRunning);
  EXPECT_EQ(b.state().steps[1].status, StepStatus::kCompleted);
  EXPECT_EQ(b.state().steps[1].output, ToBytes("ok by ops"));
}

TEST(RunStateTest, RejectionFailsTheGateForGood) {
  RunBuilder b(Definition({Def("approve", {}, StepKind::kApproval)}));
  b.Apply(RunPaused{0, PauseReason::kApprovalRequired, ""}).Apply(ApprovalDecided{0, false, {}});
  EXPECT_EQ(b.state().steps[0].status, StepStatus::kFailed);
  EXPECT_FALSE(b.state().steps[0].retryable);
}

TEST(RunStateTest, ApprovalOfAStepThatAwaitsNoneIsRefused) {
  RunBuilder b(Definition({Def("a"), Def("approve", {0}, StepKind::kApproval)}));
  EXPECT_THAT(b.Try(ApprovalDecided{1, true, {}}), HasCode(Code::kCorruption));
}

TEST(RunStateTest, SignalForAPausedWaitCompletesTheStep) {
  RunBuilder b(Definition({Def("wait", {}, StepKind::kSignal)}));
  b.Apply(RunPaused{0, PauseReason::kSignalWait, ""}).Apply(SignalReceived{"go", ToBytes("now")});
  EXPECT_EQ(b.state().status, RunStatus::kRunning);
  EXPECT_EQ(b.state().steps[0].output, ToBytes("now"));
}

TEST(RunStateTest, EarlySignalIsKeptUntilItsStepConsumesIt) {
  RunBuilder b(Definition({Def("a"), Def("wait", {0}, StepKind::kSignal)}));
  b.Apply(SignalReceived{"go", ToBytes("early")});
  ASSERT_EQ(b.state().pending_signals.size(), 1u);
  b.Complete(0).Complete(1, "early");
  EXPECT_TRUE(b.state().pending_signals.empty());
}

TEST(RunStateTest, TimerWaitsAndFiringCompletesTheSleep) {
  RunBuilder b(Definition({Def("nap", {}, StepKind::kSleep)}));
  b.Apply(TimerScheduled{0, 99});
  EXPECT_EQ(b.state().steps[0].status, StepStatus::kWaiting);
  b.Apply(TimerFired{0});
  EXPECT_EQ(b.state().steps[0].status, StepStatus::kCompleted);
}

TEST(RunStateTest, ResumeOfARunningRunIsRefused) {
  RunBuilder b(Linear());
  EXPECT_THAT(b.Try(ResumeRequested{0, "", "r1", {}}), HasCode(Code::kCorruption));
}

TEST(RunStateTest, ResumeResetsTheStepItsDependentsAndUnfinishedStepsOnly) {
  // a -> b -> c, and d independent; b failed for good; resume from b.
  RunBuilder b(Definition({Def("a"), Def("b", {0}), Def("c", {1}), Def("d")}));
  b.Complete(0, "A").Complete(3, "D").FailAttempt(1, false).Apply(RunFailed{1, "boom", ""});
  b.Apply(ResumeRequested{1, "fixed config", "req-1", {}});
  const RunState& s = b.state();
  EXPECT_EQ(s.status, RunStatus::kRunning);
  EXPECT_EQ(s.epoch, 1u);
  EXPECT_EQ(s.steps[0].output, ToBytes("A"));  // kept
  EXPECT_EQ(s.steps[3].output, ToBytes("D"));  // kept: independent of b
  EXPECT_EQ(s.steps[1].status, StepStatus::kPending);
  EXPECT_EQ(s.steps[1].attempts, 0u);        // fresh budget
  EXPECT_EQ(s.steps[1].total_attempts, 1u);  // history kept
  EXPECT_EQ(s.steps[1].epoch, 1u);
  EXPECT_EQ(s.steps[2].epoch, 1u);  // dependent of b
  EXPECT_EQ(s.steps[0].epoch, 0u);
  ASSERT_EQ(s.resumes.size(), 1u);
  EXPECT_EQ(s.resumes[0].request_id, "req-1");
  EXPECT_EQ(s.resumes[0].seq, s.seq);
  EXPECT_EQ(s.resumes[0].epoch, 1u);
}

TEST(RunStateTest, ResumeFromAnEarlierCompletedStepResetsEverythingAfterIt) {
  RunBuilder b(Linear());
  b.Complete(0).Complete(1).Complete(2).Apply(RunCompleted{});
  b.Apply(ResumeRequested{0, "re-run", "r", {}});
  for (const StepState& s : b.state().steps) {
    EXPECT_EQ(s.status, StepStatus::kPending);
    EXPECT_TRUE(s.output.empty());
  }
  EXPECT_TRUE(b.state().output.empty());
}

TEST(RunStateTest, CancelStopsTheRunAndRefusesLateOutcomes) {
  RunBuilder b(Linear());
  b.Apply(StepStarted{0, 1, 0}).Apply(CancelRequested{"no longer needed"}).Apply(RunCancelled{"no longer needed"});
  EXPECT_EQ(b.state().status, RunStatus::kCancelled);
  EXPECT_EQ(b.state().steps[0].status, StepStatus::kCancelled);
  EXPECT_THAT(b.Try(StepCompleted{0, 1, {}, 0}), HasCode(Code::kCorruption));
  EXPECT_THAT(b.Try(RunCancelled{""}), HasCode(Code::kCorruption));
}

TEST(RunStateTest, RunCompletesOnlyWhenEveryStepCompleted) {
  RunBuilder b(Linear());
  b.Complete(0).Complete(1);
  EXPECT_THAT(b.Try(RunCompleted{}), HasCode(Code::kCorruption));
  b.Complete(2).Apply(RunCompleted{ToBytes("done")});
  EXPECT_EQ(b.state().status, RunStatus::kCompleted);
  EXPECT_EQ(b.state().output, ToBytes("done"));
}

TEST(RunStateTest, ManualPauseStopsTheRunUntilResumed) {
  RunBuilder b(Linear());
  b.Apply(RunPaused{kNoStep, PauseReason::kManual, "maintenance"});
  EXPECT_EQ(b.state().status, RunStatus::kPaused);
  EXPECT_THAT(b.Try(StepStarted{0, 1, 0}), HasCode(Code::kCorruption));
  b.Apply(ResumeRequested{0, "", "r", {}});
  EXPECT_EQ(b.state().status, RunStatus::kRunning);
}

TEST(RunStateTest, ForkStartsInEpochOneWithTheKeptOutputs) {
  RunForked fork;
  fork.parent_run = RunId::New();
  fork.parent_seq = 7;
  fork.from_step = 1;
  fork.start = Linear();
  fork.kept = {StepOutput{0, ToBytes("A")}};
  RunState s;
  ASSERT_THAT(Evolve(s, Event{0, std::nullopt, kSchemaVersion, fork}), IsOk());
  EXPECT_EQ(s.parent, fork.parent_run);
  EXPECT_EQ(s.epoch, 1u);
  EXPECT_EQ(s.steps[0].status, StepStatus::kCompleted);
  EXPECT_EQ(s.steps[0].output, ToBytes("A"));
  EXPECT_EQ(s.steps[1].status, StepStatus::kPending);
}

TEST(RunStateTest, AnEventGivenUpFoldsAsACopyDoes) {
  RunForked fork;
  fork.parent_run = RunId::New();
  fork.from_step = 1;
  fork.start = Linear();
  fork.kept = {StepOutput{0, ToBytes("A")}};
  for (const EventBody& body : {EventBody(Linear()), EventBody(fork)}) {
    const Event event{5, std::nullopt, kSchemaVersion, body};
    RunState copied, moved;
    ASSERT_THAT(Evolve(copied, event), IsOk());
    Event given = event;
    ASSERT_THAT(Evolve(moved, std::move(given)), IsOk());
    EXPECT_EQ(moved, copied);
    EXPECT_EQ(*moved.definition, Linear());
  }
}

TEST(RunStateTest, ARefusedEventGivenUpKeepsItsDefinition) {
  RunBuilder b(Linear());
  RunState state = b.state();
  Event second{0, std::nullopt, kSchemaVersion, Linear()};
  EXPECT_THAT(Evolve(state, std::move(second)), HasCode(Code::kCorruption));
  EXPECT_EQ(std::get<RunStarted>(second.body), Linear());  // NOLINT(bugprone-use-after-move): refused, kept
  EXPECT_EQ(state, b.state());
}

std::vector<Event> Events(std::initializer_list<EventBody> bodies) {
  std::vector<Event> out;
  for (const EventBody& b : bodies) out.push_back(Event{0, std::nullopt, kSchemaVersion, b});
  return out;
}

TEST(RunStateTest, SeqAtStepIsRightAfterTheLastCompletionWhateverCompletedIt) {
  const RunStarted def = Definition({Def("a"), Def("wait", {0}, StepKind::kSignal)});
  const auto events = Events({def, StepStarted{0, 1, 0}, StepCompleted{0, 1, {}, 0},
                              RunPaused{1, PauseReason::kSignalWait, ""}, SignalReceived{"go", {}}});
  EXPECT_EQ(*SeqAtStep(events, 0), 3u);
  EXPECT_EQ(*SeqAtStep(events, 1), 5u) << "a signal completes a signal step";
}

TEST(RunStateTest, SeqAtStepOfAnUnfinishedStepIsRightBeforeItStarted) {
  const auto events = Events({Definition({Def("a"), Def("b", {0})}), StepStarted{0, 1, 0}});
  EXPECT_EQ(*SeqAtStep(events, 0), 1u);
  EXPECT_THAT(SeqAtStep(events, 1), HasCode(Code::kFailedPrecondition));
}

TEST(RunStateTest, SeqAtStepOfAStepAForkKeptIsTheForkItself) {
  RunForked fork;
  fork.parent_run = RunId::New();
  fork.start = Definition({Def("a"), Def("b", {0})});
  fork.from_step = 1;
  fork.kept = {StepOutput{0, ToBytes("A")}};
  EXPECT_EQ(*SeqAtStep(Events({fork}), 0), 1u);
}

TEST(RunStateTest, DefinitionsWithCyclesDuplicatesOrNoStepsAreInvalid) {
  const Status cycle = ValidateDefinition(Definition({Def("root"), Def("a", {0, 2}), Def("b", {1})}));
  ASSERT_THAT(cycle, HasCode(Code::kInvalidArgument));
  EXPECT_NE(cycle.message().find("cycle"), std::string::npos);
  EXPECT_EQ(cycle.message().find("'root'"), std::string::npos) << cycle.message();
  EXPECT_THAT(ValidateDefinition(Definition({Def("a"), Def("a")})), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(ValidateDefinition(Definition({})), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(ValidateDefinition(Linear()), IsOk());
}

// Runs of one stored definition share its steps, checked once per thread;
// a copy changed afterwards is a list of its own, checked again.
TEST(RunStateTest, AStepListFoundValidOnceIsCheckedAgainWhenACopyOfItChanges) {
  const RunStarted valid = Definition({Def("a"), Def("b", {0})});
  ASSERT_THAT(ValidateDefinition(valid), IsOk());
  RunStarted shared = valid;
  ASSERT_TRUE(shared.steps.SharesWith(valid.steps));
  EXPECT_THAT(ValidateDefinition(shared), IsOk());
  shared.steps.Mutable()[1].id = "a";
  EXPECT_FALSE(shared.steps.SharesWith(valid.steps));
  EXPECT_THAT(ValidateDefinition(shared), HasCode(Code::kInvalidArgument));
  shared.steps.Mutable()[1].id = "b";
  shared.steps.Mutable()[0].depends_on = {1};
  EXPECT_THAT(ValidateDefinition(shared), HasCode(Code::kInvalidArgument));
  // The valid list's name checks still run.
  RunStarted renamed = valid;
  renamed.tenant = std::string(kMaxNameBytes + 1, 't');
  EXPECT_THAT(ValidateDefinition(renamed), HasCode(Code::kInvalidArgument));
}

TEST(RunStateTest, NamesLongerThanTheLimitAreInvalid) {
  const std::string longest(kMaxNameBytes, 'n'), too_long(kMaxNameBytes + 1, 'n');
  RunStarted def = Definition({Def(longest)});
  def.workflow = def.tenant = longest;
  EXPECT_THAT(ValidateDefinition(def), IsOk());
  for (int which = 0; which < 3; ++which) {
    RunStarted bad = def;
    (which == 0 ? bad.workflow : which == 1 ? bad.tenant : bad.steps.Mutable()[0].id) = too_long;
    EXPECT_THAT(ValidateDefinition(bad), HasCode(Code::kInvalidArgument)) << which;
  }
}

TEST(RunStateTest, AnEventWhoseActorHasALongerNameIsRefused) {
  RunBuilder b(Linear());
  Event e{0, Actor{ActorKind::kUser, std::string(kMaxNameBytes + 1, 's'), "t"}, kSchemaVersion, StepStarted{0, 1, 0}};
  EXPECT_THAT(Evolve(b.state(), e), HasCode(Code::kCorruption));
  e.actor->subject.resize(kMaxNameBytes);
  EXPECT_THAT(Evolve(b.state(), e), IsOk());
}

TEST(RunStateTest, RunStartedWithACyclicDefinitionIsRefused) {
  RunState s;
  EXPECT_THAT(Evolve(s, Event{0, std::nullopt, kSchemaVersion, Definition({Def("a", {1}), Def("b", {0})})}),
              HasCode(Code::kCorruption));
}

}  // namespace
}  // namespace rwd::test
