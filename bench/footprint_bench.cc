// footprint_bench: what runs cost in bytes — on disk per completed run, in
// heap per run in flight, and in resident memory over a sustained load.
//
// storage  Completes --runs runs of the 5-step no-op workflow through the
//          engine (--starters threads, each Start then Await), then as many
//          again, once with no projections (the journal alone) and once with
//          the default ones (run index, step statistics, audit index,
//          snapshots; a snapshot every 64 events of a run, so none for these
//          12-event runs). Bytes per run are the growth of the data over the
//          second batch divided by its runs, so the file's fixed part does not
//          count: "live" is the data file as the engine leaves it (LMDB's
//          free pages included), "compact" a compact copy of it
//          (Journal::CopyTo), i.e. what the runs need.
//
// wide     Bytes per event of a run of --wide-steps steps (10,000: the most a
//          workflow may have) against a 5-step run's, with the default
//          projections: first one run of each (the per-workflow tables, such
//          as each step's statistics, are made once), then, measured, one
//          more 10,000-step run and --runs 5-step ones: the compact copy's
//          growth over the events appended. A run's snapshots are spaced by
//          their size (snapshots_projection.cc), so a run of many steps costs
//          about what a small one does per event; the target is at most 2x.
//
// memory   First --sustain-seconds of continuous load (the no-op workflow,
//          --starters threads, each Start then Await), sampling the process's
//          anonymous resident memory (RssAnon: heap and stacks) once a second:
//          it must level off, not grow with the runs completed. The first 20%
//          of the time is warm-up; growth is the last sample minus the first
//          after it. Then, on a fresh engine, starts --in-flight runs of a
//          workflow whose second step is a one-hour durable sleep, in two
//          waves of half, and waits until every run has scheduled its timer:
//          the runs are in flight, held by the engine. Heap bytes per run are
//          the allocator's bytes in use (mallinfo2) after a wave minus before
//          it, over its runs. The first wave also fills the bounded caches
//          (the projections keep the state of the ProjectionsOptions::
//          cached_runs most recent runs, 4096), so the second wave's figure is
//          what one more run in flight costs (the target's); the average over
//          both is printed beside it.
//
// Durability is nosync by default: sizes and heap do not depend on syncs,
// and more runs fit in the time. Output: a table for people; with --json FILE
// also one JSON object per figure group in FILE.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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

constexpr const char* kNoopName = "noop5";
constexpr const char* kSleeperName = "sleeper";
constexpr const char* kWideName = "wide";
constexpr int kSteps = 5;

struct Settings {
  std::vector<std::string> modes{"storage", "wide", "memory"};
  unsigned runs = 5000;            // storage: runs per batch
  unsigned wide_steps = 10'000;    // wide: steps of the wide run
  unsigned in_flight = 10'000;     // memory: runs held in flight, in two waves
  double sustain_seconds = 300;    // memory: sustained load (the target is 5 minutes)
  unsigned starters = 16;          // threads calling Start then Await
  Durability durability = Durability::kNoSync;
  std::string dir = "bench-tmp";
  std::string json;
};

Result<std::unique_ptr<Engine>> OpenEngine(const fs::path& dir, const Settings& settings, bool projections,
                                           std::size_t max_active_runs = EngineOptions{}.max_active_runs,
                                           RunObserver observer = nullptr) {
  EngineOptions options;
  options.journal = JournalOptionsFor(dir, settings.durability);
  options.workflows.push_back(NoopWorkflow(kNoopName, kSteps));
  if (settings.wide_steps > 0) options.workflows.push_back(NoopWorkflow(kWideName, settings.wide_steps));
  Workflow sleeper(kSleeperName);
  sleeper.Step("first", [](const StepContext&) -> Result<Bytes> { return Bytes(); });
  sleeper.Sleep("wait", std::chrono::hours(1));
  sleeper.Step("last", [](const StepContext&) -> Result<Bytes> { return Bytes(); });
  options.workflows.push_back(std::move(sleeper));
  options.max_active_runs = max_active_runs;
  options.observer = std::move(observer);
  if (!projections) options.projections.reset();
  return Engine::Open(std::move(options));
}

