// resume_bench: what an operator's durable Resume of a failed run costs,
// next to what one durable commit costs.
//
// The workflow has five code steps in a line; the third fails permanently in
// a run's first epoch and succeeds after a resume. --runs runs are started
// and awaited until they have failed (RunFailed durable). Then each is
// resumed, one at a time: Resume returns once its ResumeRequested is durable
// (the engine then re-runs the step in the background), and the call's
// latency is recorded; after each, one commit of the floor (engine_util.h) is
// sampled. Every run must then complete. Repeated --reps times on a fresh
// engine in a fresh directory; figures are medians. ratio = Resume p50 /
// commit p50: how far a resume is from the one commit it must make; the
// commit p99 beside the Resume p99 shows how much of the tail is the disk's.
//
// Output: a table for people; with --json FILE also one JSON object in FILE.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench/bench_util.h"
#include "bench/flags.h"
#include "bench/engine_util.h"
#include "bench/histories.h"
#include "rewind/executor/engine.h"

namespace rwd {
namespace {

using namespace bench;  // NOLINT: the bench helpers

constexpr const char* kWorkflowName = "fails-once";
constexpr int kSteps = 5;
constexpr std::uint32_t kFailingStep = 2;  // "step3"

struct Settings {
  unsigned runs = 500;
  unsigned reps = 3;
  Durability durability = Durability::kDurable;
  std::string dir = "bench-tmp";
  std::string json;
};

struct Figures {
  double p50_ms = 0, p99_ms = 0, commit_p50_ms = 0, commit_p99_ms = 0, ratio = 0;
};

// Five no-op steps; the third fails with a permanent error in epoch 0.
Workflow FailsOnce() {
  Workflow fails(kWorkflowName);
  for (int i = 1; i <= kSteps; ++i) {
    fails.Step("step" + std::to_string(i), [i](const StepContext& ctx) -> Result<Bytes> {
      if (i == static_cast<int>(kFailingStep) + 1 && ctx.epoch == 0) {
        return Err(Code::kFailedPrecondition, "fails until resumed");
      }
      return Bytes();
    });
  }
  return fails;
}

Result<RunState> AwaitStopped(Engine& engine, const RunId& run) {
  return engine.Await(run, BenchPrincipal(), std::chrono::seconds(120));
}

Result<Figures> Measure(const fs::path& dir, const Settings& settings) {
  EngineOptions options;
  options.journal = JournalOptionsFor(dir, settings.durability);
  options.workflows.push_back(FailsOnce());
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Open(std::move(options)));

  std::vector<RunId> runs;
  for (unsigned i = 0; i < settings.runs; ++i) {
    StartRequest start;
    start.workflow = kWorkflowName;
    start.actor = BenchPrincipal();
    REWIND_ASSIGN_OR_RETURN(RunId run, engine->Start(start));
    runs.push_back(run);
  }
  for (const RunId& run : runs) {
    REWIND_ASSIGN_OR_RETURN(RunState state, AwaitStopped(*engine, run));
    if (state.status != RunStatus::kFailed) {
      return Err(Code::kInternal, "run " + run.ToString() + " ended " + std::string(RunStatusName(state.status)) +
                                      " before its resume");
    }
  }

  CommitFloor floor(engine->journal());
  std::vector<double> resume_ms;
  for (const RunId& run : runs) {
    ResumeRequest resume;
    resume.run = run;
    resume.actor = BenchPrincipal();
    resume.reason = "the bench resumes it";
    const Clock::time_point t0 = Clock::now();
    REWIND_ASSIGN_OR_RETURN(ResumeResult result, engine->Resume(resume));
    resume_ms.push_back(Millis(Clock::now() - t0));
    if (result.from_step != kFailingStep) return Err(Code::kInternal, "resumed from an unexpected step");
    // The resumed run finishes in the background; let it, then sample the floor.
    REWIND_ASSIGN_OR_RETURN(RunState state, AwaitStopped(*engine, run));
    if (state.status != RunStatus::kCompleted) {
      return Err(Code::kInternal, "run " + run.ToString() + " ended " + std::string(RunStatusName(state.status)) +
                                      " after its resume");
    }
    REWIND_RETURN_IF_ERROR(floor.Sample());
  }
  REWIND_RETURN_IF_ERROR(ProjectionsHealthy(*engine));
  Figures f;
  f.p50_ms = Percentile(resume_ms, 0.5);
  f.p99_ms = Percentile(resume_ms, 0.99);
  f.commit_p50_ms = floor.P50();
  f.commit_p99_ms = floor.P99();
  f.ratio = f.commit_p50_ms > 0 ? f.p50_ms / f.commit_p50_ms : 0;
  return f;
}

int Run(const Settings& settings) {
  std::vector<Figures> reps;
  for (unsigned i = 0; i < settings.reps; ++i) {
    Result<std::unique_ptr<ScratchDir>> scratch = ScratchDir::Create(settings.dir, "resume");
    Result<Figures> f = scratch.has_value() ? Measure((*scratch)->path(), settings) : Err(scratch.error());
    if (!f.has_value()) {
      std::fprintf(stderr, "resume_bench: %s\n", f.error().ToString().c_str());
      return 1;
    }
    reps.push_back(*f);
  }
  const Figures m{MedianOf(reps, &Figures::p50_ms), MedianOf(reps, &Figures::p99_ms),
                  MedianOf(reps, &Figures::commit_p50_ms), MedianOf(reps, &Figures::commit_p99_ms),
                  MedianOf(reps, &Figures::ratio)};
  std::printf("# resume_bench: %u failed runs of a %d-step workflow resumed one at a time, %s, default projections, "
              "median of %u; scratch under '%s'\n",
              settings.runs, kSteps, DurabilityName(settings.durability), settings.reps, settings.dir.c_str());
  std::printf("%6s %10s %10s %13s %13s %7s\n", "runs", "p50 ms", "p99 ms", "commit p50ms", "commit p99ms", "ratio");
  std::printf("%6u %10.3f %10.3f %13.4f %13.4f %7.2f\n", settings.runs, m.p50_ms, m.p99_ms, m.commit_p50_ms,
              m.commit_p99_ms, m.ratio);
  JsonRows json("resume", settings.json);
  json.Add({{"durability", DurabilityName(settings.durability)},
            {"runs", settings.runs},
            {"p50_ms", m.p50_ms},
            {"p99_ms", m.p99_ms},
            {"commit_p50_ms", m.commit_p50_ms},
            {"commit_p99_ms", m.commit_p99_ms},
            {"ratio", m.ratio}});
  if (Status s = json.Write(); !s.ok()) {
    std::fprintf(stderr, "resume_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // the table only
  rwd::Settings settings;
  CLI::App app{"Durable Resume latency on failed runs, next to a journal commit floor"};
  app.add_option("--runs", settings.runs, "Failed runs resumed, one at a time")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--reps", settings.reps, "Repetitions; figures are medians")
      ->check(CLI::Range(1u, 99u))
      ->capture_default_str();
  rwd::bench::AddDurabilityFlag(app, settings.durability, "durable (sync each commit, default) or nosync");
  rwd::bench::AddOutputFlags(app, settings.dir, settings.json);
  CLI11_PARSE(app, argc, argv);
  return rwd::Run(settings);
}
