// e2e_bench: what a whole workflow run costs, next to what its commits cost.
//
// The workflow is five no-op code steps in a line (each handler returns an
// empty output at once), so what is measured is the engine: journal appends,
// the decider, the actor's strand, the step handlers' slots.
// A run takes 12 events; the engine appends them in 6 commits when runs go one
// at a time (RunStarted with the first StepStarted, then each StepCompleted
// with what it unblocks).
//
// Two modes, each repeated --reps times on a fresh engine in a fresh directory
// under --dir; each figure is the median over the repetitions.
//
//   latency     one run at a time, Start then Await, --runs of them after
//               --warmup-runs: p50/p99 of Start→Await in ms, and the journal
//               commits per run from Journal::stats().
//   throughput  --in-flight runs started by --starters threads (Start blocks
//               until RunStarted is durable, so one thread cannot keep many
//               starts in flight), then awaited by the same threads; runs/s and
//               events/s over the whole batch, from the first Start to the last
//               Await. p50/p99 here are Start→RunCompleted durable per run (the
//               engine's observer); commits per run shows the group commit.
//               "peak runs" is the most runs between their Start call and their
//               stop at any one moment: the starters bound it, not --in-flight
//               (with 32 starters about 220; --starters 256 reaches 1,000 but is
//               no faster, the CPU being the limit).
//
// Three floors, each sampled beside the measurement, not before it (disk sync
// times on a shared machine drift by 10x within seconds):
//   * the raw LMDB commit (raw_floor.h): one record of a 100-byte payload
//     committed straight into LMDB, in a directory beside the journal. In
//     latency mode one after each measured run; "raw floor" = commits per run
//     × its p50: what the run's commits would cost with nothing of Rewind in
//     them. raw ratio = p50 / raw floor, raw p99 ratio = p99 / raw floor.
//   * the journal's own commit: a single-event Journal::Append to a run of its
//     own in the engine's journal (a valid history, so the projections fold it
//     too), one after each measured run in latency mode, --floor-appends
//     before and after the batch in throughput mode. "commit p50" is their
//     median; floor = commits per run × commit p50; ratio = p50 / floor in
//     latency mode, and the batch's mean time per run (1 / runs/s) / floor in
//     throughput mode (how far the batch is from a writer doing nothing but
//     syncs).
//   * latency mode only: a naive SQLite journal (sqlite_journal.h) running the
//     same 5-step run with one synced transaction per event (12), one run
//     after each measured run. sqlite ratio = p50 / its p50.
// "CPU us/run" is the whole process's CPU time (all threads: engine, journal,
// projections) while the runs were measured, per completed run; the floors'
// own samples are not counted.
//
// Output: a table for people; with --json FILE also one JSON object per mode
// per line in FILE, for scripts and the suite's report.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/flags.h"
#include "bench/engine_util.h"
#include "bench/histories.h"
#include "bench/raw_floor.h"
#include "bench/sqlite_journal.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/executor/workflow.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"

