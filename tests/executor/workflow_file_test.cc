#include "rewind/executor/workflow_file.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <fstream>
#include <future>
#include <mutex>

#include "rewind/executor/shell_step.h"
#include "tests/executor/engine_fixture.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;

// A JSON string literal, escaped as nlohmann's dump() escapes.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string Config(const Result<RunStarted>& d, std::size_t step) {
  return std::string(AsChars(d->steps[step].config));
}

class WorkflowFileTest : public EngineTest {
 protected:
  static Result<RunStarted> DefinitionOf(std::string_view text) {
    auto w = ParseWorkflowFile(text, "order.json");
    if (!w.has_value()) return Err(w.error());
    return w->Definition();
  }
  // The message of the InvalidArgument that parsing `text` gives.
  static std::string ErrorOf(std::string_view text) {
    auto w = ParseWorkflowFile(text, "order.json");
    if (w.has_value()) return "parsed";
    EXPECT_EQ(w.error().code(), Code::kInvalidArgument);
    return w.error().message();
  }
  // Resolves when a run reports completion through the engine's observer,
  // which sees every append whichever way the run continued.
  static std::future<void> ObserveCompletion(EngineOptions& o) {
    auto completed = std::make_shared<std::promise<void>>();
    auto once = std::make_shared<std::once_flag>();
    o.observer = [completed, once](const RunState& s, const std::vector<Event>&) {
      if (s.status == RunStatus::kCompleted) std::call_once(*once, [&] { completed->set_value(); });
    };
    return completed->get_future();
  }
  // A one-step file whose step is `step` (a JSON object's members).
  static std::string OneStep(std::string_view step) {
    return R"({"name": "w", "steps": [{)" + std::string(step) + "}]}";
  }
};

TEST_F(WorkflowFileTest, AValidFileBecomesItsDefinition) {
  const auto d = DefinitionOf(R"({
    "name": "order", "version": 3,
    "steps": [
      {"id": "validate", "run": "test -s \"$REWIND_INPUT_FILE\""},
      {"id": "charge", "run": ["./charge", "--card"], "timeout_ms": 30000, "env": {"GATEWAY": "sandbox"},
       "retry": {"max_attempts": 5, "initial_backoff_ms": 200, "multiplier": 1.5, "max_backoff_ms": 800, "jitter": 0}},
      {"id": "approve", "kind": "approval"},
      {"id": "go", "kind": "signal", "signal": "go-live"},
      {"id": "cool-off", "kind": "sleep", "sleep_ms": 60000, "depends_on": []},
      {"id": "ship", "kind": "command", "run": "./ship", "depends_on": ["go", "charge"]}
    ]})");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->workflow, "order");
  EXPECT_EQ(d->version, 3u);
  ASSERT_EQ(d->steps.size(), 6u);
  EXPECT_EQ(d->steps[1].kind, StepKind::kCode);
  EXPECT_EQ(d->steps[1].retry, (RetryPolicy{5, 200, 1.5, 800, 0}));
  EXPECT_EQ(d->steps[1].timeout_ms, 30000u);
  EXPECT_EQ(d->steps[1].handler, "shell");
  EXPECT_EQ(Config(d, 1), R"({"env":{"GATEWAY":"sandbox"},"run":["./charge","--card"]})");
  EXPECT_EQ(Config(d, 0), R"({"env":{},"run":"test -s \"$REWIND_INPUT_FILE\""})");
  EXPECT_EQ(d->steps[2].kind, StepKind::kApproval);
  EXPECT_EQ(d->steps[3].kind, StepKind::kSignal);
  EXPECT_EQ(d->steps[3].handler, "go-live");
  EXPECT_EQ(d->steps[4].kind, StepKind::kSleep);
  EXPECT_EQ(d->steps[4].sleep_ms, 60000u);
  EXPECT_EQ(d->steps[5].depends_on, (std::vector<std::uint32_t>{3, 1}));
}

