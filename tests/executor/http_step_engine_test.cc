// Http steps of workflow files on an engine: retries, timeouts, cancels, and
// answers that are recorded and never asked for again.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "rewind/executor/http_step.h"
#include "rewind/executor/workflow_file.h"
#include "tests/executor/engine_fixture.h"
#include "tests/support/step_service.h"

namespace rwd::test {
namespace {

using nlohmann::json;
using Reply = StepService::Reply;

const std::string kSecret = "the-step-token-secret-of-32-bytes+";

class HttpStepEngineTest : public EngineTest {
 protected:
  HttpStepEngineTest() {
    const std::string file = dir_.Sub("step-secret");
    std::ofstream(file) << kSecret;
    ::setenv(std::string(kStepTokenSecretVariable).c_str(), file.c_str(), 1);
  }
  ~HttpStepEngineTest() override { ::unsetenv(std::string(kStepTokenSecretVariable).c_str()); }

  // Opens the engine on the journal with the file `steps` (a JSON array's
  // members) as workflow "w", or with none: runs continue through the resolver.
  void OpenWith(const std::string& steps) {
    EngineOptions o = Options();
    if (!steps.empty()) {
      auto w = ParseWorkflowFile(R"({"name": "w", "steps": [)" + steps + "]}", "w.json");
      ASSERT_THAT(w, IsOk());
      o.workflows.push_back(std::move(*w));
    }
    o.resolve = ShellWorkflowResolver();
    Open(std::move(o));
  }
  // An http step calling the service's `target`, with `extra` members.
  std::string Call(const std::string& id, const std::string& target, const std::string& extra = "") {
    return R"({"id": ")" + id + R"(", "kind": "http", "url": ")" + service_.Url(target) + "\"" +
           (extra.empty() ? "" : ", " + extra) + "}";
  }
  RunId StartW() {
    auto run = engine_->Start(StartRequest{"w", ToBytes(R"({"order": 7})"), "", User()});
    EXPECT_THAT(run, IsOk());
    return run.value_or(RunId());
  }
  std::vector<std::string> KeysAt(const std::string& target) {
    std::vector<std::string> keys;
    for (const auto& hit : service_.Hits()) {
      if (hit.target == target) keys.push_back(hit.idempotency_key);
    }
    return keys;
  }

  StepService service_{kSecret};
};

TEST_F(HttpStepEngineTest, AnHttpStepCompletesWithTheServicesAnswer) {
  service_.Answer([](const StepService::Hit&) { return Reply{.body = R"({"charged": true})"}; });
  OpenWith(Call("charge", "/charge"));
  const RunId run = StartW();
  const RunState done = AwaitStopped(run);
  ASSERT_EQ(done.status, RunStatus::kCompleted) << done.error_message;
  EXPECT_EQ(std::string(AsChars(done.output)), R"({"charged": true})");
  const auto hits = service_.Hits();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_THAT(hits[0].claims, IsOk());
  EXPECT_EQ(hits[0].json["input"], json({{"order", 7}}));
  EXPECT_EQ(hits[0].idempotency_key, run.ToString() + "/charge/0");
}

TEST_F(HttpStepEngineTest, ADependencysOutputIsInTheNextCall) {
  service_.Answer([](const StepService::Hit& hit) {
    return Reply{.body = hit.target == "/reserve" ? R"({"reservation": "R-1"})" : "shipped\n"};
  });
  OpenWith(Call("reserve", "/reserve") + "," + Call("ship", "/ship"));
  const RunState done = AwaitStopped(StartW());
  ASSERT_EQ(done.status, RunStatus::kCompleted) << done.error_message;
  const auto hits = service_.Hits();
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[1].json["dependencies"], json({{"reserve", {{"reservation", "R-1"}}}}));
  EXPECT_EQ(std::string(AsChars(done.output)), "shipped\n");
}

TEST_F(HttpStepEngineTest, FailuresAreRetriedUpToTheBudgetWithOneIdempotencyKey) {
  service_.Answer([](const StepService::Hit&) { return Reply{.status = 503, .body = "busy"}; });
  OpenWith(Call("charge", "/charge", R"("retry": {"max_attempts": 3, "initial_backoff_ms": 1})"));
  const RunId run = StartW();
  const RunState failed = AwaitStopped(run);
  ASSERT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_EQ(failed.steps[0].attempts, 3u);
  EXPECT_EQ(failed.steps[0].error_message, "http 503 from " + service_.Url("/charge") + ": busy");
  const std::string key = run.ToString() + "/charge/0";
  EXPECT_EQ(KeysAt("/charge"), (std::vector<std::string>{key, key, key}));
  const auto hits = service_.Hits();
  for (std::size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].json["attempt"], i + 1);
}

TEST_F(HttpStepEngineTest, A4xxFailsTheRunAfterOneAttempt) {
  service_.Answer([](const StepService::Hit&) { return Reply{.status = 422, .body = "card declined"}; });
  OpenWith(Call("charge", "/charge", R"("retry": {"max_attempts": 5, "initial_backoff_ms": 1})"));
  const RunState failed = AwaitStopped(StartW());
  ASSERT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_EQ(failed.steps[0].attempts, 1u);
  EXPECT_FALSE(failed.steps[0].retryable);
  EXPECT_EQ(service_.HitCount(), 1u);
}