namespace rwd {
namespace {

namespace fs = std::filesystem;
using bench::CommitFloor;
using bench::ProcessCpuSeconds;
using bench::RawFloor;
using bench::SqliteJournal;
using bench::DurabilityName;
using bench::Millis;
using bench::Seconds;
using bench::MedianOf;
using bench::Percentile;
using bench::ScratchDir;
using bench::Clock;

constexpr const char* kWorkflowName = "noop5";
constexpr int kSteps = 5;

struct Settings {
  std::vector<std::string> modes{"latency", "throughput"};
  Durability durability = Durability::kDurable;
  unsigned runs = 500;           // latency: sequential runs measured
  unsigned warmup_runs = 50;     // before each engine measurement, sequential
  unsigned in_flight = 1000;     // throughput: runs in one batch
  unsigned starters = 32;        // throughput: threads calling Start
  unsigned handler_threads = 2;  // EngineOptions::handler_threads
  unsigned floor_appends = 100;  // throughput: floor appends before and after the batch, each
  unsigned reps = 3;
  bool projections = true;       // EngineOptions::projections (default) or none
  double timeout_seconds = 120;  // per Await
  std::string dir = "bench-tmp";
  std::string json;  // empty: no JSON file
};


// ---------------------------------------------------------------------------
// The workflow and the engine

Result<std::unique_ptr<Engine>> OpenEngine(const fs::path& dir, const Settings& settings,
                                           std::size_t max_active_runs, RunObserver observer = nullptr) {
  EngineOptions options;
  options.journal = bench::JournalOptionsFor(dir, settings.durability);
  options.workflows.push_back(bench::NoopWorkflow(kWorkflowName, kSteps));
  options.handler_threads = settings.handler_threads;
  options.max_active_runs = max_active_runs;
  options.observer = std::move(observer);
  if (!settings.projections) options.projections.reset();
  return Engine::Open(std::move(options));
}

std::chrono::milliseconds AwaitTimeout(const Settings& settings) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(settings.timeout_seconds * 1000));
}

// Start, then Await; Ok only for a run that completed.
Result<RunId> RunOnce(Engine& engine, const Settings& settings) {
  StartRequest request;
  request.workflow = kWorkflowName;
  request.actor = bench::BenchPrincipal();
  REWIND_ASSIGN_OR_RETURN(RunId run, engine.Start(request));
  REWIND_ASSIGN_OR_RETURN(RunState state, engine.Await(run, request.actor, AwaitTimeout(settings)));
  if (state.status != RunStatus::kCompleted) {
    return Err(Code::kInternal, "run " + run.ToString() + " ended " + std::string(RunStatusName(state.status)) +
                                    ": " + state.error_message);
  }
  return run;
}

