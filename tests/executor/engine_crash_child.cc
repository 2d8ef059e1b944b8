// Child process of the engine crash harness (engine_crash_test): runs a mixed
// workload on a durable journal until it is killed with SIGKILL.
//
//   engine_crash_child JOURNAL_DIR EXEC_LOG SEED
//
// Engine::Open recovers whatever the previous child left. Before its workload
// starts, the child forks a completed "crash" run of the journal, if there is
// one, so that every child that lives past its start forks (however slow the
// build). The fork and the runs left unfinished (running, paused or failed)
// fill the slots first. Then each of kSlots threads starts a new run — a
// "crash" run, a "gated" run, or a fork of a completed "crash" run — and
// drives it to completion: it approves a run paused at its gate and resumes a
// run that failed (the workflows are in engine_crash_workflow.h). Another
// thread rebuilds one projection after another. Every acknowledgement goes to
// stdout, one line per write() (shorter than PIPE_BUF, so lines of threads
// never interleave), and only once the call it reports returned:
//   recovering <n>                  after Open and the first fork: n unfinished runs
//   ack <run> <seq> <type>          each event, once durable (the run observer)
//   started <run> <workflow>        Start returned
//   forked <run> <parent>           Fork returned
//   approved <run>                  Approve returned
//   resumed <run> <request id>      Resume returned
//   rebuilt <projection>            Rebuild returned
// Failures of the workload itself go to stderr, and exit 1.
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rewind/executor/engine.h"
#include "tests/executor/engine_crash_workflow.h"
#include "rewind/projections/history.h"

namespace rwd::test {
namespace {

constexpr int kSlots = 50;

void WriteLine(const std::string& line) {
  if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
}

[[noreturn]] void Fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  std::_Exit(1);
}

// The event at `seq` of `run`.
Event EventAt(const Journal& journal, const RunId& run, std::uint64_t seq) {
  std::optional<Event> event;
  const Status s = journal.ReadRun(run, seq, seq, [&](const EventRecord& r) -> Status {
    auto e = DecodeRecord(r);
    if (!e.has_value()) return e.error();
    event = std::move(*e);
    return Status::Ok();
  });
  if (!s.ok()) Fail("read " + run.ToString(), s);
  if (!event) Fail("read " + run.ToString(), Status(Code::kInternal, "no event at seq " + std::to_string(seq)));
  return std::move(*event);
}

// The journal's runs at start: the ones whose last event is not RunCompleted
// (to drive again), and the completed "crash" runs (to fork).
struct Found {
  std::vector<RunId> unfinished;
  std::vector<RunId> completed;
};

Found Scan(const Journal& journal) {
  Found out;
  const Status s = journal.ForEachRun([&](const RunId& run, std::uint64_t last_seq) -> Status {
    if (!std::holds_alternative<RunCompleted>(EventAt(journal, run, last_seq).body)) {
      out.unfinished.push_back(run);
      return Status::Ok();
    }
    const Event first = EventAt(journal, run, 1);
    const auto* started = std::get_if<RunStarted>(&first.body);
    const auto* forked = std::get_if<RunForked>(&first.body);
    const RunStarted* start = started != nullptr ? started : forked != nullptr ? &forked->start : nullptr;
    if (start != nullptr && start->workflow == "crash") out.completed.push_back(run);
    return Status::Ok();
  });
  if (!s.ok()) Fail("scan", s);
  return out;
}

class Workload {
 public:
  Workload(Engine& engine, Found found, std::uint64_t seed)
      : engine_(engine),
        unfinished_(std::move(found.unfinished)),
        completed_(std::move(found.completed)),
        seed_(seed) {}

  // Before the workload: forks a completed "crash" run, if the journal holds
  // one, for a slot to drive first.
  void ForkFirst() {
    std::mt19937_64 rng(seed_ * 1000 + kSlots + 1);
    if (std::optional<RunId> fork = ForkACompletedRun(rng)) {
      std::lock_guard lock(mu_);
      unfinished_.push_back(*fork);
    }
  }

  void Slot(int slot) {
    std::mt19937_64 rng(seed_ * 1000 + static_cast<std::uint64_t>(slot));
    for (;;) {
      std::optional<RunId> run = NextUnfinished();
      if (!run) run = Begin(rng);
      Drive(*run);
    }
  }