TEST_F(WorkflowFileTest, AWorkflowOverTheLimitsIsRefusedWhenLoaded) {
  std::string many = R"({"name": "many", "steps": [)";
  for (std::size_t i = 0; i <= kMaxSteps; ++i) many += (i ? "," : "") + std::string(R"({"id": "s)") + std::to_string(i) + R"(", "run": "true"})";
  many += "]}";
  const std::string error = ErrorOf(many);
  EXPECT_NE(error.find("10001 steps; the limit is 10000"), std::string::npos) << error;
  EXPECT_NE(error.find("order.json:1:27: field 'steps'"), std::string::npos) << "names where: " << error;
  const std::string big_command(kMaxConfigBytes, 'x');
  const std::string big = ErrorOf(R"({"name": "big", "steps": [{"id": "a", "run": ")" + big_command + R"("}]})");
  EXPECT_NE(big.find("order.json:1:27: step 'a': its command and env take"), std::string::npos) << big;
  Workflow wide("wide");
  for (std::size_t i = 0; i <= kMaxSteps; ++i) wide.Step("s" + std::to_string(i), Counting(calls_)).After({});
  EXPECT_THAT(wide.Definition(), HasCode(Code::kInvalidArgument));
}

TEST_F(WorkflowFileTest, DependsOnDefaultsToThePreviousStepAndAnEmptyListMakesARoot) {
  const auto d = DefinitionOf(R"({"name": "w", "steps": [
    {"id": "a", "run": "true"}, {"id": "b", "run": "true"}, {"id": "c", "run": "true", "depends_on": []}]})");
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->steps[0].depends_on.empty());
  EXPECT_EQ(d->steps[1].depends_on, (std::vector<std::uint32_t>{0}));
  EXPECT_TRUE(d->steps[2].depends_on.empty());
}

TEST_F(WorkflowFileTest, MissingSettingsTakeTheirDefaults) {
  const auto d = DefinitionOf(R"({"name": "w", "steps": [
    {"id": "a", "run": "true"}, {"id": "b", "run": "true", "retry": {"max_attempts": 7}},
    {"id": "c", "kind": "signal"}]})");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->version, 1u);
  EXPECT_EQ(d->steps[0].retry, kDefaultRetry);
  EXPECT_EQ(d->steps[0].timeout_ms, 0u);
  RetryPolicy seven = kDefaultRetry;
  seven.max_attempts = 7;
  EXPECT_EQ(d->steps[1].retry, seven);
  EXPECT_EQ(d->steps[2].handler, "c") << "a signal step waits for its own id by default";
}

TEST_F(WorkflowFileTest, TheRecordedCommandIsCanonicalWhateverTheLayout) {
  const auto a = DefinitionOf(R"({"name": "w", "steps": [{"id": "a", "run": "x", "env": {"B": "2", "A": "1"}}]})");
  const auto b = DefinitionOf(
      "{\"steps\":[{\n\"env\" : {\"A\":\"1\",\n \"B\":\"2\"},\"run\":\"x\",\"id\":\"a\"}],\"name\":\"w\"}");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(Config(a, 0), R"({"env":{"A":"1","B":"2"},"run":"x"})");
  EXPECT_EQ(a->steps, b->steps);
  EXPECT_EQ(a->definition_hash, b->definition_hash);
}

TEST_F(WorkflowFileTest, MalformedJsonNamesTheFileLineAndColumn) {
  EXPECT_EQ(ErrorOf("{\n  \"name\": \"w\",\n  \"steps\": [,]\n}"),
            "order.json:3:13: syntax error while parsing value - unexpected ','; expected '[', '{', or a literal");
  EXPECT_EQ(ErrorOf(""), "order.json:1:1: syntax error while parsing value - unexpected end of input; "
                         "expected '[', '{', or a literal");
  EXPECT_EQ(ErrorOf("{\"name\": 1e999}"), "order.json:1:10: number overflow parsing '1e999'");
}

TEST_F(WorkflowFileTest, TheWorkflowItselfMustBeWellFormed) {
  EXPECT_EQ(ErrorOf("[]"), "order.json:1:1: the workflow must be a JSON object");
  EXPECT_EQ(ErrorOf(R"({"steps": []})"), "order.json:1:1: field 'name' is required");
  EXPECT_EQ(ErrorOf(R"({"name": "", "steps": []})"), "order.json:1:10: field 'name': must not be empty");
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": []})"), "order.json:1:24: field 'steps': must list at least one step");
  EXPECT_EQ(ErrorOf(R"({"name": "w", "version": 0, "steps": [{"id": "a", "run": "x"}]})"),
            "order.json:1:26: field 'version': must be at least 1");
  EXPECT_EQ(ErrorOf(R"({"name": "w", "stpes": []})"),
            "order.json:1:15: field 'stpes': unknown field (did you mean 'steps'?)");
}

TEST_F(WorkflowFileTest, ANameOrAnIdOverTheLimitIsRefusedWhereItIs) {
  const std::string at_limit(kMaxNameBytes, 'n');
  const std::string over(kMaxNameBytes + 1, 'n');
  EXPECT_EQ(ErrorOf(R"({"name": ")" + over + R"(", "steps": [{"id": "a", "run": "x"}]})"),
            "order.json:1:10: field 'name': must be at most 128 bytes, not 129");
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": [{"run": "x", "id": ")" + over + R"("}]})"),
            "order.json:1:44: step '" + over + "', field 'id': must be at most 128 bytes, not 129");
  EXPECT_EQ(ErrorOf(R"({"name": ")" + at_limit + R"(", "steps": [{"id": ")" + at_limit + R"(", "run": "x"}]})"),
            "parsed");
}