TEST_F(HttpStepEngineTest, TooManyRequestsIsRetried) {
  service_.Answer([n = 0](const StepService::Hit&) mutable {
    return ++n == 1 ? Reply{.status = 429, .body = "slow down"} : Reply{.body = "ok"};
  });
  OpenWith(Call("charge", "/charge", R"("retry": {"initial_backoff_ms": 1})"));
  const RunState done = AwaitStopped(StartW());
  ASSERT_EQ(done.status, RunStatus::kCompleted) << done.error_message;
  EXPECT_EQ(done.steps[0].attempts, 2u);
}

TEST_F(HttpStepEngineTest, ACallWithoutAnAnswerTimesOutAndIsRetried) {
  service_.Answer([](const StepService::Hit&) { return Reply{.hang = true}; });
  OpenWith(Call("charge", "/charge", R"("timeout_ms": 100, "retry": {"max_attempts": 2, "initial_backoff_ms": 1})"));
  const RunState failed = AwaitStopped(StartW());
  ASSERT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_EQ(failed.steps[0].attempts, 2u);
  EXPECT_EQ(failed.steps[0].error_message, "timed out after 100 ms");
  EXPECT_TRUE(service_.AwaitHangsClosed(2)) << "each timed-out attempt closes its connection";
}

TEST_F(HttpStepEngineTest, ARefusedConnectionIsRetriedUpToTheBudget) {
  const ClosedPort closed;
  OpenWith(R"({"id": "charge", "kind": "http", "url": "http://127.0.0.1:)" + std::to_string(closed.port()) +
           R"(/x", "retry": {"max_attempts": 2, "initial_backoff_ms": 1}})");
  const RunState failed = AwaitStopped(StartW());
  ASSERT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_EQ(failed.steps[0].attempts, 2u);
  EXPECT_EQ(failed.steps[0].error_code, "unavailable");
}

TEST_F(HttpStepEngineTest, ACancelClosesTheCallInFlight) {
  service_.Answer([](const StepService::Hit&) { return Reply{.hang = true}; });
  OpenWith(Call("charge", "/charge", R"("timeout_ms": 0)"));
  const RunId run = StartW();
  ASSERT_TRUE(service_.AwaitHits(1));
  ASSERT_THAT(engine_->Cancel(run, Operator(), "test"), IsOk());
  EXPECT_EQ(AwaitStopped(run).status, RunStatus::kCancelled);
  EXPECT_TRUE(service_.AwaitHangsClosed(1, std::chrono::seconds(5)));
}

TEST_F(HttpStepEngineTest, WithoutASecretTheStepFailsForGoodAndNothingIsSent) {
  ::unsetenv(std::string(kStepTokenSecretVariable).c_str());
  OpenWith(Call("charge", "/charge"));
  const RunState failed = AwaitStopped(StartW());
  ASSERT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_EQ(failed.steps[0].attempts, 1u);
  EXPECT_NE(failed.steps[0].error_message.find("REWIND_STEP_TOKEN_SECRET_FILE"), std::string::npos);
  EXPECT_EQ(service_.HitCount(), 0u);
}

TEST_F(HttpStepEngineTest, ARecordedAnswerIsNeverAskedForAgainAfterARestart) {
  OpenWith(Call("charge", "/charge") + R"(, {"id": "approve", "kind": "approval"})");
  const RunId run = StartW();
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kPaused);
  ASSERT_EQ(service_.HitCount(), 1u);
  OpenWith("");  // a new engine on the journal: the run continues from its record
  ASSERT_THAT(engine_->Approve(run, "approve", Operator()), IsOk());
  const RunState done = AwaitStopped(run);
  ASSERT_EQ(done.status, RunStatus::kCompleted) << done.error_message;
  EXPECT_EQ(std::string(AsChars(done.steps[0].output)), "ok");
  EXPECT_EQ(service_.HitCount(), 1u);
}

TEST_F(HttpStepEngineTest, AResumeFromALaterStepDoesNotCallTheEarlierOne) {
  OpenWith(Call("charge", "/charge") + "," + Call("ship", "/ship"));
  const RunId run = StartW();
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  ASSERT_THAT(engine_->Resume(Resume(run, "ship")), IsOk());
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  EXPECT_EQ(service_.HitCount("/charge"), 1u);
  EXPECT_EQ(KeysAt("/ship"), (std::vector<std::string>{run.ToString() + "/ship/0", run.ToString() + "/ship/1"}));
}

TEST_F(HttpStepEngineTest, AResumeFromTheStepCallsItAgainWithANewKey) {
  OpenWith(Call("charge", "/charge"));
  const RunId run = StartW();
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  ASSERT_THAT(engine_->Resume(Resume(run, "charge")), IsOk());
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kCompleted);
  EXPECT_EQ(KeysAt("/charge"), (std::vector<std::string>{run.ToString() + "/charge/0", run.ToString() + "/charge/1"}));
  const auto hits = service_.Hits();
  ASSERT_EQ(hits.size(), 2u);
  ASSERT_THAT(hits[1].claims, IsOk());
  EXPECT_EQ((*hits[1].claims)["epoch"], 1);
}

}  // namespace
}  // namespace rwd::test
