#include "rewind/executor/engine.h"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>
#include <vector>

#include "rewind/journal/tables.h"
#include "rewind/projections/history.h"
#include "tests/executor/engine_fixture.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;

Workflow Order(std::shared_ptr<Calls> calls, int charge_failures = 0, std::uint32_t charge_attempts = 3) {
  Workflow w("order");
  w.Step("validate", Counting(calls));
  w.Step("reserve", Counting(calls));
  w.Step("charge", Counting(calls, charge_failures)).Retry(RetryPolicy{charge_attempts, 0, 2.0, 0, 0});
  w.Step("ship", Counting(calls));
  return w;
}

TEST_F(EngineTest, RunsALinearWorkflowToCompletionWithTheLastOutput) {
  Open({Order(calls_)});
  const RunState s = AwaitStopped(StartRun("order"));
  EXPECT_EQ(s.status, RunStatus::kCompleted);
  EXPECT_EQ(s.output, ToBytes("ship-out"));
  EXPECT_EQ((*calls_)["validate"], 1);
  EXPECT_EQ((*calls_)["ship"], 1);
}

TEST_F(EngineTest, DependentsSeeTheOutputsOfTheirDependencies) {
  Workflow w("pipe");
  w.Step("a", [](const StepContext&) -> Result<Bytes> { return ToBytes("A"); });
  w.Step("b", [](const StepContext& c) -> Result<Bytes> {
    Bytes out = c.dependencies->at("a");
    out.insert(out.end(), c.input.begin(), c.input.end());
    return out;
  });
  Open({std::move(w)});
  EXPECT_EQ(AwaitStopped(StartRun("pipe")).output, ToBytes("Ainput"));
}

TEST_F(EngineTest, FailedAttemptsAreRetriedWithinTheBudget) {
  Open({Order(calls_, 2)});
  const RunId run = StartRun("order");
  EXPECT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  EXPECT_EQ((*calls_)["charge"], 3);
  EXPECT_EQ(Count(run, "RetryScheduled"), 2u);
}