// Runs --warmup-runs runs (at least one).
Status Warm(Engine& engine, const Settings& settings) {
  for (unsigned i = 0; i < std::max(settings.warmup_runs, 1u); ++i) {
    if (Result<RunId> run = RunOnce(engine, settings); !run.has_value()) return run.error().WithContext("warm-up");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Figures of one repetition

struct Figures {
  double p50_ms = 0;
  double p99_ms = 0;
  double commits_per_run = 0;
  double events_per_run = 0;
  double runs_per_s = 0;
  double events_per_s = 0;
  double commit_p50_ms = 0;  // the floor's
  double floor_ms = 0;       // commits_per_run × commit_p50_ms
  double ratio = 0;          // see the top of the file
  double peak_in_flight = 0;  // throughput: most runs between Start and stopped at once
  double cpu_us_per_run = 0;   // process CPU while measuring, per run
  // Latency only (0 otherwise):
  double raw_commit_p50_ms = 0;  // one raw LMDB commit
  double raw_floor_ms = 0;       // commits_per_run × raw_commit_p50_ms
  double raw_ratio = 0;          // p50 / raw floor
  double raw_p99_ratio = 0;      // p99 / raw floor
  double sqlite_p50_ms = 0;      // the naive SQLite journal's run
  double sqlite_p99_ms = 0;
  double sqlite_ratio = 0;       // p50 / sqlite p50
};

// The raw and SQLite figures of latency mode from their samples.
void AddLatencyFloors(Figures& f, std::vector<double>& raw_ms, std::vector<double>& sqlite_ms) {
  f.raw_commit_p50_ms = Percentile(raw_ms, 0.50);
  f.raw_floor_ms = f.commits_per_run * f.raw_commit_p50_ms;
  f.raw_ratio = f.raw_floor_ms > 0 ? f.p50_ms / f.raw_floor_ms : 0;
  f.raw_p99_ratio = f.raw_floor_ms > 0 ? f.p99_ms / f.raw_floor_ms : 0;
  f.sqlite_p50_ms = Percentile(sqlite_ms, 0.50);
  f.sqlite_p99_ms = Percentile(sqlite_ms, 0.99);
  f.sqlite_ratio = f.sqlite_p50_ms > 0 ? f.p50_ms / f.sqlite_p50_ms : 0;
}

// `run_ms` per run; `elapsed` and `cpu_seconds` for all `runs`; journal
// counters around them, less the floor's own commits.
Figures Summarize(std::vector<double>& run_ms, unsigned runs, Clock::duration elapsed, double cpu_seconds,
                  const JournalStats& before, const JournalStats& after, CommitFloor& floor, bool ratio_of_p50) {
  const double n = runs;
  const double seconds = Seconds(elapsed);
  const auto commits = static_cast<double>(after.commits - before.commits - floor.commits());
  const auto events = static_cast<double>(after.events - before.events - floor.events());
  Figures f;
  f.p50_ms = Percentile(run_ms, 0.50);
  f.p99_ms = Percentile(run_ms, 0.99);
  f.commits_per_run = commits / n;
  f.events_per_run = events / n;
  f.runs_per_s = n / seconds;
  f.events_per_s = events / seconds;
  f.commit_p50_ms = floor.P50();
  f.floor_ms = f.commits_per_run * f.commit_p50_ms;
  const double measured_ms = ratio_of_p50 ? f.p50_ms : seconds * 1000 / n;
  f.ratio = f.floor_ms > 0 ? measured_ms / f.floor_ms : 0;
  f.cpu_us_per_run = cpu_seconds * 1e6 / n;
  return f;
}

// ---------------------------------------------------------------------------
// Latency: one run at a time

Result<Figures> MeasureLatency(const fs::path& dir, const Settings& settings) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, OpenEngine(dir, settings, EngineOptions{}.max_active_runs));
  REWIND_RETURN_IF_ERROR(Warm(*engine, settings));
  CommitFloor floor(engine->journal());
  const fs::path raw_dir = dir / "raw-floor", sqlite_dir = dir / "sqlite-journal";
  std::error_code ec;
  if (!fs::create_directory(raw_dir, ec) || !fs::create_directory(sqlite_dir, ec)) {
    return Err(Code::kInternal, "cannot create the floors' directories in '" + dir.string() + "'");
  }
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<RawFloor> raw,
                          RawFloor::Open(raw_dir, settings.durability, 1, bench::RecordBytes(100)));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<SqliteJournal> sqlite, SqliteJournal::Open(sqlite_dir));
  std::vector<double> run_ms, raw_ms, sqlite_ms;
  run_ms.reserve(settings.runs);
  Clock::duration elapsed{};
  double cpu_seconds = 0;
  const JournalStats before = engine->journal().stats();
  for (unsigned i = 0; i < settings.runs; ++i) {
    const double cpu0 = ProcessCpuSeconds();
    const Clock::time_point t0 = Clock::now();
    REWIND_RETURN_IF_ERROR(RunOnce(*engine, settings));
    const Clock::duration took = Clock::now() - t0;
    cpu_seconds += ProcessCpuSeconds() - cpu0;
    run_ms.push_back(Millis(took));
    elapsed += took;
    REWIND_RETURN_IF_ERROR(floor.Sample().WithContext("floor"));
    REWIND_ASSIGN_OR_RETURN(double raw_commit_ms, raw->TimedCommit());
    raw_ms.push_back(raw_commit_ms);
    REWIND_ASSIGN_OR_RETURN(double sqlite_run_ms, sqlite->TimedRun(kSteps, 100));
    sqlite_ms.push_back(sqlite_run_ms);
  }
  const JournalStats after = engine->journal().stats();
  REWIND_RETURN_IF_ERROR(bench::ProjectionsHealthy(*engine));
  Figures f = Summarize(run_ms, settings.runs, elapsed, cpu_seconds, before, after, floor, /*ratio_of_p50=*/true);
  AddLatencyFloors(f, raw_ms, sqlite_ms);
  return f;
}

// ---------------------------------------------------------------------------
// Throughput: many runs in flight

