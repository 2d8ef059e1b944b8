#include "tests/executor/engine_crash_workflow.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace rwd::test {
namespace {

// FNV-1a of (run, step, attempt): a fixed function, so the child and the test
// agree on which attempts fail and how long they take.
std::uint64_t EngineCrashHash(const RunId& run, std::string_view step, std::uint32_t attempt) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::uint8_t byte) { h = (h ^ byte) * 1099511628211ull; };
  for (std::uint8_t b : run.bytes()) mix(b);
  for (char c : step) mix(static_cast<std::uint8_t>(c));
  for (int i = 0; i < 4; ++i) mix(static_cast<std::uint8_t>(attempt >> (8 * i)));
  return h;
}

// Logs the execution, sleeps, fails by plan, or returns
// "<id>(<outputs of its dependencies, by id, comma-separated>)".
StepHandler Handler(int exec_log) {
  return [exec_log](const StepContext& c) -> Result<Bytes> {
    const std::string line = "exec " + c.run.ToString() + " " + c.step->id + " " + std::to_string(c.epoch) + " " +
                             std::to_string(c.attempt) + "\n";
    // One write() to an O_APPEND file: lines of concurrent handlers never mix,
    // and a SIGKILL leaves whole lines only.
    if (::write(exec_log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::perror("exec log");
      std::_Exit(4);
    }
    const std::uint64_t h = EngineCrashHash(c.run, c.step->id, c.attempt);
    std::this_thread::sleep_for(std::chrono::microseconds(h % 3001));
    if (c.step->id == kFailingStep && c.epoch == 0 && EngineCrashHash(c.run, c.step->id, 0) % 4 == 0) {
      return Err(Code::kFailedPrecondition, "planned permanent failure");
    }
    if (c.attempt <= 2 && (h >> 20) % 4 == 0) return Err(Code::kUnavailable, "planned transient failure");
    std::string out = c.step->id + "(";
    for (const auto& [id, dep] : *c.dependencies) {
      if (out.back() != '(') out += ",";
      out += AsChars(dep);
    }
    return ToBytes(out + ")");
  };
}

// At most two attempts of a step fail by design; the rest of the budget is for
// attempts abandoned by kills, which count too: a step can be in flight at
// several kills in a row (up to 8 seen in 400 rounds), and a run that exhausts
// its budget would fail the test without any bug. Backoff stays short (at most
// 4 ms): a longer one makes a retried step more likely to be in flight again
// at the next kill.
constexpr RetryPolicy kRetry{50, 1, 2.0, 4, 0.1};

}  // namespace

Workflow EngineCrashWorkflow(int exec_log) {
  const StepHandler handler = Handler(exec_log);
  Workflow w("crash");
  w.Step("a", handler).Retry(kRetry);
  w.Step("b", handler).After({"a"}).Retry(kRetry);
  w.Step("c", handler).After({"a"}).Retry(kRetry);
  w.Step(std::string(kFailingStep), handler).After({"b", "c"}).Retry(kRetry);
  w.Step("e", handler).After({kFailingStep}).Retry(kRetry);
  return w;
}

Workflow EngineGatedWorkflow(int exec_log) {
  const StepHandler handler = Handler(exec_log);
  Workflow w("gated");
  w.Step("a", handler).Retry(kRetry);
  w.Approval(std::string(kGateStep)).After({"a"});
  w.Step("z", handler).After({kGateStep}).Retry(kRetry);
  return w;
}

Principal CrashOperator() { return Principal{"default", "crash-operator", {std::string(kOperatorRole)}}; }

ResumeRequest ResumeFailed(const RunState& failed) {
  ResumeRequest resume;
  resume.run = failed.run;
  resume.actor = CrashOperator();
  resume.reason = "the run failed";
  resume.request_id = "resume-" + failed.run.ToString() + "-" + std::to_string(failed.epoch);
  return resume;
}

}  // namespace rwd::test
