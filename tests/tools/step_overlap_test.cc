// A step's processes never outlive the process that drives the run, and a
// retry never overlaps an abandoned attempt: the driver (`rewind run`, then
// `rewind serve`) is SIGKILLed at random moments, mostly mid-step, and started
// again. Each attempt of a step takes an exclusive flock(1) on one file, which
// every process of the attempt holds: its shell, a child, and a grandchild
// that leaves the attempt's process group (setsid). A retry that starts
// while any process of an abandoned attempt still runs finds the lock taken
// and records an overlap.
//
// REWIND_OVERLAP_ROUNDS (default 100) and REWIND_OVERLAP_SEED choose the kills.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/kill_schedule.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::size_t Count(const std::string& text, const std::string& word) {
  std::size_t n = 0;
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

TEST(StepOverlapTest, NoRetryOverlapsAnAbandonedAttemptAcrossSigkillsOfTheDriver) {
  KillSchedule schedule("REWIND_OVERLAP", 100);
  std::mt19937_64& rng = schedule.rng();
  TempDir dir;
  const std::string data = dir.Sub("data"), log = dir.Sub("attempts.log"), lock = dir.Sub("step.lock");
  // Three steps of about 100 ms each; every attempt holds the lock in all of its processes.
  const std::string attempt =
      "exec 9>>\"$LOCK\"; flock -n 9 || { echo \"overlap $REWIND_STEP $REWIND_ATTEMPT\" >>\"$LOG\"; exit 1; }; "
      "echo \"start $REWIND_STEP $REWIND_ATTEMPT\" >>\"$LOG\"; setsid sleep 0.2 & sleep 0.05 & sleep 0.1; "
      "echo \"end $REWIND_STEP $REWIND_ATTEMPT\" >>\"$LOG\"";
  json step = {{"run", attempt},
               {"env", {{"LOCK", lock}, {"LOG", log}}},
               {"retry", {{"max_attempts", 100000}, {"initial_backoff_ms", 0}}}};
  json workflow = {{"name", "overlap"}, {"steps", json::array()}};
  for (const char* id : {"a", "b", "c"}) {
    step["id"] = id;
    workflow["steps"].push_back(step);
  }
  const std::string file = dir.Sub("overlap.json");
  std::ofstream(file) << workflow.dump();

  auto unfinished = [&] {
    const ProgramOutput o = RunProgram(REWIND_CLI, {"runs", "--status", "running", "--data", data, "--json"},
                                       dir.path());
    const json runs = json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    return o.exit_code == 0 && runs.is_object() && !runs["runs"].empty();
  };
  std::uint64_t kills = 0;
  for (std::uint64_t round = 0; round < schedule.rounds(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const bool serve = round > 0 && unfinished();
    const std::size_t started_before = Count(ReadFile(log), "start ");
    ChildProcess driver(REWIND_CLI, serve ? std::vector<std::string>{"serve", "--data", data}
                                          : std::vector<std::string>{"run", file, "--data", data});
    // Most kills land mid-step, a random time after an attempt started,
    // whatever the machine's speed; one in five at a random time after the
    // driver started (while it opens the journal, recovers, or between steps).
    if (rng() % 5 != 0) {
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (Count(ReadFile(log), "start ") == started_before && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(2ms);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 150));
    std::vector<std::string> lines;
    driver.KillAndDrain(&lines);
    ++kills;
  }
  // A last driver finishes what is left.
  if (unfinished()) {
    ChildProcess driver(REWIND_CLI, {"serve", "--data", data});
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline && Count(ReadFile(log), "end c") == 0) {
      std::this_thread::sleep_for(20ms);
    }
    std::vector<std::string> lines;
    driver.KillAndDrain(&lines);
  }
  const std::string attempts = ReadFile(log);
  const std::size_t starts = Count(attempts, "start "), ends = Count(attempts, "end ");
  std::printf("%llu kills of the driver: %zu attempts started, %zu cut short, %zu overlaps\n",
              static_cast<unsigned long long>(kills), starts, starts - ends, Count(attempts, "overlap"));
  EXPECT_EQ(Count(attempts, "overlap"), 0u) << attempts;
  EXPECT_GT(starts - ends, kills / 3) << "too few kills landed mid-step to show anything";
}

}  // namespace
}  // namespace rwd::test
