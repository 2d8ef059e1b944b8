// `rewind` running workflow files with http steps against the tests' own
// service: the token secret from REWIND_STEP_TOKEN_SECRET_FILE, the answer
// recorded and never asked for again, and files with bad URLs refused.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/rewind_cli.h"
#include "tests/support/step_service.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;

constexpr const char* kVariable = "REWIND_STEP_TOKEN_SECRET_FILE";
const std::string kSecret = "a-step-token-secret-of-32-bytes-at-least";

class HttpStepCliTest : public ::testing::Test {
 protected:
  HttpStepCliTest() {
    std::ofstream(dir_.Sub("secret")) << kSecret << "\n";
    ::setenv(kVariable, dir_.Sub("secret").c_str(), 1);
    service_.Answer([](const StepService::Hit&) { return StepService::Reply{.body = R"({"charged":true})"}; });
  }
  ~HttpStepCliTest() override { ::unsetenv(kVariable); }

  // charge (an http call), then ship (a command printing charge's output).
  std::string Workflow(const std::string& url) {
    const std::string path = dir_.Sub("order.json");
    std::ofstream(path) << R"({"name": "order", "steps": [
  {"id": "charge", "kind": "http", "url": ")" +
                               url + R"(", "retry": {"max_attempts": 2, "initial_backoff_ms": 1}},
  {"id": "ship", "run": "printf 'shipped after %s' \"$REWIND_OUTPUT_CHARGE\""}]})";
    return path;
  }

  TempDir dir_;
  StepService service_{kSecret};
  const RewindCli cli_{REWIND_CLI, dir_.Sub("data"), dir_.path()};
};

TEST_F(HttpStepCliTest, RewindRunCallsTheServiceAndRecordsItsAnswer) {
  const json done = cli_.Json({"run", Workflow(service_.Url("/charge")), "--input", R"({"order": 42})"});
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["steps"][0]["output"], R"({"charged":true})");
  EXPECT_EQ(done["output"], R"(shipped after {"charged":true})");
  const auto hits = service_.Hits();
  ASSERT_EQ(hits.size(), 1u);
  ASSERT_TRUE(hits[0].claims.has_value()) << hits[0].claims.error().ToString();
  EXPECT_EQ((*hits[0].claims)["run"], done["run_id"]);
  EXPECT_EQ(hits[0].json["input"], json({{"order", 42}}));
  EXPECT_EQ(hits[0].idempotency_key, done["run_id"].get<std::string>() + "/charge/0");
}

TEST_F(HttpStepCliTest, AResumeFromALaterStepDoesNotCallTheServiceAgain) {
  const std::string run = cli_.Json({"run", Workflow(service_.Url("/charge"))})["run_id"];
  const json resumed = cli_.Json({"resume", run, "--from-step", "ship", "--reason", "reprint the label"});
  EXPECT_EQ(resumed["status"], "completed");
  EXPECT_EQ(resumed["epoch"], 1);
  EXPECT_EQ(service_.HitCount(), 1u);
}

TEST_F(HttpStepCliTest, AServiceThatKeepsFailingFailsTheRunAfterItsRetries) {
  service_.Answer([](const StepService::Hit&) { return StepService::Reply{.status = 500, .body = "down"}; });
  const json failed = cli_.Json({"run", Workflow(service_.Url("/charge"))}, 1);
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["steps"][0]["attempts"], 2);
  EXPECT_EQ(failed["steps"][0]["error"]["message"], "http 500 from " + service_.Url("/charge") + ": down");
  EXPECT_EQ(service_.HitCount(), 2u);
}

TEST_F(HttpStepCliTest, WithoutASecretTheStepFailsNamingTheVariableAndNothingIsSent) {
  ::unsetenv(kVariable);
  const json failed = cli_.Json({"run", Workflow(service_.Url("/charge"))}, 1);
  EXPECT_EQ(failed["steps"][0]["attempts"], 1) << "not retried";
  EXPECT_NE(failed["steps"][0]["error"]["message"].get<std::string>().find(kVariable), std::string::npos)
      << failed.dump();
  EXPECT_EQ(service_.HitCount(), 0u);
}

TEST_F(HttpStepCliTest, AFileWithAnHttpsUrlIsRefusedWhereTheUrlIs) {
  const std::string path = Workflow("https://payments.example/charge");
  const json refused = cli_.Json({"run", path}, 14);
  EXPECT_EQ(refused["error"]["message"].get<std::string>().rfind(
                path + ":2:43: step 'charge', field 'url': https:// is not supported", 0),
            0u)
      << refused.dump();
}

}  // namespace
}  // namespace rwd::test
