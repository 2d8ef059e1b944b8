// SIGKILL an engine process (engine_crash_child) at random moments, many times,
// while it runs workflows whose steps retry; then recover the journal in this
// process and check what at-least-once execution promises:
//   * every run the child reported started (and every run in the journal)
//     completes by recovery alone, with the expected output;
//   * a completed step never runs again in its epoch;
//   * no attempt runs twice;
//   * nothing runs whose StepStarted was not durable first;
//   * the journal verifies.
// Handlers log each execution to a file before they work; the journal says what
// was recorded. The random schedule comes from a printed seed
// (REWIND_ENGINE_CRASH_SEED reproduces it; REWIND_ENGINE_CRASH_ROUNDS sets the
// number of kills).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "rewind/executor/engine.h"
#include "tests/executor/engine_crash_workflow.h"
#include "rewind/schemas/describe.h"
#include "tests/support/child_process.h"
#include "tests/support/kill_schedule.h"
#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {

// The child's workflow (engine_crash_child.cc, built into this test without its main).

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kOutput = "e(d(b(a()),c(a())))";

// One execution of a handler: run hex, step id, epoch, attempt.
using Exec = std::tuple<std::string, std::string, std::uint32_t, std::uint32_t>;

// How many times each attempt ran, from the exec log.
std::map<Exec, int> ReadExecLog(const std::string& path) {
  std::map<Exec, int> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string word, run, step;
    std::uint32_t epoch = 0, attempt = 0;
    fields >> word >> run >> step >> epoch >> attempt;
    if (word != "exec" || fields.fail()) {
      ADD_FAILURE() << "bad exec log line: " << line;
      continue;
    }
    ++out[Exec{run, step, epoch, attempt}];
  }
  return out;
}

std::string HowItEnded(int wait_status) {
  if (WIFSIGNALED(wait_status)) return std::string("killed by signal ") + strsignal(WTERMSIG(wait_status));
  return "exit status " + std::to_string(WEXITSTATUS(wait_status));
}

std::string History(const std::vector<Event>& events) {
  std::string out;
  for (std::size_t i = 0; i < events.size(); ++i) {
    out += "  seq " + std::to_string(i + 1) + ": " + DescribeEvent(events[i]) + "\n";
  }
  return out;
}

struct Totals {
  std::uint64_t completed = 0;
  std::uint64_t abandoned = 0;      // StepAbandoned events
  std::uint64_t failed = 0;         // StepFailed events (planned failures)
  std::uint64_t execs = 0;          // handler executions
  std::uint32_t most_attempts = 0;  // of one step in one run
  int dumped = 0;                   // runs whose history was printed
};

// Checks one run's events against what its handlers logged.
void CheckRun(const RunId& run, const std::vector<Event>& events, const std::map<Exec, int>& exec, Totals& totals) {
  const std::string hex = run.ToString();
  std::vector<std::string> problems;
  auto state = Fold(run, events);
  ASSERT_THAT(state, IsOk()) << "run " << hex;
  if (state->status != RunStatus::kCompleted) {
    problems.push_back("is " + std::string(RunStatusName(state->status)) + ", not completed");
  } else if (AsChars(state->output) != kOutput) {
    problems.push_back("output " + std::string(AsChars(state->output)));
  } else {
    ++totals.completed;
  }
  const auto& steps = state->definition->steps;
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> started;   // step, epoch, attempt
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> completed;  // (step, epoch) -> attempt
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string at = "seq " + std::to_string(i + 1) + " ";
    if (const auto* s = std::get_if<StepStarted>(&events[i].body)) {
      started.emplace(s->step, s->epoch, s->attempt);
      totals.most_attempts = std::max(totals.most_attempts, s->attempt);
      if (completed.count({s->step, s->epoch}) != 0) problems.push_back(at + "starts a completed step");
    } else if (const auto* c = std::get_if<StepCompleted>(&events[i].body)) {
      completed[{c->step, c->epoch}] = c->attempt;
      if (exec.count(Exec{hex, steps[c->step].id, c->epoch, c->attempt}) == 0) {
        problems.push_back(at + "completes an attempt no handler ran");
      }
    } else if (std::holds_alternative<StepAbandoned>(events[i].body)) {
      ++totals.abandoned;
    } else if (std::holds_alternative<StepFailed>(events[i].body)) {
      ++totals.failed;
    }
  }
  for (auto it = exec.lower_bound(Exec{hex, "", 0, 0}); it != exec.end() && std::get<0>(it->first) == hex; ++it) {
    const auto& [r, id, epoch, attempt] = it->first;
    const std::string what =
        "attempt " + std::to_string(attempt) + " of step " + id + " (epoch " + std::to_string(epoch) + ")";
    totals.execs += static_cast<std::uint64_t>(it->second);
    const std::optional<std::uint32_t> step = FindStep(*state->definition, id);
    if (!step) {
      problems.push_back("ran unknown step " + id);
      continue;
    }
    if (it->second > 1) problems.push_back(what + " ran " + std::to_string(it->second) + " times");
    if (started.count({*step, epoch, attempt}) == 0) problems.push_back(what + " ran without a durable StepStarted");
    const auto done = completed.find({*step, epoch});
    if (done != completed.end() && attempt > done->second) {
      problems.push_back(what + " ran after attempt " + std::to_string(done->second) + " completed");
    }
  }
  if (problems.empty()) return;
  std::string message = "run " + hex + ":\n";
  for (const auto& p : problems) message += "  " + p + "\n";
  if (totals.dumped++ < 5) message += "events:\n" + History(events);
  ADD_FAILURE() << message;
}