TEST_F(WorkflowFileTest, DeeplyNestedOrWideValuesAreIndexedInSpaceLinearInTheText) {
  // Each value's position was once kept under its whole JSON pointer: space
  // quadratic in the nesting depth, and in a key's length times its width.
  const std::size_t depth = 200'000;
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": )" + std::string(depth, '[') + std::string(depth, ']') + "}"),
            "order.json:1:25: step 1: must be an object, not an array");
  const std::string key(100'000, 'k');
  std::string wide = R"({"name": "w", "steps": [{"id": "a", "run": "x"}], ")" + key + R"(": [0)";
  for (int i = 1; i < 20'000; ++i) wide += ",0";
  EXPECT_EQ(ErrorOf(wide + "]}"), "order.json:1:51: field '" + key + "': unknown field");
}

TEST_F(WorkflowFileTest, AStepWithoutAUsableIdIsNamedByItsPosition) {
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": [{"id": "a", "run": "x"}, {"run": "x"}]})"),
            "order.json:1:50: step 2: field 'id' is required");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "", "run": "x")")), "order.json:1:32: step 1, field 'id': must not be empty");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": 7, "run": "x")")),
            "order.json:1:32: step 1, field 'id': must be a string, not a number");
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": ["a"]})"), "order.json:1:25: step 1: must be an object, not a string");
}

TEST_F(WorkflowFileTest, UnknownFieldsAreRefusedWithTheNearestKnownName) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "depends-on": [])")),
            "order.json:1:49: step 'a', field 'depends-on': unknown field (did you mean 'depends_on'?)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "retry": {"max_attempt": 2})")),
            "order.json:1:59: step 'a', field 'retry.max_attempt': unknown field (did you mean 'max_attempts'?)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "colour": "red")")),
            "order.json:1:49: step 'a', field 'colour': unknown field");
}

TEST_F(WorkflowFileTest, KindsAndTheirFieldsMustMatch) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "manual")")),
            "order.json:1:45: step 'a', field 'kind': unknown kind 'manual' (expected 'command', 'http', "
            "'approval', 'signal' or 'sleep')");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a")")), "order.json:1:25: step 'a': field 'run' is required for a command step");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "approval", "run": "x")")),
            "order.json:1:57: step 'a', field 'run': only command steps have it (this is a approval step)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "sleep")")),
            "order.json:1:25: step 'a': field 'sleep_ms' is required for a sleep step");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "signal": "s")")),
            "order.json:1:49: step 'a', field 'signal': only signal steps have it");
}

TEST_F(WorkflowFileTest, AnHttpStepIsRecordedAsItsUrlWithATimeoutByDefault) {
  const auto d = DefinitionOf(R"({"name": "w", "steps": [
    {"id": "charge", "kind": "http", "url": "http://127.0.0.1:8080/charge", "retry": {"max_attempts": 5}},
    {"id": "notify", "kind": "http", "url": "http://hooks.internal/n?v=1", "audience": "hooks", "timeout_ms": 0}]})");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->steps[0].kind, StepKind::kCode);
  EXPECT_EQ(d->steps[0].handler, "http");
  EXPECT_EQ(Config(d, 0), R"({"http":{"url":"http://127.0.0.1:8080/charge"}})");
  EXPECT_EQ(d->steps[0].timeout_ms, kDefaultHttpTimeoutMs);
  EXPECT_EQ(d->steps[0].retry.max_attempts, 5u);
  EXPECT_EQ(Config(d, 1), R"({"http":{"audience":"hooks","url":"http://hooks.internal/n?v=1"}})");
  EXPECT_EQ(d->steps[1].timeout_ms, 0u);
}

TEST_F(WorkflowFileTest, AnHttpStepsUrlIsCheckedWhereItIs) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http")")),
            "order.json:1:25: step 'a': field 'url' is required for an http step");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "https://x/y")")),
            "order.json:1:60: step 'a', field 'url': https:// is not supported: give an http:// URL (a "
            "TLS-terminating proxy beside the engine can reach an https:// service)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "http://u:p@x/y")")),
            "order.json:1:60: step 'a', field 'url': must not hold user info ('user:password@'): the URL is "
            "recorded in the journal, and the service checks the step's token instead");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "http://x")")),
            "order.json:1:60: step 'a', field 'url': must have a path after the host ('/' at least)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": 7)")),
            "order.json:1:60: step 'a', field 'url': must be a string, not a number");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "http://x/", "audience": "")")),
            "order.json:1:85: step 'a', field 'audience': must not be empty");
}

