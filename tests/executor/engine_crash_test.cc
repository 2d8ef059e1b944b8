// The engine crash harness. An engine process (engine_crash_child) runs a mixed
// workload — starts, steps that fail and are retried, runs that fail and are
// resumed, approvals, forks, projection rebuilds, and recovery itself at every
// start — and streams every acknowledgement; this test SIGKILLs it at random
// moments, many times (some of them while it opens and recovers), then
// recovers the journal in this process, drives every run to completion and
// checks what the engine promises:
//   * every acknowledged event is in the journal, at its seq, of its type;
//     every acknowledged start, fork, approval and resume is there;
//   * the journal verifies (checksums, hash chains, decoding, transitions);
//   * every run completes, by recovery and the operator's usual actions, with
//     its workflow's output;
//   * a completed step never runs again in its epoch, no attempt runs twice,
//     nothing runs whose StepStarted was not durable first (forks included:
//     a kept step never runs in the fork);
//   * the projections the engine maintained equal, byte for byte, a rebuild.
// Handlers log each execution to a file before they work; the journal says
// what was recorded. The schedule comes from a printed seed:
// REWIND_ENGINE_CRASH_SEED reproduces it, REWIND_ENGINE_CRASH_ROUNDS sets the
// number of kills (scripts/long-tests.sh runs 10,000).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "rewind/executor/engine.h"
#include "rewind/schemas/describe.h"
#include "tests/executor/engine_crash_workflow.h"
#include "tests/executor/execution_audit.h"
#include "tests/support/child_process.h"
#include "tests/support/kill_schedule.h"
#include "tests/support/matchers.h"
#include "tests/support/projection_dump.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using Clock = std::chrono::steady_clock;