TEST(EngineCrashTest, RunsSurviveSigkillAtRandomMomentsAndCompletedStepsNeverRerun) {
  KillSchedule schedule("REWIND_ENGINE_CRASH", 50);
  const std::uint64_t rounds = schedule.rounds();
  std::mt19937_64& rng = schedule.rng();
  TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  const std::string exec_log = tmp.Sub("exec.log");
  std::set<std::string> reported;  // runs the child reported started
  std::uint64_t most_recovered = 0;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::string> lines;
    {
      ChildProcess child("engine_crash_child", {dir, exec_log});
      bool alive = true;
      const auto give_up = Clock::now() + std::chrono::seconds(30);
      while (alive && lines.empty() && Clock::now() < give_up) alive = child.ReadLines(100, &lines);
      ASSERT_TRUE(alive) << "the child ended by itself before writing anything: " << HowItEnded(child.Wait());
      ASSERT_FALSE(lines.empty()) << "the child wrote nothing in 30 s";
      const auto kill_at = Clock::now() + std::chrono::microseconds(rng() % 40'001);
      while (alive && Clock::now() < kill_at) alive = child.ReadLines(1, &lines);
      ASSERT_TRUE(alive) << "the child ended by itself: " << HowItEnded(child.Wait());
      child.KillAndDrain(&lines);
    }
    for (const auto& line : lines) {
      std::istringstream in(line);
      std::string word, arg;
      in >> word >> arg;
      if (word == "started") {
        reported.insert(arg);
      } else if (word == "recovering") {
        most_recovered = std::max<std::uint64_t>(most_recovered, std::strtoull(arg.c_str(), nullptr, 10));
      } else {
        ADD_FAILURE() << "unexpected child output: " << line;
      }
    }
  }

  // Recovery alone must finish every run, with the same workflow.
  spdlog::set_level(spdlog::level::warn);  // the engine logs every recovered attempt at info
  const int log_fd = ::open(exec_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(log_fd, 0);
  EngineOptions options;
  options.journal.directory = dir;
  options.workflows.push_back(EngineCrashWorkflow(log_fd));
  options.handler_threads = 16;
  auto engine = Engine::Open(std::move(options));
  ASSERT_THAT(engine, IsOk());
  std::vector<RunId> runs;
  const Status listed = (*engine)->journal().ForEachRun([&](const RunId& run, std::uint64_t) {
    runs.push_back(run);
    return Status::Ok();
  });
  ASSERT_THAT(listed, IsOk());
  std::set<std::string> in_journal;
  for (const RunId& run : runs) in_journal.insert(run.ToString());
  for (const std::string& hex : reported) EXPECT_EQ(in_journal.count(hex), 1u) << "run " << hex << " was lost";
  auto timeout = std::chrono::milliseconds(30'000);
  for (const RunId& run : runs) {
    const auto s = (*engine)->Await(run, Principal{}, timeout);
    EXPECT_THAT(s, IsOk());
    if (!s.has_value()) timeout = std::chrono::milliseconds(1'000);  // one hang is enough to wait for
  }
  EXPECT_THAT((*engine)->journal().VerifyAll(), IsOk());
  std::map<RunId, std::vector<Event>> events;
  for (const RunId& run : runs) {
    auto e = (*engine)->Events(run, Principal{});
    ASSERT_THAT(e, IsOk());
    events.emplace(run, std::move(*e));
  }
  engine->reset();  // no handler runs after this
  ::close(log_fd);

  const std::map<Exec, int> exec = ReadExecLog(exec_log);
  for (const auto& entry : exec) {
    const std::string& hex = std::get<0>(entry.first);
    EXPECT_EQ(in_journal.count(hex), 1u) << "run " << hex << " ran but has no events";
  }
  Totals totals;
  for (const auto& [run, history] : events) CheckRun(run, history, exec, totals);
  std::printf(
      "survived %llu kills: %llu runs completed (%zu reported started, %zu in the journal, at most %llu "
      "recovered at once), %llu attempts abandoned, %llu failed by plan, %llu handler executions, "
      "at most %u attempts of a step\n",
      static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(totals.completed), reported.size(),
      runs.size(), static_cast<unsigned long long>(most_recovered), static_cast<unsigned long long>(totals.abandoned),
      static_cast<unsigned long long>(totals.failed), static_cast<unsigned long long>(totals.execs),
      totals.most_attempts);
  EXPECT_EQ(totals.completed, runs.size());
  EXPECT_FALSE(reported.empty()) << "the child never started a run";
}

}  // namespace
}  // namespace rwd::test