TEST_F(WorkflowFileTest, AnHttpStepTakesOnlyItsFields) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "http://x/", "run": "x")")),
            "order.json:1:73: step 'a', field 'run': only command steps have it (this is a http step)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "http://x/", "env": {})")),
            "order.json:1:73: step 'a', field 'env': only command steps have it (this is a http step)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "url": "http://x/")")),
            "order.json:1:49: step 'a', field 'url': only http steps have it (this is a command step)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "approval", "timeout_ms": 5)")),
            "order.json:1:57: step 'a', field 'timeout_ms': only command and http steps have it (this is a "
            "approval step)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "http://x/", "method": "PUT")")),
            "order.json:1:73: step 'a', field 'method': unknown field");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "kind": "http", "url": "http://x/", "audiense": "b")")),
            "order.json:1:73: step 'a', field 'audiense': unknown field (did you mean 'audience'?)");
}

TEST_F(WorkflowFileTest, ARecordedHttpCallIsRebuiltAndABadRecordIsRefused) {
  const auto recorded = DefinitionOf(OneStep(R"("id": "a", "kind": "http", "url": "http://x:81/y")"));
  ASSERT_THAT(recorded, IsOk());
  const auto rebuilt = WorkflowFromDefinition(*recorded);
  ASSERT_THAT(rebuilt, IsOk());
  EXPECT_EQ(rebuilt->Definition(), recorded);
  EXPECT_NE(rebuilt->handler(0), nullptr);
  RunStarted bad = *recorded;
  bad.steps.Mutable()[0].config = ToBytes(R"({"http":{"url":"https://x/y"}})");
  const auto refused = WorkflowFromDefinition(bad);
  ASSERT_THAT(refused, HasCode(Code::kInvalidArgument));
  EXPECT_NE(refused.error().message().find("config field 'http.url': https:// is not supported"), std::string::npos)
      << refused.error().message();
  bad.steps.Mutable()[0].config = ToBytes(R"({"env":{},"run":"x"})");
  EXPECT_THAT(WorkflowFromDefinition(bad), HasCode(Code::kInvalidArgument)) << "a command under the http handler";
  bad.steps.Mutable()[0].handler = "grpc";
  EXPECT_THAT(WorkflowFromDefinition(bad), HasCode(Code::kInvalidArgument));
}

TEST_F(WorkflowFileTest, FieldsOfTheWrongTypeAreRefused) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": 5)")),
            "order.json:1:44: step 'a', field 'run': must be a string (a /bin/sh script) or an array of strings "
            "(argv), not a number");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": ["x", 1])")),
            "order.json:1:50: step 'a', field 'run[1]': must be a string, not a number");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": [])")),
            "order.json:1:44: step 'a', field 'run': must not be an empty array");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "depends_on": "b")")),
            "order.json:1:63: step 'a', field 'depends_on': must be an array of step ids, not a string");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "env": {"N": 1})")),
            "order.json:1:62: step 'a', field 'env.N': must be a string, not a number");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "retry": 3)")),
            "order.json:1:58: step 'a', field 'retry': must be an object, not a number");
}

TEST_F(WorkflowFileTest, NumbersOutOfRangeAreRefused) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "timeout_ms": -1)")),
            "order.json:1:63: step 'a', field 'timeout_ms': must not be negative");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "retry": {"initial_backoff_ms": -5})")),
            "order.json:1:81: step 'a', field 'retry.initial_backoff_ms': must not be negative");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "retry": {"max_attempts": 0})")),
            "order.json:1:75: step 'a', field 'retry.max_attempts': must be at least 1");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "retry": {"jitter": 1.5})")),
            "order.json:1:69: step 'a', field 'retry.jitter': must be between 0.0 and 1.0");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "timeout_ms": 2.5)")),
            "order.json:1:63: step 'a', field 'timeout_ms': must be a whole number");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "timeout_ms": 4294967296)")),
            "order.json:1:63: step 'a', field 'timeout_ms': must be at most 4294967295");
}

TEST_F(WorkflowFileTest, EnvironmentNamesMustBeValidAndNotTheEngines) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "env": {"A-B": "1"})")),
            "order.json:1:57: step 'a', field 'env.A-B': is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "env": {"REWIND_STEP": "1"})")),
            "order.json:1:57: step 'a', field 'env.REWIND_STEP': REWIND_ variables are set by the engine");
}