// `runs` no-op runs, `starters` threads each starting one and awaiting it.
// Stops early once `stop` is set (when not null). Returns the runs completed.
Result<std::uint64_t> CompleteRuns(Engine& engine, std::uint64_t runs, unsigned starters,
                                   const std::atomic<bool>* stop = nullptr, const char* workflow = kNoopName) {
  std::atomic<std::uint64_t> next{0}, done{0};
  std::mutex mu;
  Status error;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < starters; ++t) {
    threads.emplace_back([&] {
      while (next.fetch_add(1) < runs && (stop == nullptr || !stop->load())) {
        StartRequest start;
        start.workflow = workflow;
        start.actor = BenchPrincipal();
        const Result<RunId> run = engine.Start(start);
        const Result<RunState> state =
            run.has_value() ? engine.Await(*run, start.actor, std::chrono::seconds(120)) : Err(run.error());
        std::lock_guard lock(mu);
        if (!state.has_value() || state->status != RunStatus::kCompleted) {
          if (error.ok()) error = state.has_value() ? Status(Code::kInternal, "a run did not complete") : state.error();
          return;
        }
        ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (!error.ok()) return Err(error);
  return done.load();
}

Status Completed(const Result<std::uint64_t>& runs) { return runs.has_value() ? Status::Ok() : runs.error(); }

// The data file's size and a compact copy's, now.
struct Sizes {
  std::uint64_t live = 0, compact = 0;
};

Result<Sizes> SizesOf(Engine& engine, const fs::path& dir) {
  Sizes s;
  REWIND_ASSIGN_OR_RETURN(s.live, DataFileBytes(dir));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> copy, ScratchDir::Create(dir.parent_path(), "copy"));
  REWIND_RETURN_IF_ERROR(engine.journal().CopyTo(copy->path().string()));
  REWIND_ASSIGN_OR_RETURN(s.compact, DataFileBytes(copy->path()));
  return s;
}

struct StorageRow {
  std::string what;
  double live_per_run = 0, compact_per_run = 0, events_per_run = 0;
};

Result<StorageRow> MeasureStorage(const Settings& settings, bool projections) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(settings.dir, "storage"));
  const fs::path dir = scratch->path() / "journal";
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, OpenEngine(dir, settings, projections));
  REWIND_RETURN_IF_ERROR(Completed(CompleteRuns(*engine, settings.runs, settings.starters)).WithContext("first batch"));
  REWIND_ASSIGN_OR_RETURN(Sizes before, SizesOf(*engine, dir));
  const JournalStats stats_before = engine->journal().stats();
  REWIND_ASSIGN_OR_RETURN(std::uint64_t runs, CompleteRuns(*engine, settings.runs, settings.starters));
  REWIND_ASSIGN_OR_RETURN(Sizes after, SizesOf(*engine, dir));
  REWIND_RETURN_IF_ERROR(ProjectionsHealthy(*engine));
  const double n = static_cast<double>(runs);
  StorageRow row;
  row.what = projections ? "with projections" : "journal alone";
  row.live_per_run = static_cast<double>(after.live - before.live) / n;
  row.compact_per_run = static_cast<double>(after.compact - before.compact) / n;
  row.events_per_run = static_cast<double>(engine->journal().stats().events - stats_before.events) / n;
  return row;
}

struct WideRow {
  double small_bytes_per_event = 0, wide_bytes_per_event = 0, wide_events = 0, wide_seconds = 0;
};

// Compact bytes per event appended by `runs` runs of `workflow`.
Result<double> BytesPerEvent(Engine& engine, const fs::path& dir, const char* workflow, std::uint64_t runs,
                             unsigned starters, double* events_out = nullptr) {
  REWIND_ASSIGN_OR_RETURN(Sizes before, SizesOf(engine, dir));
  const std::uint64_t events_before = engine.journal().stats().events;
  REWIND_RETURN_IF_ERROR(Completed(CompleteRuns(engine, runs, starters, nullptr, workflow)));
  REWIND_ASSIGN_OR_RETURN(Sizes after, SizesOf(engine, dir));
  const double events = static_cast<double>(engine.journal().stats().events - events_before);
  if (events_out != nullptr) *events_out = events;
  return static_cast<double>(after.compact - before.compact) / events;
}

Result<WideRow> MeasureWide(const Settings& settings) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(settings.dir, "wide"));
  const fs::path dir = scratch->path() / "journal";
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, OpenEngine(dir, settings, true));
  REWIND_RETURN_IF_ERROR(Completed(CompleteRuns(*engine, 1, 1, nullptr, kNoopName)).WithContext("first small run"));
  REWIND_RETURN_IF_ERROR(Completed(CompleteRuns(*engine, 1, 1, nullptr, kWideName)).WithContext("first wide run"));
  WideRow row;
  REWIND_ASSIGN_OR_RETURN(row.small_bytes_per_event,
                          BytesPerEvent(*engine, dir, kNoopName, settings.runs, settings.starters));
  const Clock::time_point t0 = Clock::now();
  REWIND_ASSIGN_OR_RETURN(row.wide_bytes_per_event, BytesPerEvent(*engine, dir, kWideName, 1, 1, &row.wide_events));
  row.wide_seconds = Seconds(Clock::now() - t0);
  REWIND_RETURN_IF_ERROR(ProjectionsHealthy(*engine));
  return row;
}