// When each run stopped, as the engine's observer saw it (on the run's strand).
class StopLog {
 public:
  void Observe(const RunState& state) {
    if (!state.Stopped()) return;
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    stopped_.emplace_back(state.run, now);
  }
  std::unordered_map<RunId, Clock::time_point> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::unordered_map<RunId, Clock::time_point> out(stopped_.begin(), stopped_.end());
    stopped_.clear();
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<RunId, Clock::time_point>> stopped_;
};

struct StarterTally {
  std::vector<std::pair<RunId, Clock::time_point>> started;  // with the time Start was called
  Status error;
};

// Starts `count` runs one after the other once `go` opens, then awaits them.
void Starter(Engine& engine, const Settings& settings, unsigned count, std::latch& go, StarterTally& tally) {
  StartRequest request;
  request.workflow = kWorkflowName;
  request.actor = bench::BenchPrincipal();
  tally.started.reserve(count);
  go.arrive_and_wait();
  for (unsigned i = 0; i < count; ++i) {
    const Clock::time_point t = Clock::now();
    Result<RunId> run = engine.Start(request);
    if (!run.has_value()) {
      tally.error = run.error().WithContext("start");
      return;
    }
    tally.started.emplace_back(*run, t);
  }
  for (const auto& [run, t] : tally.started) {
    Result<RunState> state = engine.Await(run, request.actor, AwaitTimeout(settings));
    if (!state.has_value()) {
      tally.error = state.error().WithContext("await");
      return;
    }
    if (state->status != RunStatus::kCompleted) {
      tally.error = Status(Code::kInternal, "run " + run.ToString() + " ended " +
                                                std::string(RunStatusName(state->status)));
      return;
    }
  }
}


Result<Figures> MeasureThroughput(const fs::path& dir, const Settings& settings) {
  StopLog stops;  // outlives the engine, which calls it
  REWIND_ASSIGN_OR_RETURN(
      std::unique_ptr<Engine> engine,
      OpenEngine(dir, settings, std::max<std::size_t>(settings.in_flight, EngineOptions{}.max_active_runs),
                 [&stops](const RunState& state, const std::vector<Event>&) { stops.Observe(state); }));
  REWIND_RETURN_IF_ERROR(Warm(*engine, settings));
  (void)stops.Take();
  CommitFloor floor(engine->journal());
  const JournalStats before = engine->journal().stats();
  REWIND_RETURN_IF_ERROR(floor.Sample(settings.floor_appends));

  const unsigned starters = std::min(settings.starters, settings.in_flight);
  std::vector<StarterTally> tallies(starters);
  std::latch go(static_cast<std::ptrdiff_t>(starters) + 1);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < starters; ++i) {
    // The first in_flight % starters threads start one run more.
    const unsigned count = settings.in_flight / starters + (i < settings.in_flight % starters ? 1 : 0);
    threads.emplace_back(Starter, std::ref(*engine), std::cref(settings), count, std::ref(go),
                         std::ref(tallies[i]));
  }
  go.arrive_and_wait();
  const double cpu0 = ProcessCpuSeconds();
  const Clock::time_point begin = Clock::now();
  for (std::thread& t : threads) t.join();
  const Clock::duration elapsed = Clock::now() - begin;
  const double cpu_seconds = ProcessCpuSeconds() - cpu0;

  REWIND_RETURN_IF_ERROR(floor.Sample(settings.floor_appends));
  const JournalStats after = engine->journal().stats();
  const std::unordered_map<RunId, Clock::time_point> stopped = stops.Take();
  std::vector<double> run_ms;
  std::vector<std::pair<Clock::time_point, int>> edges;  // +1 at Start, -1 once stopped
  for (const StarterTally& tally : tallies) {
    if (!tally.error.ok()) return Err(tally.error);
    for (const auto& [run, t] : tally.started) {
      auto it = stopped.find(run);
      if (it == stopped.end()) return Err(Code::kInternal, "run " + run.ToString() + " was never seen stopping");
      run_ms.push_back(Millis(it->second - t));
      edges.emplace_back(t, 1);
      edges.emplace_back(it->second, -1);
    }
  }
  REWIND_RETURN_IF_ERROR(bench::ProjectionsHealthy(*engine));
  Figures f =
      Summarize(run_ms, settings.in_flight, elapsed, cpu_seconds, before, after, floor, /*ratio_of_p50=*/false);
  std::sort(edges.begin(), edges.end());  // at equal times a stop (-1) comes first
  int in_flight = 0;
  for (const auto& [t, step] : edges) {
    in_flight += step;
    f.peak_in_flight = std::max<double>(f.peak_in_flight, in_flight);
  }
  return f;
}