TEST_F(WorkflowFileTest, DependenciesMustNameOtherStepsOnce) {
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "depends_on": ["b"])")),
            "order.json:1:64: step 'a', field 'depends_on[0]': unknown step 'b'");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "depends_on": ["a"])")),
            "order.json:1:64: step 'a', field 'depends_on[0]': a step cannot depend on itself");
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": [{"id": "a", "run": "x"},)"
                    R"( {"id": "b", "run": "x", "depends_on": ["a", "a"]}]})"),
            "order.json:1:94: step 'b', field 'depends_on[1]': 'a' is listed twice");
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": [{"id": "a-1", "run": "x"}, {"id": "a_1", "run": "x"},
                       {"id": "b", "run": "x", "depends_on": ["a-1", "a_1"]}]})"),
            "order.json:2:70: step 'b', field 'depends_on[1]': 'a-1' and 'a_1' would both be REWIND_OUTPUT_A_1");
}

TEST_F(WorkflowFileTest, DuplicateIdsAndKeysAreRefused) {
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": [{"id": "a", "run": "x"}, {"id": "a", "run": "y"}]})"),
            "order.json:1:57: step 'a', field 'id': the id is already used by step 1");
  EXPECT_EQ(ErrorOf(OneStep(R"("id": "a", "run": "x", "run": "y")")),
            "order.json:1:49: key 'run' appears twice in one object");
}

TEST_F(WorkflowFileTest, ACycleIsNamedAtADependencyListThatCloses) {
  EXPECT_EQ(ErrorOf(R"({"name": "w", "steps": [
  {"id": "a", "run": "x", "depends_on": ["c"]},
  {"id": "b", "run": "x"},
  {"id": "c", "run": "x"}]})"),
            "order.json:2:41: step 'a', field 'depends_on': dependency cycle: a -> c -> b -> a");
}

TEST_F(WorkflowFileTest, AMissingFileIsNotFound) {
  EXPECT_THAT(LoadWorkflowFile(dir_.Sub("absent.json")), HasCode(Code::kNotFound));
}

TEST_F(WorkflowFileTest, LoadingNamesErrorsByThePath) {
  const std::string path = dir_.Sub("bad.json");
  std::ofstream(path) << R"({"name": "w", "steps": [{"id": "a"}]})";
  const auto w = LoadWorkflowFile(path);
  ASSERT_THAT(w, HasCode(Code::kInvalidArgument));
  EXPECT_EQ(w.error().message().rfind(path + ":1:25: ", 0), 0u) << w.error().message();
}

TEST_F(WorkflowFileTest, TheRecordedDefinitionRebuildsTheSameWorkflow) {
  const auto w = LoadWorkflowFile(REWIND_EXAMPLES_DIR "/order.json");
  ASSERT_THAT(w, IsOk());
  const auto recorded = w->Definition();
  ASSERT_THAT(recorded, IsOk());
  const auto rebuilt = WorkflowFromDefinition(*recorded);
  ASSERT_THAT(rebuilt, IsOk());
  EXPECT_EQ(rebuilt->Definition(), recorded);
  EXPECT_NE(rebuilt->handler(0), nullptr);
  EXPECT_EQ(rebuilt->handler(3), nullptr) << "an approval has no handler";
}

TEST_F(WorkflowFileTest, DefinitionsWithoutShellCommandsAreNotRebuilt) {
  Workflow w("code");
  w.Step("a", [](const StepContext&) -> Result<Bytes> { return Bytes{}; }).Config(ToBytes("not json"));
  EXPECT_THAT(WorkflowFromDefinition(*w.Definition()), HasCode(Code::kInvalidArgument));
  Workflow unconfigured("code");
  unconfigured.Step("a", [](const StepContext&) -> Result<Bytes> { return Bytes{}; });
  EXPECT_THAT(WorkflowFromDefinition(*unconfigured.Definition()), HasCode(Code::kInvalidArgument));
  EXPECT_EQ(ShellWorkflowResolver()(*unconfigured.Definition()), nullptr);
}

TEST_F(WorkflowFileTest, TheResolverAnswersTheSameWorkflowForTheSameDefinition) {
  const auto recorded = ParseWorkflowFile(OneStep(R"("id": "a", "run": "x")"), "f")->Definition();
  ASSERT_THAT(recorded, IsOk());
  const HandlerResolver resolve = ShellWorkflowResolver();
  const std::shared_ptr<const Workflow> first = resolve(*recorded);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(resolve(*recorded), first);
  EXPECT_EQ(first->Definition()->steps, recorded->steps);
}