TEST_F(EngineTest, ExhaustedBudgetFailsTheRunAndResumeFromTheStepFinishesIt) {
  Open({Order(calls_, 2, 2)});
  const RunId run = StartRun("order");
  const RunState failed = AwaitStopped(run);
  ASSERT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_NE(failed.error_message.find("'charge' failed after 2 attempt(s)"), std::string::npos);
  auto r = engine_->Resume(Resume(run, "charge"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->reset, (std::vector<std::string>{"charge", "ship"}));
  EXPECT_EQ(r->kept, (std::vector<std::string>{"validate", "reserve"}));
  const RunState done = AwaitStopped(run);
  EXPECT_EQ(done.status, RunStatus::kCompleted);
  EXPECT_EQ((*calls_)["validate"], 1) << "completed steps outside the reset set never run again";
  EXPECT_EQ(done.steps[2].attempts, 1u) << "the budget starts fresh";
  EXPECT_EQ(done.steps[2].total_attempts, 3u) << "auditors still see every attempt";
}

TEST_F(EngineTest, ResumeFromAnEarlierStepReRunsItAndItsDependentsOnly) {
  Workflow w("dag");
  w.Step("a", Counting(calls_));
  w.Step("b", Counting(calls_)).After({"a"});
  w.Step("c", Counting(calls_)).After({});
  w.Step("d", Counting(calls_)).After({"b", "c"});
  Open({std::move(w)});
  const RunId run = StartRun("dag");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  ASSERT_THAT(engine_->Resume(Resume(run, "b")), IsOk());
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  EXPECT_EQ((*calls_)["a"], 1);
  EXPECT_EQ((*calls_)["c"], 1);
  EXPECT_EQ((*calls_)["b"], 2);
  EXPECT_EQ((*calls_)["d"], 2);
}

TEST_F(EngineTest, ResumeWithoutAStepContinuesFromTheFirstUnfinishedOne) {
  Open({Order(calls_, 5, 1)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kFailed);
  auto r = engine_->Resume(Resume(run));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->from_step_id, "charge");
}

TEST_F(EngineTest, ResumePreconditionsGiveTheirDocumentedErrors) {
  Gate gate;
  Workflow w("slow");
  w.Step("wait", gate.Handler());
  w.Step("b", Counting(calls_));
  Open({std::move(w), Order(calls_, 9, 1)});
  const RunId running = StartRun("slow");
  EXPECT_THAT(engine_->Resume(Resume(running, "wait")), HasCode(Code::kConflict));
  gate.Open();
  EXPECT_THAT(engine_->Resume(Resume(RunId::New(), "wait")), HasCode(Code::kNotFound));

  const RunId failed = StartRun("order");
  ASSERT_EQ(AwaitStopped(failed).status, RunStatus::kFailed);
  EXPECT_THAT(engine_->Resume(Resume(failed, "no-such-step")), HasCode(Code::kNotFound));
  const auto missing = engine_->Resume(Resume(failed, "ship"));
  ASSERT_THAT(missing, HasCode(Code::kFailedPrecondition));
  EXPECT_NE(missing.error().message().find("'charge'"), std::string::npos);
  ResumeRequest other_tenant = Resume(failed, "charge");
  other_tenant.actor = Operator("acme");
  EXPECT_THAT(engine_->Resume(other_tenant), HasCode(Code::kNotFound));
  ResumeRequest no_role = Resume(failed, "charge");
  no_role.actor = User();
  EXPECT_THAT(engine_->Resume(no_role), HasCode(Code::kPermissionDenied));
  ResumeRequest stale = Resume(failed, "charge");
  stale.expected_seq = 1;
  EXPECT_THAT(engine_->Resume(stale), HasCode(Code::kConflict));
}

TEST_F(EngineTest, StepsCanBeNamedByTheirOneBasedIndex) {
  Open({Order(calls_, 9, 1)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kFailed);
  ResumeRequest r = Resume(run, "3");
  r.dry_run = true;
  EXPECT_EQ(engine_->Resume(r)->from_step_id, "charge");
}

TEST_F(EngineTest, RepeatedRequestIdReturnsTheFirstResultAndAppendsNothing) {
  Open({Order(calls_, 1, 1)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kFailed);
  ResumeRequest r = Resume(run, "charge");
  r.request_id = "req-1";
  const auto first = engine_->Resume(r);
  ASSERT_THAT(first, IsOk());
  AwaitStopped(run);
  const std::size_t events = Types(run).size();
  const auto again = engine_->Resume(r);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_EQ(again->reset, first->reset) << "the first result, not a new one";
  EXPECT_EQ(again->kept, first->kept);
  EXPECT_EQ(again->epoch, first->epoch);
  EXPECT_EQ(Types(run).size(), events);
}

TEST_F(EngineTest, DryRunPreviewsAndAppendsNothing) {
  Open({Order(calls_, 9, 1)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kFailed);
  const std::size_t events = Types(run).size();
  ResumeRequest r = Resume(run, "reserve");
  r.dry_run = true;
  const auto preview = engine_->Resume(r);
  ASSERT_THAT(preview, IsOk());
  EXPECT_EQ(preview->reset, (std::vector<std::string>{"reserve", "charge", "ship"}));
  EXPECT_EQ(preview->epoch, 1u);
  EXPECT_EQ(Types(run).size(), events);
  EXPECT_EQ(engine_->State(run, User())->status, RunStatus::kFailed);
}

TEST_F(EngineTest, ConcurrentResumesAppendExactlyOneResumeRequested) {
  // The resumed attempt waits until every resume has answered, so the run
  // stays running (and un-resumable) throughout.
  Gate gate;
  auto first = std::make_shared<std::atomic<bool>>(true);
  Workflow w("once");
  w.Step("charge", [first, gate](const StepContext&) -> Result<Bytes> {
    if (first->exchange(false)) return Err(Code::kUnavailable, "declined");
    gate.Wait();
    return Bytes{};
  }).Retry(RetryPolicy{1, 0, 2.0, 0, 0});
  Open({std::move(w)});
  const RunId run = StartRun("once");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kFailed);
  std::vector<std::future<Result<ResumeResult>>> results;
  for (int i = 0; i < 8; ++i) {
    results.push_back(std::async(std::launch::async, [&] { return engine_->Resume(Resume(run, "charge")); }));
  }
  int ok = 0, conflicts = 0;
  for (auto& f : results) {
    const auto r = f.get();
    if (r.has_value()) ++ok;
    if (!r.has_value() && r.error().code() == Code::kConflict) ++conflicts;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(conflicts, 7);
  gate.Open();
  AwaitStopped(run);
  EXPECT_EQ(Count(run, "ResumeRequested"), 1u);
}

TEST_F(EngineTest, ApprovalPausesTheRunAndApproveContinuesWithTheData) {
  Workflow w("release");
  w.Step("build", Counting(calls_));
  w.Approval("approve");
  w.Step("deploy", [](const StepContext& c) -> Result<Bytes> { return c.dependencies->at("approve"); });
  Open({std::move(w)});
  const RunId run = StartRun("release");
  const RunState paused = AwaitStopped(run);
  ASSERT_EQ(paused.status, RunStatus::kPaused);
  EXPECT_EQ(paused.paused_step, 1u);
  EXPECT_THAT(engine_->Approve(run, "approve", User()), HasCode(Code::kPermissionDenied));
  EXPECT_THAT(engine_->Approve(run, "build", Operator()), HasCode(Code::kFailedPrecondition));
  ASSERT_THAT(engine_->Approve(run, "approve", Operator(), ToBytes("ticket-7")), IsOk());
  const RunState done = AwaitStopped(run);
  EXPECT_EQ(done.status, RunStatus::kCompleted);
  EXPECT_EQ(done.output, ToBytes("ticket-7"));
  EXPECT_EQ((*calls_)["build"], 1);
}

TEST_F(EngineTest, ResumingARunPausedAtItsGateAsksForTheApprovalAgain) {
  Workflow w("release");
  w.Step("build", Counting(calls_));
  w.Approval("approve");
  w.Step("deploy", Counting(calls_));
  Open({std::move(w)});
  const RunId run = StartRun("release");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kPaused);
  const auto r = engine_->Resume(Resume(run));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->from_step_id, "approve");
  const RunState again = AwaitStopped(run);
  EXPECT_EQ(again.status, RunStatus::kPaused);
  EXPECT_EQ(again.paused_step, 1u);
  EXPECT_EQ((*calls_)["build"], 1);
  ASSERT_THAT(engine_->Approve(run, "approve", Operator()), IsOk());
  EXPECT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
}

TEST_F(EngineTest, ResumeOfACancelledDagSkipsSucceededTasksAndReRunsTheRest) {
  Gate gate;
  Workflow w("dag");
  w.Step("left", Counting(calls_));
  w.Step("right", [gate, calls = calls_](const StepContext& c) -> Result<Bytes> {
     calls->Add(c.step->id);
     if (c.epoch == 0) gate.Wait();  // the first epoch is cancelled while here
     return Bytes{};
   }).After({});
  w.Step("join", Counting(calls_)).After({"left", "right"});
  Open({std::move(w)});
  const RunId run = StartRun("dag");
  while (engine_->State(run, User())->steps[0].status != StepStatus::kCompleted) std::this_thread::sleep_for(1ms);
  ASSERT_THAT(engine_->Cancel(run, Operator(), "wrong input"), IsOk());
  gate.Open();
  const RunState cancelled = AwaitStopped(run);
  ASSERT_EQ(cancelled.status, RunStatus::kCancelled);
  EXPECT_EQ(cancelled.steps[1].status, StepStatus::kCancelled);
  ASSERT_THAT(engine_->Resume(Resume(run)), IsOk());
  EXPECT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  EXPECT_EQ((*calls_)["left"], 1) << "a succeeded task is a satisfied dependency";
  EXPECT_EQ((*calls_)["right"], 2);
  EXPECT_EQ((*calls_)["join"], 1);
}

TEST_F(EngineTest, ResumeOfACompletedRunFromAnUnknownStepIsNotFound) {
  Open({Order(calls_)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  EXPECT_THAT(engine_->Resume(Resume(run, "refund")), HasCode(Code::kNotFound));
  EXPECT_THAT(engine_->Resume(Resume(run)), HasCode(Code::kFailedPrecondition)) << "nothing left to continue";
  EXPECT_THAT(engine_->Resume(Resume(run, "ship")), IsOk()) << "a completed run can be re-run from a step";
}

TEST_F(EngineTest, OtherTenantsCannotSeeOrTouchARun) {
  Open({Order(calls_)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  const Principal stranger = Operator("acme");
  EXPECT_THAT(engine_->State(run, stranger), HasCode(Code::kNotFound));
  EXPECT_THAT(engine_->Events(run, stranger), HasCode(Code::kNotFound));
  EXPECT_THAT(engine_->Cancel(run, stranger, "x"), HasCode(Code::kNotFound));
  EXPECT_THAT(engine_->Signal(run, "x", {}, stranger), HasCode(Code::kNotFound));
  EXPECT_THAT(engine_->Fork(ForkRequest{run, "ship", std::nullopt, stranger}), HasCode(Code::kNotFound));
  EXPECT_THAT(engine_->Await(run, stranger, 1s), HasCode(Code::kNotFound));
}

TEST_F(EngineTest, APrincipalWithAnOverlongNameIsRefused) {
  Open({Order(calls_)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  const std::uint64_t before = *engine_->journal().LastPosition();
  Principal wordy = Operator();
  wordy.subject.assign(kMaxNameBytes + 1, 's');
  EXPECT_THAT(engine_->Start(StartRequest{"order", {}, "", wordy}), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(engine_->Cancel(run, wordy, "x"), HasCode(Code::kInvalidArgument));
  wordy = Operator(std::string(kMaxNameBytes + 1, 't'));
  EXPECT_THAT(engine_->State(run, wordy), HasCode(Code::kInvalidArgument));
  EXPECT_EQ(*engine_->journal().LastPosition(), before);
}

TEST_F(EngineTest, RejectionFailsTheRun) {
  Workflow w("release");
  w.Approval("approve");
  w.Step("deploy", Counting(calls_));
  Open({std::move(w)});
  const RunId run = StartRun("release");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kPaused);
  ASSERT_THAT(engine_->Reject(run, "approve", Operator()), IsOk());
  EXPECT_EQ(AwaitStopped(run).status, RunStatus::kFailed);
  EXPECT_EQ((*calls_)["deploy"], 0);
}

TEST_F(EngineTest, SignalCompletesAWaitingStepAndAnEarlySignalIsKept) {
  Workflow w("signals");
  w.Signal("go", "go-live");
  w.Signal("again", "second");
  Open({std::move(w)});
  const RunId run = StartRun("signals");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kPaused);
  ASSERT_THAT(engine_->Signal(run, "second", ToBytes("early"), User()), IsOk());
  ASSERT_THAT(engine_->Signal(run, "go-live", ToBytes("now"), User()), IsOk());
  const RunState done = AwaitStopped(run);
  EXPECT_EQ(done.status, RunStatus::kCompleted);
  EXPECT_EQ(done.output, ToBytes("early"));
}

TEST_F(EngineTest, SleepWaitsThenContinues) {
  Workflow w("nap");
  w.Sleep("nap", 20ms);
  w.Step("after", Counting(calls_));
  Open({std::move(w)});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(AwaitStopped(StartRun("nap")).status, RunStatus::kCompleted);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
}

TEST_F(EngineTest, CancelStopsTheRunAndTheLateOutcomeIsNotRecorded) {
  Gate gate;
  Workflow w("slow");
  w.Step("wait", gate.Handler());
  Open({std::move(w)});
  const RunId run = StartRun("slow");
  EXPECT_THAT(engine_->Cancel(run, User(), "no"), HasCode(Code::kPermissionDenied));
  ASSERT_THAT(engine_->Cancel(run, Operator(), "not needed"), IsOk());
  gate.Open();
  EXPECT_EQ(AwaitStopped(run).status, RunStatus::kCancelled);
  EXPECT_EQ(Count(run, "StepCompleted"), 0u);
  EXPECT_THAT(engine_->Cancel(run, Operator(), "again"), HasCode(Code::kConflict));
}

TEST_F(EngineTest, PausedRunContinuesWhenResumed) {
  Gate gate;
  Workflow w("slow");
  w.Step("wait", gate.Handler());
  w.Step("next", Counting(calls_));
  Open({std::move(w)});
  const RunId run = StartRun("slow");
  ASSERT_THAT(engine_->Pause(run, Operator(), "maintenance"), IsOk());
  gate.Open();
  const RunState paused = AwaitStopped(run);
  EXPECT_EQ(paused.status, RunStatus::kPaused);
  EXPECT_EQ(paused.steps[0].status, StepStatus::kCompleted) << "the attempt in flight finished and was kept";
  EXPECT_EQ((*calls_)["next"], 0);
  ASSERT_THAT(engine_->Resume(Resume(run)), IsOk());
  EXPECT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
}

TEST_F(EngineTest, ForkRunsFromAStepWithoutTouchingTheParent) {
  Open({Order(calls_)});
  const RunId parent = StartRun("order");
  ASSERT_EQ(AwaitStopped(parent).status, RunStatus::kCompleted);
  const std::size_t parent_events = Types(parent).size();
  auto child = engine_->Fork(ForkRequest{parent, "charge", std::nullopt, Operator()});
  ASSERT_THAT(child, IsOk());
  const RunState s = AwaitStopped(*child);
  EXPECT_EQ(s.status, RunStatus::kCompleted);
  EXPECT_EQ(s.parent, parent);
  EXPECT_EQ((*calls_)["reserve"], 1);
  EXPECT_EQ((*calls_)["charge"], 2);
  EXPECT_EQ(Types(parent).size(), parent_events);
}

TEST_F(EngineTest, ForkWithTheSameRequestIdMakesOneRun) {
  Open({Order(calls_)});
  const RunId parent = StartRun("order");
  ASSERT_EQ(AwaitStopped(parent).status, RunStatus::kCompleted);
  ForkRequest fork{parent, "charge", std::nullopt, Operator(), "click-1"};
  std::vector<std::future<Result<RunId>>> at_once;
  for (int i = 0; i < 4; ++i) at_once.push_back(std::async(std::launch::async, [&] { return engine_->Fork(fork); }));
  std::set<RunId> made;
  for (auto& f : at_once) {
    const Result<RunId> child = f.get();
    ASSERT_THAT(child, IsOk());
    made.insert(*child);
  }
  ASSERT_EQ(made.size(), 1u) << "four forks with one request id made one run";
  EXPECT_EQ(AwaitStopped(*made.begin()).status, RunStatus::kCompleted);
  EXPECT_EQ(engine_->Fork(fork).value(), *made.begin()) << "and once it is done too";
  EXPECT_EQ((*calls_)["charge"], 2) << "the parent's charge and the one fork's";
  fork.request_id = "click-2";
  EXPECT_NE(engine_->Fork(fork).value(), *made.begin()) << "another id is another fork";
  fork.request_id = "click-1";
  fork.run = StartRun("order");
  ASSERT_EQ(AwaitStopped(fork.run).status, RunStatus::kCompleted);
  EXPECT_NE(engine_->Fork(fork).value(), *made.begin()) << "the same id on another run is another fork";
}

TEST_F(EngineTest, ADefinitionIsStoredOnceAndEveryRunAndForkNamesIt) {
  Open({Order(calls_)});
  const RunId a = StartRun("order");
  const RunId b = StartRun("order");
  ASSERT_EQ(AwaitStopped(a).status, RunStatus::kCompleted);
  ASSERT_EQ(AwaitStopped(b).status, RunStatus::kCompleted);
  auto child = engine_->Fork(ForkRequest{a, "charge", std::nullopt, Operator()});
  ASSERT_THAT(child, IsOk());
  ASSERT_EQ(AwaitStopped(*child).status, RunStatus::kCompleted);
  const RunStarted registered = Order(calls_).Definition().value();
  const Bytes definition = EncodeDefinition(registered);
  for (const RunId& run : {a, b, *child}) {
    ASSERT_THAT(engine_->journal().ReadRun(run, 1, 1, [&](const EventRecord& r) -> Status {
      // As stored: the definition's hash, not its steps.
      const Event bare = Decode(r.payload).value();
      const auto* fork = std::get_if<RunForked>(&bare.body);
      const RunStarted& named = fork != nullptr ? fork->start : std::get<RunStarted>(bare.body);
      EXPECT_TRUE(named.definition_stored);
      EXPECT_TRUE(named.steps.empty());
      EXPECT_LT(r.payload.size(), definition.size()) << "run " << run.ToString();
      // As read from the journal: the steps registered.
      const Event read = DecodeRecord(r).value();
      const auto* read_fork = std::get_if<RunForked>(&read.body);
      EXPECT_EQ((read_fork != nullptr ? read_fork->start : std::get<RunStarted>(read.body)).steps, registered.steps);
      return Status::Ok();
    }),
                IsOk());
  }
  Hash hash{};
  std::copy(registered.definition_hash.begin(), registered.definition_hash.end(), hash.begin());
  ASSERT_THAT(engine_->journal().View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> blob, view.Blob(hash));
    EXPECT_TRUE(blob.has_value());
    if (blob) {
      EXPECT_TRUE(std::equal(blob->begin(), blob->end(), definition.begin(), definition.end()));
    }
    return Status::Ok();
  }),
              IsOk());
  // An engine that opens the journal later folds the runs from it.
  Open({Order(calls_)});
  EXPECT_EQ(engine_->State(b, Operator()).value().definition->steps, registered.steps);
}

TEST_F(EngineTest, StateAtAndStateAtStepTravelToEarlierPoints) {
  Open({Order(calls_)});
  const RunId run = StartRun("order");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  const auto first = engine_->StateAt(run, 1, User());
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->steps[0].status, StepStatus::kPending);
  const auto at_reserve = engine_->StateAtStep(run, "reserve", User());
  ASSERT_THAT(at_reserve, IsOk());
  EXPECT_EQ(at_reserve->steps[1].status, StepStatus::kCompleted);
  EXPECT_NE(at_reserve->steps[2].status, StepStatus::kCompleted);
  EXPECT_THAT(engine_->StateAt(run, 999, User()), HasCode(Code::kNotFound));
  EXPECT_THAT(engine_->StateAt(run, 1, User("acme")), HasCode(Code::kNotFound));
}

TEST_F(EngineTest, StartWithTheSameIdempotencyKeyReturnsTheSameRun) {
  Open({Order(calls_)});
  const StartRequest req{"order", {}, "order-42", User()};
  const auto a = engine_->Start(req);
  const auto b = engine_->Start(req);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, *b);
  AwaitStopped(*a);
  EXPECT_EQ((*calls_)["validate"], 1);
}

TEST_F(EngineTest, UnknownWorkflowIsNotFound) {
  Open({Order(calls_)});
  EXPECT_THAT(engine_->Start(StartRequest{"nope", {}, "", User()}), HasCode(Code::kNotFound));
}

TEST_F(EngineTest, HandlerExceptionsAndTimeoutsFailTheAttempt) {
  Workflow w("bad");
  w.Step("throws", [](const StepContext&) -> Result<Bytes> { throw std::runtime_error("kaput"); });
  Workflow t("slow");
  t.Step("hangs", [](const StepContext& c) -> Result<Bytes> {
     while (!c.stop.stop_requested()) std::this_thread::sleep_for(1ms);
     return Bytes{};
   }).Timeout(20ms);
  Open({std::move(w), std::move(t)});
  const RunState thrown = AwaitStopped(StartRun("bad"));
  EXPECT_EQ(thrown.status, RunStatus::kFailed);
  EXPECT_NE(thrown.steps[0].error_message.find("kaput"), std::string::npos);
  const RunState timed_out = AwaitStopped(StartRun("slow"));
  EXPECT_EQ(timed_out.status, RunStatus::kFailed);
  EXPECT_NE(timed_out.steps[0].error_message.find("timed out"), std::string::npos);
}

// At most handler_threads handlers run at once; the others wait their turn,
// and the runs' decisions never wait for a slot: requests on other runs are
// answered while every slot is held.
TEST_F(EngineTest, HandlersBeyondTheSlotsWaitTheirTurnAndNeverHoldUpRequests) {
  Gate gate;
  auto running = std::make_shared<std::atomic<int>>(0);
  auto most = std::make_shared<std::atomic<int>>(0);
  Workflow w("held");
  w.Step("hold", [&gate, running, most](const StepContext& c) -> Result<Bytes> {
    const int now = ++*running;
    for (int m = most->load(); now > m && !most->compare_exchange_weak(m, now);) {
    }
    gate.Handler()(c);
    --*running;
    return Bytes{};
  });
  EngineOptions o = Options();
  o.handler_threads = 2;
  o.workflows.push_back(std::move(w));
  Open(std::move(o));
  std::vector<RunId> runs;
  for (int i = 0; i < 2; ++i) runs.push_back(StartRun("held"));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (running->load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(running->load(), 2);
  // Both slots held: these two wait for one.
  for (int i = 0; i < 2; ++i) runs.push_back(StartRun("held"));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(most->load(), 2);
  // Every slot is held: a cancel of a run still waiting for one is decided
  // and durable at once, and reads are answered.
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_THAT(engine_->Cancel(runs[3], Operator(), "not needed"), IsOk());
  EXPECT_EQ(AwaitStopped(runs[3]).status, RunStatus::kCancelled);
  ASSERT_THAT(engine_->State(runs[0], User()), IsOk());
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s);
  gate.Open();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(AwaitStopped(runs[i]).status, RunStatus::kCompleted);
  EXPECT_EQ(most->load(), 2);
  EXPECT_EQ(Count(runs[3], "StepCompleted"), 0u);
}

// A step's timeout is armed on another thread than its handler's, so it
// fires even while that handler holds the only slot.
TEST_F(EngineTest, ATimeoutFiresWhileItsHandlerHoldsTheOnlySlot) {
  Workflow t("slow");
  t.Step("hangs", [](const StepContext& c) -> Result<Bytes> {
     while (!c.stop.stop_requested()) std::this_thread::sleep_for(1ms);
     return Bytes{};
   }).Timeout(20ms);
  EngineOptions o = Options();
  o.handler_threads = 1;
  o.workflows.push_back(std::move(t));
  Open(std::move(o));
  const RunState timed_out = AwaitStopped(StartRun("slow"));
  EXPECT_EQ(timed_out.status, RunStatus::kFailed);
  EXPECT_NE(timed_out.steps[0].error_message.find("timed out"), std::string::npos);
}

TEST_F(EngineTest, RunsLeftRunningContinueAfterReopenAndTheAttemptIsAbandoned) {
  auto first_call = std::make_shared<std::atomic<bool>>(true);
  auto inside = std::make_shared<std::atomic<bool>>(false);
  auto make = [&] {
    Workflow w("crashy");
    w.Step("a", Counting(calls_));
    w.Step("b", [first_call, inside](const StepContext& c) -> Result<Bytes> {
      if (first_call->exchange(false)) {  // the first engine "crashes" inside this attempt
        *inside = true;
        while (!c.stop.stop_requested()) std::this_thread::sleep_for(1ms);
        return Err(Code::kUnavailable, "interrupted");
      }
      return ToBytes("b-out");
    });  // the default policy retries: an abandoned attempt counts as a failed one
    return w;
  };
  Open({make()});
  const RunId run = StartRun("crashy");
  // The durable state shows b running once its StepStarted is committed,
  // which may be before its handler is called: wait for the handler.
  while (!*inside) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(engine_->State(run, User())->steps[1].status, StepStatus::kRunning);
  engine_.reset();  // the outcome of the interrupted attempt is not recorded
  Open({make()});
  const RunState done = AwaitStopped(run);
  EXPECT_EQ(done.status, RunStatus::kCompleted);
  EXPECT_EQ(Count(run, "StepAbandoned"), 1u);
  EXPECT_EQ((*calls_)["a"], 1);
}

// A timed-out attempt's failure is recorded at once, but its retry starts
// only once the attempt's handler has stopped (a command gets a grace
// before it is killed): two attempts of a step never run at once.
TEST_F(EngineTest, ARetryAfterATimeoutStartsOnlyOnceTheTimedOutAttemptHasStopped) {
  auto mu = std::make_shared<std::mutex>();
  auto log = std::make_shared<std::vector<std::string>>();
  auto note = [mu, log](std::string what) {
    std::lock_guard<std::mutex> lock(*mu);
    log->push_back(std::move(what));
  };
  Workflow w("stubborn");
  w.Step("s", [note](const StepContext& c) -> Result<Bytes> {
     note("start " + std::to_string(c.attempt));
     if (c.attempt > 1) return Bytes{};
     while (!c.stop.stop_requested()) std::this_thread::sleep_for(1ms);
     std::this_thread::sleep_for(300ms);  // stops slowly, as a command in its grace
     note("end 1");
     return Err(Code::kUnavailable, "stopped");
   })
      .Timeout(50ms)
      .Retry(RetryPolicy{2, 0, 2.0, 0, 0});
  Open({std::move(w)});
  const RunState done = AwaitStopped(StartRun("stubborn"));
  EXPECT_EQ(done.status, RunStatus::kCompleted);
  std::lock_guard<std::mutex> lock(*mu);
  EXPECT_EQ(*log, (std::vector<std::string>{"start 1", "end 1", "start 2"}));
}

// An engine closing stops new work: a handler still waiting for a slot then
// never runs, and its attempt is retried after the next Open, as one in
// flight is.
TEST_F(EngineTest, AtCloseHandlersWaitingForASlotNeverRunAndAreRetriedAfterReopen) {
  auto holding = std::make_shared<std::atomic<bool>>(false);
  auto first_engine = std::make_shared<std::atomic<bool>>(true);
  auto make = [&] {
    Workflow w("one");
    w.Step("s", [calls = calls_, holding, first_engine](const StepContext& c) -> Result<Bytes> {
      calls->Add(first_engine->load() ? "first engine" : "second engine");
      if (first_engine->load()) {  // holds the only slot until the engine closes
        *holding = true;
        while (!c.stop.stop_requested()) std::this_thread::sleep_for(1ms);
        return Err(Code::kUnavailable, "interrupted");
      }
      return Bytes{};
    });
    return w;
  };
  EngineOptions o = Options();
  o.handler_threads = 1;
  o.workflows.push_back(make());
  Open(std::move(o));
  const RunId held = StartRun("one");
  while (!*holding) std::this_thread::sleep_for(1ms);
  const RunId waiting = StartRun("one");  // its StepStarted is durable; its handler waits for the slot
  std::this_thread::sleep_for(50ms);
  engine_.reset();
  EXPECT_EQ((*calls_)["first engine"], 1);  // the waiting handler never ran
  *first_engine = false;
  Open({make()});
  for (const RunId& run : {held, waiting}) {
    EXPECT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
    EXPECT_EQ(Count(run, "StepAbandoned"), 1u);
  }
  EXPECT_EQ((*calls_)["second engine"], 2);
}

// Records each attempt's (attempt number, idempotency key); fails the first
// `failures` attempts retryably.
class KeyLog {
 public:
  StepHandler Handler(int failures) {
    auto left = std::make_shared<std::atomic<int>>(failures);
    return [this, left](const StepContext& c) -> Result<Bytes> {
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.emplace_back(c.attempt, c.idempotency_key);
      }
      if (left->fetch_sub(1) > 0) return Err(Code::kUnavailable, "the answer was lost");
      return Bytes{};
    };
  }
  std::vector<std::pair<std::uint32_t, std::string>> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::uint32_t, std::string>> seen_;
};

TEST_F(EngineTest, EveryAttemptOfAnEpochGetsTheSameIdempotencyKeyAndAResumeANewOne) {
  KeyLog log;
  Workflow w("charge");
  w.Step("charge", log.Handler(2)).Retry(RetryPolicy{3, 0, 2.0, 0, 0});
  Open({std::move(w)});
  const RunId run = StartRun("charge");
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  ASSERT_THAT(engine_->Resume(Resume(run, "charge")), IsOk());
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  const auto seen = log.seen();
  ASSERT_EQ(seen.size(), 4u);
  const std::string epoch0 = run.ToString() + "/charge/0";
  EXPECT_EQ(seen[0], std::make_pair(1u, epoch0));
  EXPECT_EQ(seen[1], std::make_pair(2u, epoch0));
  EXPECT_EQ(seen[2], std::make_pair(3u, epoch0));
  EXPECT_EQ(seen[3], std::make_pair(1u, run.ToString() + "/charge/1")) << "a resume asks for a new execution";
}

TEST_F(EngineTest, AnAttemptRetriedAfterARestartKeepsItsIdempotencyKey) {
  auto keys = std::make_shared<std::vector<std::string>>();
  auto first_call = std::make_shared<std::atomic<bool>>(true);
  auto inside = std::make_shared<std::atomic<bool>>(false);
  auto make = [&] {
    Workflow w("crashy");
    w.Step("charge", [keys, first_call, inside](const StepContext& c) -> Result<Bytes> {
      keys->push_back(c.idempotency_key);  // attempts of one step never overlap
      if (first_call->exchange(false)) {   // the engine stops inside this attempt
        *inside = true;
        while (!c.stop.stop_requested()) std::this_thread::sleep_for(1ms);
        return Err(Code::kUnavailable, "interrupted");
      }
      return Bytes{};
    });
    return w;
  };
  Open({make()});
  const RunId run = StartRun("crashy");
  while (!*inside) std::this_thread::sleep_for(1ms);  // its handler runs, not only its StepStarted
  engine_.reset();
  Open({make()});
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0], (*keys)[1]);
}