// ---------------------------------------------------------------------------
// Rows and the report

struct Row {
  std::string mode;
  unsigned runs = 0;
  Figures figures;  // each field the median over the repetitions
};

Figures MedianFigures(const std::vector<Figures>& reps) {
  return Figures{MedianOf(reps, &Figures::p50_ms),         MedianOf(reps, &Figures::p99_ms),
                 MedianOf(reps, &Figures::commits_per_run), MedianOf(reps, &Figures::events_per_run),
                 MedianOf(reps, &Figures::runs_per_s),      MedianOf(reps, &Figures::events_per_s),
                 MedianOf(reps, &Figures::commit_p50_ms),   MedianOf(reps, &Figures::floor_ms),
                 MedianOf(reps, &Figures::ratio),           MedianOf(reps, &Figures::peak_in_flight),
                 MedianOf(reps, &Figures::cpu_us_per_run),  MedianOf(reps, &Figures::raw_commit_p50_ms),
                 MedianOf(reps, &Figures::raw_floor_ms),    MedianOf(reps, &Figures::raw_ratio),
                 MedianOf(reps, &Figures::raw_p99_ratio),   MedianOf(reps, &Figures::sqlite_p50_ms),
                 MedianOf(reps, &Figures::sqlite_p99_ms),   MedianOf(reps, &Figures::sqlite_ratio)};
}

void PrintHeader(const Settings& settings) {
  std::printf(
      "# e2e_bench: %d-step no-op linear workflow, %s, median of %u; latency: %u runs after %u warm-up; "
      "throughput: %u in flight from %u starter threads, %u handler threads, %u floor appends before and after; "
      "scratch under '%s'\n",
      kSteps, DurabilityName(settings.durability), settings.reps, settings.runs, settings.warmup_runs,
      settings.in_flight, settings.starters, settings.handler_threads, settings.floor_appends, settings.dir.c_str());
  std::printf("%-10s %-8s %6s %9s %9s %11s %10s %12s %9s %7s %9s %10s %9s %10s %9s %9s %9s %9s %9s\n", "mode",
              "durable", "runs", "p50 ms", "p99 ms", "commits/run", "events/run", "commit p50ms", "floor ms", "ratio",
              "runs/s", "events/s", "peak runs", "CPU us/run", "raw ms", "raw floor", "raw ratio", "sqlite ms",
              "sqlite x");
}

void PrintRow(const Settings& settings, const Row& row) {
  const Figures& f = row.figures;
  std::printf("%-10s %-8s %6u %9.3f %9.3f %11.3f %10.2f %12.4f %9.3f %7.2f %9.1f %10.1f %9.0f %10.1f %9.4f %9.3f %9.2f "
              "%9.3f %9.2f\n",
              row.mode.c_str(), DurabilityName(settings.durability), row.runs, f.p50_ms, f.p99_ms, f.commits_per_run,
              f.events_per_run, f.commit_p50_ms, f.floor_ms, f.ratio, f.runs_per_s, f.events_per_s, f.peak_in_flight,
              f.cpu_us_per_run, f.raw_commit_p50_ms, f.raw_floor_ms, f.raw_ratio, f.sqlite_p50_ms, f.sqlite_ratio);
  std::fflush(stdout);  // rows arrive seconds apart: show each as it is done
}