// ---------------------------------------------------------------------------
// Properties over generated files.

struct StepSpec {
  std::string id;
  int kind = 0;  // 0 command, 1 approval, 2 signal, 3 sleep, 4 http
  std::optional<std::vector<std::size_t>> depends_on;
  std::string script;
  std::vector<std::string> argv;  // used when non-empty
  std::map<std::string, std::string> env;
  std::optional<std::uint32_t> max_attempts, initial_backoff_ms;
  std::optional<double> jitter;
  std::optional<std::uint32_t> timeout_ms;
  std::optional<std::string> signal;
  std::uint64_t sleep_ms = 0;
  std::string url;
  std::optional<std::string> audience;
};

rc::Gen<std::string> Text() {
  // Quotes, backslashes, control characters and multi-byte UTF-8 included.
  return rc::gen::map(rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 12)), [](const std::vector<int>& v) {
    static const char* const kPieces[] = {"a", "Z", " ", "\"", "\\", "\n", "\t", "$HOME", "é", "→", "\x01", "/"};
    std::string s;
    for (int i : v) s += kPieces[i];
    return s;
  });
}

rc::Gen<std::vector<StepSpec>> Steps() {
  return rc::gen::exec([] {
    const auto n = *rc::gen::inRange<std::size_t>(1, 7);
    std::vector<StepSpec> steps(n);
    for (std::size_t i = 0; i < n; ++i) {
      StepSpec& s = steps[i];
      s.id = "s" + std::to_string(i) + *rc::gen::element<std::string>("", "-x", ".y", "_z");
      s.kind = *rc::gen::weightedElement<int>({{4, 0}, {1, 1}, {1, 2}, {1, 3}, {2, 4}});
      if (*rc::gen::arbitrary<bool>()) {
        std::vector<std::size_t> deps;
        for (std::size_t j = 0; j < i; ++j) {
          if (*rc::gen::arbitrary<bool>()) deps.push_back(j);
        }
        s.depends_on = deps;
      }
      if (s.kind == 4) {
        s.url = *rc::gen::element<std::string>("http://127.0.0.1:8080/charge", "http://hooks.internal/n?v=1&w=%20",
                                               "http://[::1]/", "http://x_y.example:65535/a/b;c");
        if (*rc::gen::arbitrary<bool>()) s.audience = "aud" + *Text();
      }
      if (s.kind == 0 || s.kind == 4) {
        if (*rc::gen::arbitrary<bool>()) s.max_attempts = *rc::gen::inRange<std::uint32_t>(1, 10);
        if (*rc::gen::arbitrary<bool>()) s.initial_backoff_ms = *rc::gen::arbitrary<std::uint32_t>();
        if (*rc::gen::arbitrary<bool>()) s.jitter = *rc::gen::element(0.0, 0.25, 1.0);
        if (*rc::gen::arbitrary<bool>()) s.timeout_ms = *rc::gen::arbitrary<std::uint32_t>();
      }
      if (s.kind == 0) {
        s.script = "echo " + *Text();
        if (*rc::gen::arbitrary<bool>()) {
          s.argv = {"printf", "%s"};
          for (const std::string& a : *rc::gen::container<std::vector<std::string>>(Text())) s.argv.push_back(a);
        }
        for (const std::string& v : *rc::gen::container<std::vector<std::string>>(Text())) {
          s.env["V" + std::to_string(s.env.size())] = v;
        }
      }
      if (s.kind == 2 && *rc::gen::arbitrary<bool>()) s.signal = "sig" + *Text();
      if (s.kind == 3) s.sleep_ms = *rc::gen::inRange<std::uint64_t>(0, 1'000'000'000'000);
    }
    return steps;
  });
}