  void Rebuilds() {
    std::mt19937_64 rng(seed_ * 1000 + kSlots);
    const std::vector<std::string> names = Projections::Names();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 25));
      const std::string& name = names[rng() % names.size()];
      if (Status s = engine_.projections()->Rebuild(std::span(&name, 1)); !s.ok()) Fail("rebuild " + name, s);
      WriteLine("rebuilt " + name + "\n");
    }
  }

 private:
  std::optional<RunId> NextUnfinished() {
    std::lock_guard lock(mu_);
    if (unfinished_.empty()) return std::nullopt;
    const RunId run = unfinished_.back();
    unfinished_.pop_back();
    return run;
  }

  // A fork of a completed "crash" run from a random step, or nullopt when
  // there is none yet.
  std::optional<RunId> ForkACompletedRun(std::mt19937_64& rng) {
    std::optional<RunId> parent;
    {
      std::lock_guard lock(mu_);
      if (!completed_.empty()) parent = completed_[rng() % completed_.size()];
    }
    if (!parent) return std::nullopt;
    static constexpr const char* kSteps[] = {"a", "b", "c", "d", "e"};
    const Result<RunId> fork = engine_.Fork(ForkRequest{*parent, kSteps[rng() % 5], std::nullopt, CrashOperator()});
    if (!fork.has_value()) Fail("fork " + parent->ToString(), fork.error());
    WriteLine("forked " + fork->ToString() + " " + parent->ToString() + "\n");
    return *fork;
  }

  // A new run: 7 in 10 "crash", 2 "gated", 1 a fork of a completed run.
  RunId Begin(std::mt19937_64& rng) {
    const std::uint64_t pick = rng() % 10;
    if (pick == 9) {
      if (std::optional<RunId> fork = ForkACompletedRun(rng)) return *fork;
    }
    const std::string workflow = pick >= 7 && pick < 9 ? "gated" : "crash";
    const Result<RunId> run = engine_.Start(StartRequest{workflow, ToBytes("input"), "", CrashOperator()});
    if (!run.has_value()) Fail("start", run.error());
    WriteLine("started " + run->ToString() + " " + workflow + "\n");
    return *run;
  }

  void Drive(const RunId& run) {
    for (;;) {
      const Result<RunState> state = engine_.Await(run, CrashOperator(), std::chrono::hours(1));
      if (!state.has_value()) Fail("await " + run.ToString(), state.error());
      switch (state->status) {
        case RunStatus::kCompleted:
          if (state->definition->workflow == "crash") {
            std::lock_guard lock(mu_);
            completed_.push_back(run);
          }
          return;
        case RunStatus::kPaused:
          if (Status s = engine_.Approve(run, kGateStep, CrashOperator(), ToBytes(kApprovalData)); !s.ok()) {
            Fail("approve " + run.ToString(), s);
          }
          WriteLine("approved " + run.ToString() + "\n");
          break;
        case RunStatus::kFailed: {
          const ResumeRequest resume = ResumeFailed(*state);
          const Result<ResumeResult> resumed = engine_.Resume(resume);
          if (!resumed.has_value()) Fail("resume " + run.ToString(), resumed.error());
          WriteLine("resumed " + run.ToString() + " " + resume.request_id + "\n");
          break;
        }
        default:
          Fail("await " + run.ToString(),
               Status(Code::kInternal, "stopped " + std::string(RunStatusName(state->status))));
      }
    }
  }

  Engine& engine_;
  std::mutex mu_;  // guards unfinished_ and completed_
  std::vector<RunId> unfinished_;
  std::vector<RunId> completed_;  // completed "crash" runs, to fork
  const std::uint64_t seed_;
};

int Main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s JOURNAL_DIR EXEC_LOG SEED\n", argv[0]);
    return 2;
  }
  // stdout is for the parent; the engine's warnings go to stderr, and not its
  // info lines (one per recovered attempt).
  spdlog::set_default_logger(spdlog::stderr_color_mt("stderr"));
  spdlog::set_level(spdlog::level::warn);
  const int exec_log = ::open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (exec_log < 0) {
    std::perror(argv[2]);
    return 1;
  }
  EngineOptions options;
  options.journal.directory = argv[1];  // Durability::kDurable
  options.workflows.push_back(EngineCrashWorkflow(exec_log));
  options.workflows.push_back(EngineGatedWorkflow(exec_log));
  options.handler_threads = 16;  // handlers mostly sleep
  options.observer = [](const RunState& state, const std::vector<Event>& appended) {
    std::uint64_t seq = state.seq - appended.size();
    for (const Event& e : appended) {
      WriteLine("ack " + state.run.ToString() + " " + std::to_string(++seq) + " " +
                std::string(EventTypeName(e.body)) + "\n");
    }
  };
  auto engine = Engine::Open(std::move(options));
  if (!engine.has_value()) Fail("open", engine.error());
  Found found = Scan((*engine)->journal());
  const std::size_t unfinished = found.unfinished.size();
  Workload workload(**engine, std::move(found), std::strtoull(argv[3], nullptr, 10));
  workload.ForkFirst();
  WriteLine("recovering " + std::to_string(unfinished) + "\n");

  std::vector<std::thread> threads;
  for (int i = 0; i < kSlots; ++i) threads.emplace_back([&workload, i] { workload.Slot(i); });
  threads.emplace_back([&workload] { workload.Rebuilds(); });
  for (auto& t : threads) t.join();
  return 0;
}

}  // namespace
}  // namespace rwd::test

int main(int argc, char** argv) { return rwd::test::Main(argc, argv); }