struct MemoryFigures {
  unsigned in_flight = 0;
  double heap_per_run = 0;          // the second wave's: one more run
  double heap_per_run_average = 0;  // over all runs, the caches' share included
  double seconds = 0;
  std::uint64_t runs_completed = 0;
  std::uint64_t anon_first = 0, anon_last = 0, anon_max = 0;  // after warm-up
};

Status HoldInFlight(const Settings& settings, MemoryFigures& out) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(settings.dir, "memory"));
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t sleeping = 0;
  auto observer = [&](const RunState&, const std::vector<Event>& appended) {
    for (const Event& e : appended) {
      if (std::holds_alternative<TimerScheduled>(e.body)) {
        std::lock_guard lock(mu);
        ++sleeping;
        cv.notify_all();
      }
    }
  };
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                          OpenEngine(scratch->path(), settings, true, settings.in_flight + 16, observer));
  REWIND_RETURN_IF_ERROR(Completed(CompleteRuns(*engine, 200, settings.starters)).WithContext("warm-up"));
  // Two waves of runs: the first also fills the bounded caches (the
  // projections keep the states of the cached_runs most recent runs), the
  // second shows what one more run in flight costs.
  auto hold = [&](unsigned runs) -> Result<double> {
    const std::uint64_t before = HeapBytes();
    const std::uint64_t target = sleeping + runs;
    for (unsigned i = 0; i < runs; ++i) {
      StartRequest start;
      start.workflow = kSleeperName;
      start.actor = BenchPrincipal();
      REWIND_ASSIGN_OR_RETURN(RunId run, engine->Start(start));
      (void)run;
    }
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(300), [&] { return sleeping >= target; })) {
      return Err(Code::kInternal, "the runs did not all reach their sleep");
    }
    return (static_cast<double>(HeapBytes()) - static_cast<double>(before)) / runs;
  };
  const unsigned first = settings.in_flight / 2;
  REWIND_ASSIGN_OR_RETURN(const double first_wave, hold(first));
  REWIND_ASSIGN_OR_RETURN(const double second_wave, hold(settings.in_flight - first));
  out.in_flight = settings.in_flight;
  out.heap_per_run = second_wave;
  out.heap_per_run_average = (first_wave * first + second_wave * (settings.in_flight - first)) / settings.in_flight;
  return ProjectionsHealthy(*engine);
}

Status Sustain(const Settings& settings, MemoryFigures& out) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(settings.dir, "sustain"));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, OpenEngine(scratch->path(), settings, true));
  std::atomic<bool> stop{false};
  Result<std::uint64_t> completed = 0;
  std::thread load([&] { completed = CompleteRuns(*engine, UINT64_MAX, settings.starters, &stop); });
  const Clock::time_point t0 = Clock::now();
  const double warmup = settings.sustain_seconds * 0.2;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double elapsed = Seconds(Clock::now() - t0);
    if (elapsed >= warmup) {
      const std::uint64_t anon = AnonResidentBytes();
      if (out.anon_first == 0) out.anon_first = anon;
      out.anon_last = anon;
      out.anon_max = std::max(out.anon_max, anon);
    }
    if (elapsed >= settings.sustain_seconds) break;
  }
  stop = true;
  load.join();
  out.seconds = Seconds(Clock::now() - t0);
  if (!completed.has_value()) return completed.error();
  out.runs_completed = *completed;
  return ProjectionsHealthy(*engine);
}