// `steps` as a workflow file; `gap` separates tokens (whitespace of any kind).
std::string Render(const std::vector<StepSpec>& steps, const std::string& gap) {
  const auto member = [&](const std::string& key, const std::string& value) {
    return Quote(key) + gap + ":" + gap + value;
  };
  const auto list = [&](const std::vector<std::string>& items, char open, char close) {
    std::string out(1, open);
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," + gap : gap) + items[i];
    return out + gap + close;
  };
  std::vector<std::string> rendered;
  for (const StepSpec& s : steps) {
    static const char* const kKinds[] = {"command", "approval", "signal", "sleep", "http"};
    std::vector<std::string> m{member("id", Quote(s.id)), member("kind", Quote(kKinds[s.kind]))};
    if (s.depends_on) {
      std::vector<std::string> ids;
      for (std::size_t d : *s.depends_on) ids.push_back(Quote(steps[d].id));
      m.push_back(member("depends_on", list(ids, '[', ']')));
    }
    if (s.kind == 0) {
      if (s.argv.empty()) {
        m.push_back(member("run", Quote(s.script)));
      } else {
        std::vector<std::string> args;
        for (const std::string& a : s.argv) args.push_back(Quote(a));
        m.push_back(member("run", list(args, '[', ']')));
      }
      std::vector<std::string> env;
      for (const auto& [k, v] : s.env) env.push_back(member(k, Quote(v)));
      if (!env.empty()) m.push_back(member("env", list(env, '{', '}')));
    }
    if (s.kind == 4) {
      m.push_back(member("url", Quote(s.url)));
      if (s.audience) m.push_back(member("audience", Quote(*s.audience)));
    }
    if (s.kind == 0 || s.kind == 4) {
      std::vector<std::string> retry;
      if (s.max_attempts) retry.push_back(member("max_attempts", std::to_string(*s.max_attempts)));
      if (s.initial_backoff_ms) retry.push_back(member("initial_backoff_ms", std::to_string(*s.initial_backoff_ms)));
      if (s.jitter) retry.push_back(member("jitter", std::to_string(*s.jitter)));
      if (!retry.empty()) m.push_back(member("retry", list(retry, '{', '}')));
      if (s.timeout_ms) m.push_back(member("timeout_ms", std::to_string(*s.timeout_ms)));
    }
    if (s.signal) m.push_back(member("signal", Quote(*s.signal)));
    if (s.kind == 3) m.push_back(member("sleep_ms", std::to_string(s.sleep_ms)));
    rendered.push_back(list(m, '{', '}'));
  }
  return list({member("name", Quote("generated")), member("steps", list(rendered, '[', ']'))}, '{', '}');
}

rc::Gen<std::string> Gap() { return rc::gen::element<std::string>("", " ", "\n", "\t", "\r\n  ", " \n\n "); }

RC_GTEST_PROP(WorkflowFileProperty, AFileMeansWhatItSays, ()) {
  const auto steps = *Steps();
  const auto w = ParseWorkflowFile(Render(steps, *Gap()), "f.json");
  if (!w.has_value()) RC_FAIL(w.error().ToString());
  const auto d = w->Definition();
  RC_ASSERT(d.has_value());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const StepSpec& s = steps[i];
    const StepDef& def = d->steps[i];
    RC_ASSERT(def.id == s.id);
    RC_ASSERT(def.kind == (s.kind == 4 ? StepKind::kCode : static_cast<StepKind>(s.kind)));
    std::vector<std::uint32_t> deps;
    if (s.depends_on) {
      for (std::size_t j : *s.depends_on) deps.push_back(static_cast<std::uint32_t>(j));
    } else if (i > 0) {
      deps.push_back(static_cast<std::uint32_t>(i - 1));
    }
    RC_ASSERT(def.depends_on == deps);
    if (s.kind == 0 || s.kind == 4) {
      RC_ASSERT(def.retry.max_attempts == s.max_attempts.value_or(kDefaultRetry.max_attempts));
      RC_ASSERT(def.retry.initial_backoff_ms == s.initial_backoff_ms.value_or(kDefaultRetry.initial_backoff_ms));
      RC_ASSERT(def.retry.jitter == s.jitter.value_or(kDefaultRetry.jitter));
      RC_ASSERT(def.timeout_ms == s.timeout_ms.value_or(s.kind == 4 ? kDefaultHttpTimeoutMs : 0));
    }
    if (s.kind == 4) {
      RC_ASSERT(def.handler == "http");
      const std::string audience = s.audience ? Quote("audience") + ":" + Quote(*s.audience) + "," : "";
      RC_ASSERT(std::string(AsChars(def.config)) == "{\"http\":{" + audience + "\"url\":" + Quote(s.url) + "}}");
    }
    if (s.kind == 0) {
      std::string env;
      for (const auto& [k, v] : s.env) env += (env.empty() ? "" : ",") + Quote(k) + ":" + Quote(v);
      std::string run = Quote(s.script);
      if (!s.argv.empty()) {
        run.clear();
        for (const std::string& a : s.argv) run += (run.empty() ? "" : ",") + Quote(a);
        run = "[" + run + "]";
      }
      RC_ASSERT(std::string(AsChars(def.config)) == "{\"env\":{" + env + "},\"run\":" + run + "}");
    }
    if (s.kind == 2) RC_ASSERT(def.handler == s.signal.value_or(s.id));
    if (s.kind == 3) RC_ASSERT(def.sleep_ms == s.sleep_ms);
  }
}