nlohmann::json JsonOf(const Settings& settings, const Row& row) {
  const Figures& f = row.figures;
  return {{"mode", row.mode},
          {"durability", DurabilityName(settings.durability)},
          {"projections", settings.projections},
          {"runs", row.runs},
          {"p50_ms", f.p50_ms},
          {"p99_ms", f.p99_ms},
          {"commits_per_run", f.commits_per_run},
          {"commit_p50_ms", f.commit_p50_ms},
          {"floor_ms", f.floor_ms},
          {"ratio", f.ratio},
          {"runs_per_s", f.runs_per_s},
          {"events_per_s", f.events_per_s},
          {"peak_in_flight", f.peak_in_flight},
          {"cpu_us_per_run", f.cpu_us_per_run},
          {"raw_commit_p50_ms", f.raw_commit_p50_ms},
          {"raw_floor_ms", f.raw_floor_ms},
          {"raw_ratio", f.raw_ratio},
          {"raw_p99_ratio", f.raw_p99_ratio},
          {"sqlite_p50_ms", f.sqlite_p50_ms},
          {"sqlite_p99_ms", f.sqlite_p99_ms},
          {"sqlite_ratio", f.sqlite_ratio}};
}

int Run(const Settings& settings) {
  PrintHeader(settings);
  std::vector<Row> rows;
  for (const std::string& mode : settings.modes) {
    const bool latency = mode == "latency";
    const std::function<Result<Figures>(const fs::path&)> measure = [&](const fs::path& dir) {
      return latency ? MeasureLatency(dir, settings) : MeasureThroughput(dir, settings);
    };
    Result<std::vector<Figures>> reps = bench::Repeat(settings.reps, settings.dir, mode, measure);
    if (!reps.has_value()) {
      std::fprintf(stderr, "e2e_bench: %s: %s\n", mode.c_str(), reps.error().ToString().c_str());
      return 1;
    }
    rows.push_back(Row{mode, latency ? settings.runs : settings.in_flight, MedianFigures(*reps)});
    PrintRow(settings, rows.back());
  }
  bench::JsonRows json("e2e", settings.json);
  for (const Row& row : rows) json.Add(JsonOf(settings, row));
  if (Status s = json.Write(); !s.ok()) {
    std::fprintf(stderr, "e2e_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

void AddFlags(CLI::App& app, Settings& settings) {
  app.add_option("--modes", settings.modes, "Comma-separated modes to measure, in order: latency, throughput")
      ->delimiter(',')
      ->check(CLI::IsMember({"latency", "throughput"}))
      ->capture_default_str();
  rwd::bench::AddDurabilityFlag(app, settings.durability, "durable (sync each commit, default) or nosync");
  app.add_option("--runs", settings.runs, "Latency: sequential runs measured")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  app.add_option("--warmup-runs", settings.warmup_runs, "Sequential runs before each measurement (at least 1 is run)")
      ->check(CLI::Range(0u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--in-flight", settings.in_flight, "Throughput: runs started and awaited as one batch")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  app.add_option("--starters", settings.starters, "Throughput: threads calling Start (then Await)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--projections", settings.projections,
                 "Maintain the default projections with every commit (true) or none (false)");
  app.add_option("--handler-threads", settings.handler_threads, "EngineOptions::handler_threads")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--floor-appends", settings.floor_appends,
                 "Throughput: single-event floor appends before the batch, and again after it")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  app.add_option("--reps", settings.reps, "Repetitions per mode; figures are medians")
      ->check(CLI::Range(1u, 99u))
      ->capture_default_str();
  app.add_option("--timeout", settings.timeout_seconds, "Seconds an Await may take before the bench fails")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  rwd::bench::AddOutputFlags(app, settings.dir, settings.json);
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  rwd::Settings settings;
  CLI::App app{"End-to-end workflow latency and throughput, next to a journal commit floor"};
  rwd::AddFlags(app, settings);
  CLI11_PARSE(app, argc, argv);
  return rwd::Run(settings);
}