double MiB(std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

int Run(const Settings& settings) {
  JsonRows json("footprint", settings.json);
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "footprint_bench: %s\n", s.ToString().c_str());
    return 1;
  };
  for (const std::string& mode : settings.modes) {
    if (mode == "storage") {
      std::printf("# footprint_bench storage: %u + %u completed runs of the %d-step no-op workflow, %s; "
                  "bytes per run over the second batch\n",
                  settings.runs, settings.runs, kSteps, DurabilityName(settings.durability));
      std::printf("%-18s %12s %12s %11s\n", "journal", "live B/run", "compact B/run", "events/run");
      for (bool projections : {false, true}) {
        Result<StorageRow> row = MeasureStorage(settings, projections);
        if (!row.has_value()) return fail(row.error().WithContext("storage"));
        std::printf("%-18s %12.1f %12.1f %11.2f\n", row->what.c_str(), row->live_per_run, row->compact_per_run,
                    row->events_per_run);
        std::fflush(stdout);
        json.Add({{"mode", "storage"},
                  {"projections", projections},
                  {"runs", settings.runs},
                  {"live_bytes_per_run", row->live_per_run},
                  {"compact_bytes_per_run", row->compact_per_run},
                  {"events_per_run", row->events_per_run}});
      }
    } else if (mode == "wide") {
      Result<WideRow> row = MeasureWide(settings);
      if (!row.has_value()) return fail(row.error().WithContext("wide"));
      std::printf("# footprint_bench wide: compact bytes per event of a %u-step run and of %u %d-step runs, "
                  "with projections, %s\n",
                  settings.wide_steps, settings.runs, kSteps, DurabilityName(settings.durability));
      std::printf("%14s %14s %8s %12s %12s\n", "5-step B/ev", "wide B/ev", "ratio", "wide events", "wide s");
      std::printf("%14.1f %14.1f %8.2f %12.0f %12.2f\n", row->small_bytes_per_event, row->wide_bytes_per_event,
                  row->wide_bytes_per_event / row->small_bytes_per_event, row->wide_events, row->wide_seconds);
      std::fflush(stdout);
      json.Add({{"mode", "wide"},
                {"wide_steps", settings.wide_steps},
                {"small_bytes_per_event", row->small_bytes_per_event},
                {"wide_bytes_per_event", row->wide_bytes_per_event},
                {"ratio", row->wide_bytes_per_event / row->small_bytes_per_event},
                {"wide_events", row->wide_events},
                {"wide_seconds", row->wide_seconds}});
    } else {
      MemoryFigures m;
      // The sustained load first: memory the allocator keeps after the runs
      // held in flight are freed would hide growth and inflate its baseline.
      if (Status s = Sustain(settings, m); !s.ok()) return fail(s.WithContext("memory: sustained"));
      if (Status s = HoldInFlight(settings, m); !s.ok()) return fail(s.WithContext("memory: in flight"));
      std::printf("# footprint_bench memory: %u runs held in flight (asleep for an hour), then %.0f s of "
                  "continuous no-op runs from %u threads, %s\n",
                  m.in_flight, settings.sustain_seconds, settings.starters, DurabilityName(settings.durability));
      std::printf("%12s %12s %10s %12s %14s %14s %14s\n", "heap B/run", "average B/run", "runs", "runs/s",
                  "anon first MiB", "anon last MiB", "anon max MiB");
      std::printf("%12.1f %12.1f %10llu %12.1f %14.1f %14.1f %14.1f\n", m.heap_per_run, m.heap_per_run_average,
                  static_cast<unsigned long long>(m.runs_completed), PerSecond(m.runs_completed, m.seconds),
                  MiB(m.anon_first), MiB(m.anon_last), MiB(m.anon_max));
      json.Add({{"mode", "memory"},
                {"in_flight", m.in_flight},
                {"heap_bytes_per_run", m.heap_per_run},
                {"heap_bytes_per_run_average", m.heap_per_run_average},
                {"sustain_seconds", m.seconds},
                {"sustain_seconds_planned", settings.sustain_seconds},
                {"runs_completed", m.runs_completed},
                {"anon_first_bytes", m.anon_first},
                {"anon_last_bytes", m.anon_last},
                {"anon_max_bytes", m.anon_max},
                {"anon_growth_bytes", static_cast<double>(m.anon_last) - static_cast<double>(m.anon_first)}});
    }
  }
  if (Status s = json.Write(); !s.ok()) return fail(s);
  return 0;
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // the tables only
  rwd::Settings settings;
  CLI::App app{"Bytes on disk per completed run, heap per run in flight, resident memory under load"};
  app.add_option("--modes", settings.modes, "Comma-separated modes, in order: storage, wide, memory")
      ->delimiter(',')
      ->check(CLI::IsMember({"storage", "wide", "memory"}))
      ->capture_default_str();
  app.add_option("--runs", settings.runs, "Storage: runs per batch")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  app.add_option("--wide-steps", settings.wide_steps, "Wide: steps of the wide run")
      ->check(CLI::Range(1u, static_cast<unsigned>(rwd::kMaxSteps)))
      ->capture_default_str();
  app.add_option("--in-flight", settings.in_flight, "Memory: runs held in flight")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--sustain-seconds", settings.sustain_seconds, "Memory: seconds of sustained load")
      ->check(CLI::Range(2.0, 86'400.0))
      ->capture_default_str();
  app.add_option("--starters", settings.starters, "Threads calling Start then Await")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  rwd::bench::AddDurabilityFlag(app, settings.durability, "nosync (default) or durable");
  rwd::bench::AddOutputFlags(app, settings.dir, settings.json);
  CLI11_PARSE(app, argc, argv);
  return rwd::Run(settings);
}