// How many times each attempt ran, from the exec log.
ExecCounts ReadExecLog(const std::string& path) {
  ExecCounts out;
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

// What the children acknowledged, over all rounds.
struct Acks {
  std::map<std::pair<std::string, std::uint64_t>, std::string> events;  // (run, seq) -> type
  std::map<std::string, std::string> started;                          // run -> workflow
  std::map<std::string, std::string> forked;                           // run -> parent
  std::set<std::string> approved;
  std::set<std::pair<std::string, std::string>> resumed;  // run, request id
  std::uint64_t rebuilt = 0, most_recovered = 0;
  bool crash_run_completed = false;  // a "crash" run (or a fork) completed: the children have one to fork

  void Take(const std::string& line) {
    std::istringstream in(line);
    std::string word, a, b, c;
    in >> word >> a >> b >> c;
    if (word == "ack" && !c.empty()) {
      const auto key = std::make_pair(a, std::strtoull(b.c_str(), nullptr, 10));
      const auto [it, fresh] = events.emplace(key, c);
      if (!fresh && it->second != c) {
        ADD_FAILURE() << "run " << a << " seq " << b << " acknowledged as " << it->second << " and as " << c;
      }
      if (c == "RunCompleted" && (forked.contains(a) || (started.contains(a) && started[a] == "crash"))) {
        crash_run_completed = true;
      }
    } else if (word == "started" && !b.empty()) {
      started[a] = b;
    } else if (word == "forked" && !b.empty()) {
      forked[a] = b;
    } else if (word == "approved" && !a.empty()) {
      approved.insert(a);
    } else if (word == "resumed" && !b.empty()) {
      resumed.emplace(a, b);
    } else if (word == "rebuilt" && !a.empty()) {
      ++rebuilt;
    } else if (word == "recovering" && !a.empty()) {
      most_recovered = std::max<std::uint64_t>(most_recovered, std::strtoull(a.c_str(), nullptr, 10));
    } else {
      ADD_FAILURE() << "unexpected child output: " << line;
    }
  }
};

// What every journal of the test saw, together.
struct Totals {
  std::uint64_t runs = 0, completed = 0, forks = 0, resumes = 0, approvals = 0;
  std::uint64_t acknowledged = 0, rebuilds = 0, most_recovered = 0;  // from the children's lines
  std::uint64_t abandoned = 0;      // StepAbandoned events
  std::uint64_t failed = 0;         // StepFailed events (planned failures)
  std::uint64_t execs = 0;          // handler executions
  std::uint32_t most_attempts = 0;  // of one step in one epoch
  int dumped = 0;                   // runs whose history was printed
};

// Checks one run's events against what its handlers logged and what the
// children acknowledged of it.
void CheckRun(const RunId& run, const std::vector<Event>& events, const ExecCounts& exec, const Acks& acks,
              Totals& totals) {
  const std::string hex = run.ToString();
  std::vector<std::string> problems;
  auto state = Fold(run, events);
  ASSERT_THAT(state, IsOk()) << "run " << hex;
  const std::string_view want = state->definition->workflow == "gated" ? kGatedOutput : kCrashOutput;
  if (state->status != RunStatus::kCompleted) {
    problems.push_back("is " + std::string(RunStatusName(state->status)) + ", not completed");
  } else if (AsChars(state->output) != want) {
    problems.push_back("output " + std::string(AsChars(state->output)));
  } else {
    ++totals.completed;
  }
  for (auto it = acks.events.lower_bound({hex, 0}); it != acks.events.end() && it->first.first == hex; ++it) {
    const std::uint64_t seq = it->first.second;
    if (seq == 0 || seq > events.size()) {
      problems.push_back("acknowledged seq " + std::to_string(seq) + " (" + it->second + ") is lost");
    } else if (EventTypeName(events[seq - 1].body) != it->second) {
      problems.push_back("acknowledged seq " + std::to_string(seq) + " as " + it->second + ", the journal has " +
                         std::string(EventTypeName(events[seq - 1].body)));
    }
  }
  if (const auto fork = acks.forked.find(hex); fork != acks.forked.end()) {
    ++totals.forks;
    const auto* first = events.empty() ? nullptr : std::get_if<RunForked>(&events[0].body);
    if (first == nullptr || first->parent_run.ToString() != fork->second) problems.push_back("is not the fork it was");
  }
  std::set<std::string> request_ids;
  bool decided = false;
  for (const Event& e : events) {
    if (const auto* s = std::get_if<StepStarted>(&e.body)) {
      totals.most_attempts = std::max(totals.most_attempts, s->attempt);
    } else if (std::holds_alternative<StepAbandoned>(e.body)) {
      ++totals.abandoned;
    } else if (std::holds_alternative<StepFailed>(e.body)) {
      ++totals.failed;
    } else if (const auto* r = std::get_if<ResumeRequested>(&e.body)) {
      ++totals.resumes;
      request_ids.insert(r->request_id);
    } else if (std::holds_alternative<ApprovalDecided>(e.body)) {
      ++totals.approvals;
      decided = true;
    }
  }
  for (auto it = acks.resumed.lower_bound({hex, ""}); it != acks.resumed.end() && it->first == hex; ++it) {
    if (request_ids.count(it->second) == 0) problems.push_back("acknowledged resume " + it->second + " is lost");
  }
  if (acks.approved.count(hex) != 0 && !decided) problems.push_back("acknowledged approval is lost");
  for (auto it = exec.lower_bound(Exec{hex, "", 0, 0}); it != exec.end() && std::get<0>(it->first) == hex; ++it) {
    totals.execs += static_cast<std::uint64_t>(it->second);
  }
  for (std::string& p : AuditExecutions(*state, events, exec)) problems.push_back(std::move(p));
  if (problems.empty()) return;
  std::string message = "run " + hex + ":\n";
  for (const auto& p : problems) message += "  " + p + "\n";
  if (totals.dumped++ < 5) message += "events:\n" + History(events);
  ADD_FAILURE() << message;
}

// Runs one child and kills it: one round in five as soon as it is started
// (while it opens the journal and recovers), the others at a random moment
// of its workload, once it recovered. Until a "crash" run has completed, that
// moment comes after the child acknowledged one (the children fork completed
// runs).
void KillOneChild(const std::string& dir, const std::string& exec_log, std::mt19937_64& rng, Acks& acks) {
  std::vector<std::string> lines;
  std::size_t taken = 0;
  bool recovered = false;  // "recovering" follows the acknowledgements of what recovery appended
  const auto take = [&] {
    for (; taken < lines.size(); ++taken) {
      recovered = recovered || lines[taken].starts_with("recovering");
      acks.Take(lines[taken]);
    }
  };
  {
    ChildProcess child("engine_crash_child", {dir, exec_log, std::to_string(rng())});
    bool alive = true;
    if (rng() % 5 == 0) {
      const auto kill_at = Clock::now() + std::chrono::microseconds(rng() % 30'001);
      while (alive && Clock::now() < kill_at) alive = child.ReadLines(1, &lines);
    } else {
      const auto give_up = Clock::now() + std::chrono::seconds(60);
      for (take(); alive && !recovered && Clock::now() < give_up; take()) alive = child.ReadLines(100, &lines);
      ASSERT_TRUE(recovered || !alive) << "the child did not recover in 60 s";
      const auto completed_by = Clock::now() + std::chrono::seconds(120);
      for (; alive && !acks.crash_run_completed && Clock::now() < completed_by; take()) {
        alive = child.ReadLines(100, &lines);
      }
      ASSERT_TRUE(acks.crash_run_completed || !alive) << "the child completed no run in 120 s";
      const auto kill_at = Clock::now() + std::chrono::microseconds(rng() % 40'001);
      while (alive && Clock::now() < kill_at) alive = child.ReadLines(1, &lines);
    }
    ASSERT_TRUE(alive) << "the child ended by itself: " << HowItEnded(child.Wait());
    child.KillAndDrain(&lines);
  }
  take();
}

// What the operator does after the last crash: recovery runs the runs; a run
// paused at its gate is approved, a failed one resumed. Returns the runs
// that did not complete.
std::vector<RunId> DriveToCompletion(Engine& engine, const std::vector<RunId>& runs) {
  std::vector<RunId> stuck;
  for (const RunId& run : runs) {
    Result<RunState> state = Err(Code::kInternal, "not awaited");
    for (int action = 0; action < 8; ++action) {
      state = engine.Await(run, CrashOperator(), std::chrono::seconds(30));
      if (!state.has_value() || state->status == RunStatus::kCompleted) break;
      if (state->status == RunStatus::kPaused) {
        EXPECT_THAT(engine.Approve(run, kGateStep, CrashOperator(), ToBytes(kApprovalData)), IsOk());
      } else if (state->status == RunStatus::kFailed) {
        EXPECT_THAT(engine.Resume(ResumeFailed(*state)), IsOk());
      }
    }
    if (!state.has_value() || state->status != RunStatus::kCompleted) stuck.push_back(run);
  }
  return stuck;
}

// Kills `rounds` children on one fresh journal, then recovers it and checks
// everything; adds what it saw to `totals`.
void SurviveKills(std::uint64_t rounds, std::mt19937_64& rng, Totals& totals) {
  TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  const std::string exec_log = tmp.Sub("exec.log");
  Acks acks;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    KillOneChild(dir, exec_log, rng, acks);
    if (::testing::Test::HasFatalFailure()) return;
  }

  const int log_fd = ::open(exec_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(log_fd, 0);
  EngineOptions options;
  options.journal.directory = dir;
  options.workflows.push_back(EngineCrashWorkflow(log_fd));
  options.workflows.push_back(EngineGatedWorkflow(log_fd));
  options.handler_threads = 16;
  auto engine = Engine::Open(std::move(options));
  ASSERT_THAT(engine, IsOk());
  std::vector<RunId> runs;
  ASSERT_THAT((*engine)->journal().ForEachRun([&](const RunId& run, std::uint64_t) {
    runs.push_back(run);
    return Status::Ok();
  }),
              IsOk());
  std::set<std::string> in_journal;
  for (const RunId& run : runs) in_journal.insert(run.ToString());
  for (const auto& [hex, workflow] : acks.started) EXPECT_EQ(in_journal.count(hex), 1u) << "run " << hex << " was lost";
  for (const auto& [hex, parent] : acks.forked) EXPECT_EQ(in_journal.count(hex), 1u) << "fork " << hex << " was lost";
  for (const auto& [key, type] : acks.events) {
    EXPECT_EQ(in_journal.count(key.first), 1u) << "run " << key.first << " (acknowledged " << type << ") was lost";
  }

  const std::vector<RunId> stuck = DriveToCompletion(**engine, runs);
  EXPECT_TRUE(stuck.empty()) << stuck.size() << " runs did not complete, the first " << stuck.front().ToString();
  EXPECT_THAT((*engine)->journal().VerifyAll(), IsOk());
  // Nothing appends any more: the projections maintained with every append
  // (and rebuilt now and then by the children) must equal a rebuild.
  ASSERT_THAT((*engine)->projections()->CatchUp(), IsOk());
  const auto maintained = DumpProjections((*engine)->journal());
  ASSERT_THAT((*engine)->projections()->Rebuild({}), IsOk());
  EXPECT_TRUE(maintained == DumpProjections((*engine)->journal())) << "the projections differ from a rebuild";
  std::map<RunId, std::vector<Event>> events;
  for (const RunId& run : runs) {
    auto e = (*engine)->Events(run, CrashOperator());
    ASSERT_THAT(e, IsOk());
    events.emplace(run, std::move(*e));
  }
  engine->reset();  // no handler runs after this
  ::close(log_fd);

  const ExecCounts exec = ReadExecLog(exec_log);
  for (const auto& entry : exec) {
    const std::string& hex = std::get<0>(entry.first);
    EXPECT_EQ(in_journal.count(hex), 1u) << "run " << hex << " ran but has no events";
  }
  const std::uint64_t completed_before = totals.completed;
  for (const auto& [run, history] : events) CheckRun(run, history, exec, acks, totals);
  EXPECT_EQ(totals.completed - completed_before, runs.size());
  EXPECT_FALSE(acks.started.empty()) << "the children never started a run";
  totals.runs += runs.size();
  totals.acknowledged += acks.events.size();
  totals.rebuilds += acks.rebuilt;
  totals.most_recovered = std::max(totals.most_recovered, acks.most_recovered);
}

// The long mode (REWIND_ENGINE_CRASH_ROUNDS=10000) starts a fresh journal
// every kRoundsPerJournal kills, and checks each one: a journal of 10,000
// rounds would make every child's recovery scan slower than its workload.
constexpr std::uint64_t kRoundsPerJournal = 500;

TEST(EngineCrashTest, AMixedWorkloadSurvivesSigkillAtRandomMoments) {
  spdlog::set_level(spdlog::level::warn);  // the engine logs every recovered attempt at info
  KillSchedule schedule("REWIND_ENGINE_CRASH", 50);
  const std::uint64_t rounds = schedule.rounds();
  Totals totals;
  std::uint64_t survived = 0;
  while (survived < rounds && !HasFailure()) {
    const std::uint64_t n = std::min(kRoundsPerJournal, rounds - survived);
    SurviveKills(n, schedule.rng(), totals);
    survived += n;
  }
  std::cout << "survived " << survived << " kill points: " << totals.runs << " runs (" << totals.forks
            << " forks), completed " << totals.completed << "; " << totals.acknowledged
            << " events acknowledged, all present; " << totals.resumes << " resumes, " << totals.approvals
            << " approvals, " << totals.rebuilds << " projection rebuilds acknowledged; at most "
            << totals.most_recovered << " runs recovered at once; " << totals.abandoned << " attempts abandoned, "
            << totals.failed << " failed by plan, " << totals.execs << " handler executions, at most "
            << totals.most_attempts << " attempts of a step in an epoch" << std::endl;
  EXPECT_GT(totals.resumes, 0u);
  EXPECT_GT(totals.approvals, 0u);
  EXPECT_GT(totals.forks, 0u);
}

}  // namespace
}  // namespace rwd::test