RC_GTEST_PROP(WorkflowFileProperty, TheRecordedDefinitionRoundTripsThroughWorkflowFromDefinition, ()) {
  const auto w = ParseWorkflowFile(Render(*Steps(), *Gap()), "f.json");
  if (!w.has_value()) RC_FAIL(w.error().ToString());
  const auto recorded = w->Definition();
  RC_ASSERT(recorded.has_value());
  const auto rebuilt = WorkflowFromDefinition(*recorded);
  RC_ASSERT(rebuilt.has_value());
  RC_ASSERT(*rebuilt->Definition() == *recorded);
}

RC_GTEST_PROP(WorkflowFileProperty, AnUnknownFieldIsReportedWhereItIs, ()) {
  const auto steps = *Steps();
  const std::string text = Render(steps, *Gap());
  // Insert it first in a step object: its id is the first member, and no
  // earlier step mentions it (dependencies point backwards).
  const StepSpec& step = steps[*rc::gen::inRange<std::size_t>(0, steps.size())];
  const std::size_t brace = text.rfind('{', text.find(Quote(step.id), text.find("\"steps\"")));
  const std::string bad = text.substr(0, brace + 1) + "\n   \"bogus_field\": 1," + text.substr(brace + 1);
  const std::size_t key = brace + 5;  // after "{\n   "
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(bad.begin(), bad.begin() + key, '\n'));
  const std::size_t column = key - bad.rfind('\n', key - 1);
  const auto w = ParseWorkflowFile(bad, "f.json");
  RC_ASSERT(!w.has_value());
  RC_ASSERT(w.error().message() == "f.json:" + std::to_string(line) + ":" + std::to_string(column) + ": step '" +
                                       step.id + "', field 'bogus_field': unknown field");
}

// ---------------------------------------------------------------------------
// End to end: examples/order.json on an engine.

TEST_F(WorkflowFileTest, TheOrderExampleRunsToCompletionWithChargeRetried) {
  auto order = LoadWorkflowFile(REWIND_EXAMPLES_DIR "/order.json");
  ASSERT_THAT(order, IsOk());
  EngineOptions o = Options();
  o.workflows.push_back(std::move(*order));
  o.resolve = ShellWorkflowResolver();
  auto completed = ObserveCompletion(o);
  Open(std::move(o));
  const auto run = engine_->Start(StartRequest{"order", ToBytes(R"({"sku": "book", "qty": 2})"), "", User()});
  ASSERT_THAT(run, IsOk());
  ASSERT_EQ(AwaitStopped(*run).status, RunStatus::kPaused) << "the approval gate";
  ASSERT_THAT(engine_->Approve(*run, "approve", Operator()), IsOk());
  ASSERT_EQ(completed.wait_for(20s), std::future_status::ready);
  const RunState done = engine_->State(*run, User()).value_or(RunState());
  ASSERT_EQ(done.status, RunStatus::kCompleted) << done.error_message;
  EXPECT_EQ(done.steps[2].attempts, 2u) << "charge is declined once";
  const std::string reservation = "R-" + run->ToString().substr(0, 8);
  EXPECT_EQ(std::string(AsChars(done.output)),
            R"({"shipped":true,"payment":{"charged":true,"attempt":2,"reservation":")" + reservation + "\"}}");
}

TEST_F(WorkflowFileTest, ARunOfAFileContinuesAfterARestartThroughTheResolver) {
  auto order = LoadWorkflowFile(REWIND_EXAMPLES_DIR "/order.json");
  ASSERT_THAT(order, IsOk());
  EngineOptions o = Options();
  o.workflows.push_back(std::move(*order));
  Open(std::move(o));
  const RunId run = engine_->Start(StartRequest{"order", ToBytes(R"({"qty": 1})"), "", User()}).value_or(RunId());
  ASSERT_EQ(AwaitStopped(run).status, RunStatus::kPaused);
  EngineOptions restarted = Options();  // the file is not registered this time
  restarted.resolve = ShellWorkflowResolver();
  auto completed = ObserveCompletion(restarted);
  Open(std::move(restarted));
  ASSERT_THAT(engine_->Approve(run, "approve", Operator()), IsOk());
  ASSERT_EQ(completed.wait_for(20s), std::future_status::ready);
  const RunState done = engine_->State(run, User()).value_or(RunState());
  EXPECT_EQ(done.status, RunStatus::kCompleted);
  EXPECT_EQ(done.steps[2].attempts, 2u);
}

}  // namespace
}  // namespace rwd::test
