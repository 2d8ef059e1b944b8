#include "tests/executor/engine_crash_workflow.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace rwd::test {

// FNV-1a of (run, step, attempt): a fixed function, so the child and the test
// agree on which attempts fail and how long they take.
namespace {

std::uint64_t EngineCrashHash(const RunId& run, std::string_view step, std::uint32_t attempt) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::uint8_t byte) { h = (h ^ byte) * 1099511628211ull; };
  for (std::uint8_t b : run.bytes()) mix(b);
  for (char c : step) mix(static_cast<std::uint8_t>(c));
  for (int i = 0; i < 4; ++i) mix(static_cast<std::uint8_t>(attempt >> (8 * i)));
  return h;
}

}  // namespace

// The workflow both processes register. Each step's output is
// "<id>(<outputs of its dependencies, by id, comma-separated>)", so a completed
// run's output is "e(d(b(a()),c(a())))". At most two attempts of a step fail
// by design; the rest of the budget is for attempts abandoned by kills, which
// count too: a step can be in flight at several kills in a row (up to 8 seen
// in 400 rounds), and a run that exhausts its budget would fail the test
// without any bug. Backoff stays short (at most 4 ms): a longer one makes a
// retried step more likely to be in flight again at the next kill.
Workflow EngineCrashWorkflow(int exec_log) {
  StepHandler handler = [exec_log](const StepContext& c) -> Result<Bytes> {
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
    if (c.attempt <= 2 && (h >> 20) % 4 == 0) return Err(Code::kUnavailable, "planned transient failure");
    std::string out = c.step->id + "(";
    for (const auto& [id, dep] : *c.dependencies) {
      if (out.back() != '(') out += ",";
      out += AsChars(dep);
    }
    return ToBytes(out + ")");
  };
  const RetryPolicy retry{50, 1, 2.0, 4, 0.1};
  Workflow w("crash");
  w.Step("a", handler).Retry(retry);
  w.Step("b", handler).After({"a"}).Retry(retry);
  w.Step("c", handler).After({"a"}).Retry(retry);
  w.Step("d", handler).After({"b", "c"}).Retry(retry);
  w.Step("e", handler).After({"d"}).Retry(retry);
  return w;
}

}  // namespace rwd::test