// A one-shot tool's engine (recover false) finds a run whose process
// stopped mid-step: a request it refuses appends nothing, not even the
// abandoned attempt; Recover continues the run.
TEST_F(EngineTest, ARefusedRequestOnARunWhoseProcessStoppedAppendsNothing) {
  auto first_call = std::make_shared<std::atomic<bool>>(true);
  auto inside = std::make_shared<std::atomic<bool>>(false);
  auto make = [&] {
    Workflow w("crashy");
    w.Step("a", [first_call, inside](const StepContext& c) -> Result<Bytes> {
      if (first_call->exchange(false)) {
        *inside = true;
        while (!c.stop.stop_requested()) std::this_thread::sleep_for(1ms);
        return Err(Code::kUnavailable, "interrupted");
      }
      return Bytes{};
    });
    w.Approval("gate").After({});
    return w;
  };
  Open({make()});
  const RunId run = StartRun("crashy");
  while (!*inside) std::this_thread::sleep_for(1ms);  // its handler runs, not only its StepStarted
  engine_.reset();  // the attempt's outcome is not recorded: the journal shows it running
  EngineOptions o = Options();
  o.workflows.push_back(make());
  o.recover = false;
  Open(std::move(o));
  const std::size_t events = Types(run).size();
  EXPECT_THAT(engine_->Resume(Resume(run)), HasCode(Code::kConflict));
  EXPECT_THAT(engine_->Approve(run, "gate", Operator()), HasCode(Code::kFailedPrecondition));
  EXPECT_THAT(engine_->Fork(ForkRequest{run, "a", std::nullopt, Operator()}), IsOk()) << "a fork leaves the run be";
  EXPECT_EQ(Types(run).size(), events) << "a refused request appended";
  ASSERT_THAT(engine_->Recover(run, Operator()), IsOk());
  EXPECT_EQ(Count(run, "StepAbandoned"), 1u);
  EXPECT_THAT(engine_->Recover(run, User()), HasCode(Code::kPermissionDenied));
  const RunState s = AwaitStopped(run);
  EXPECT_EQ(s.status, RunStatus::kPaused) << "at its gate, the step retried and completed";
  EXPECT_EQ(s.steps[0].status, StepStatus::kCompleted);
}

TEST_F(EngineTest, StartWaitsForRoomAndThenIsUnavailable) {
  Gate gate;
  Workflow w("slow");
  w.Step("wait", gate.Handler());
  EngineOptions o = Options();
  o.workflows.push_back(std::move(w));
  o.max_active_runs = 1;
  o.start_wait = 50ms;
  Open(std::move(o));
  const RunId first = StartRun("slow");
  EXPECT_THAT(engine_->Start(StartRequest{"slow", {}, "", User()}), HasCode(Code::kUnavailable));
  gate.Open();
  AwaitStopped(first);
  EXPECT_THAT(engine_->Start(StartRequest{"slow", {}, "", User()}), IsOk());
}

}  // namespace
}  // namespace rwd::test
