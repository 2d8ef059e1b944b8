// projections_bench: what the projections cost to build and what StateAt
// costs to read, next to folding the journal with nothing written.
//
// rebuild   Writes a journal of at least --events events with no projections
//           attached (nosync): runs of two 5-step linear code workflows,
//           --in-flight of them at a time, each appended commit by commit as
//           the engine would (RunStarted with the first StepStarted, each
//           StepCompleted with the next StepStarted or RunCompleted). One
//           commit of every run in flight is queued with AppendAsync at once,
//           so the writer groups them into large transactions. Most runs
//           complete cleanly (12 events); some retry a failed attempt, some
//           fail, are resumed by an operator and complete, a few are
//           cancelled. Every event is folded with Evolve before it is written,
//           so every event of the journal folds. The journal is then reopened
//           (durable; --durability nosync to see what the syncs cost) and
//           Projections opened on it (default options, no
//           background thread); CatchUp is timed (the first build of all four
//           projections from scratch), then Rebuild of all four while they
//           exist (into their other slots, then swapped in).
//           Floor: one read snapshot over the whole journal that decodes every
//           event and folds it into its run's state (all states kept in a hash
//           map, nothing written): the work any build does before it writes.
//           "x floor" is a phase's seconds over the floor's, "cpu x fl" the
//           same for the process's CPU seconds (all threads: the journal's
//           writer thread does the projections' work); CPU well below wall
//           time means waiting for the disk or for a busy machine. The data
//           file's size after the write, the catch-up and the rebuild shows
//           what the projections add to it, per event.
//
// state-at  Writes one run of --run-events events: a code step with an
//           unbounded retry budget that fails again and again (StepStarted,
//           StepFailed retryable, RetryScheduled, ...), so its state keeps the
//           same size however long the run grows. Written without projections
//           (nosync, 4096 events per Append), then reopened as above and built
//           by CatchUp (timed). StateAt(run, seq) latency, warm, at --samples
//           random seqs in each of three regions: start (1..1000), middle
//           (M/2 ± 1000) and end (M-1000..M); with snapshots every K events it
//           folds at most K-1 events wherever the seq lies. Comparison: a full
//           fold from seq 1 (ReadRun, Decode, Evolve) at --fold-samples random
//           seqs per region, which is what StateAt would cost without them.
//           One state per region is checked equal to the full fold.
//
// Output: two tables for people on stdout; with --json FILE also one JSON
// object per figure line in FILE, for scripts. Timings are printed, never
// judged: these machines are shared.
#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/flags.h"
#include "bench/histories.h"
#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/projections/projections.h"
#include "rewind/schemas/events.h"

namespace rwd {
namespace {

namespace fs = std::filesystem;
using namespace bench;  // NOLINT: the bench helpers

struct Settings {
  std::uint64_t events = 1'000'000;              // rebuild: at least this many events
  std::uint64_t run_events = 1'000'000;          // state-at: events of the one run
  unsigned samples = 2000;                       // state-at: StateAt calls per region
  unsigned fold_samples = 5;                     // state-at: full folds per region
  unsigned in_flight = 1000;                     // rebuild: runs interleaved while writing
  Durability durability = Durability::kDurable;  // of the journal once written
  std::uint64_t seed = 1;
  std::string dir = "bench-tmp";
  std::string json;  // empty: no JSON
  bool smoke = false;
};

// The three StateAt regions reach this far from their centre.
constexpr std::uint64_t kRegionSpan = 1000;

// Opens Projections the way a writer process does, minus the background
// thread: CatchUp and Rebuild then run on this thread and can be timed.
Result<std::unique_ptr<Projections>> OpenProjections(Journal& journal) {
  ProjectionsOptions options;
  options.background = false;
  return Projections::Open(journal, options);
}

// Every projection current at the journal's last position, or why not.
Status RequireCurrent(const Projections& projections) {
  for (const ProjectionStatus& p : projections.Health()) {
    if (p.health != ProjectionHealth::kCurrent || p.checkpoint != p.journal_position) {
      return Status(Code::kInternal, "projection " + p.name + " is " + std::string(ProjectionHealthName(p.health)) +
                                         " at " + std::to_string(p.checkpoint) + " of " +
                                         std::to_string(p.journal_position) + " " + p.error);
    }
  }
  return Status::Ok();
}

struct RebuildReport {
  MixFigures mix;
  Phase write, floor, catch_up, rebuild;  // write: generating (fold + encode) and appending
  std::uint64_t bytes_written = 0, bytes_catch_up = 0, bytes_rebuild = 0;
};

Result<RebuildReport> MeasureRebuild(const fs::path& dir, const Settings& settings) {
  RebuildReport report;
  {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                            Journal::Open(JournalOptionsFor(dir, Durability::kNoSync)));
    const MixOptions mix_options{settings.events, settings.in_flight, settings.seed};
    REWIND_ASSIGN_OR_RETURN(report.write, Timed("write", 0, [&]() -> Status {
                              REWIND_ASSIGN_OR_RETURN(report.mix, WriteMixedJournal(*journal, mix_options));
                              return Status::Ok();
                            }));
    report.write.events = report.mix.events;
  }
  REWIND_ASSIGN_OR_RETURN(report.bytes_written, DataFileBytes(dir));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal, Journal::Open(JournalOptionsFor(dir, settings.durability)));
  const std::uint64_t n = report.mix.events;

  // The floor is timed warm, as the builds after it find the journal.
  if (Result<std::uint64_t> warm = FoldEverything(*journal); !warm.has_value()) return Err(warm.error());
  REWIND_ASSIGN_OR_RETURN(report.floor, Timed("floor scan", n, [&]() -> Status {
                            REWIND_ASSIGN_OR_RETURN(std::uint64_t folded, FoldEverything(*journal));
                            if (folded == n) return Status::Ok();
                            return Status(Code::kInternal, "the floor folded " + std::to_string(folded) + " events");
                          }));

  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Projections> projections, OpenProjections(*journal));
  REWIND_ASSIGN_OR_RETURN(report.catch_up, Timed("catch-up", n, [&] { return projections->CatchUp(); }));
  REWIND_RETURN_IF_ERROR(RequireCurrent(*projections).WithContext("after CatchUp"));
  REWIND_ASSIGN_OR_RETURN(report.bytes_catch_up, DataFileBytes(dir));

  REWIND_ASSIGN_OR_RETURN(report.rebuild, Timed("rebuild", n, [&] { return projections->Rebuild({}); }));
  REWIND_RETURN_IF_ERROR(RequireCurrent(*projections).WithContext("after Rebuild"));
  REWIND_ASSIGN_OR_RETURN(report.bytes_rebuild, DataFileBytes(dir));
  return report;
}

// ---------------------------------------------------------------------------
// The long run and StateAt

struct Region {
  std::string name;
  std::uint64_t lo = 0, hi = 0;  // seqs drawn uniformly from [lo, hi]
};

std::vector<Region> RegionsOf(std::uint64_t m) {
  const std::uint64_t mid = m / 2;
  return {Region{"start", 1, std::min(m, kRegionSpan)},
          Region{"middle", mid > kRegionSpan ? mid - kRegionSpan : 1, std::min(m, mid + kRegionSpan)},
          Region{"end", m > kRegionSpan ? m - kRegionSpan : 1, m}};
}

struct LatencyRow {
  std::string method;  // "StateAt" or "full fold"
  Region region;
  std::size_t samples = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

LatencyRow Summarize(std::string method, const Region& region, std::vector<double>& us) {
  LatencyRow row{std::move(method), region, us.size()};
  row.p50_us = Percentile(us, 0.50);
  row.p99_us = Percentile(us, 0.99);
  row.max_us = us.empty() ? 0 : *std::max_element(us.begin(), us.end());
  return row;
}

struct StateAtReport {
  std::uint64_t events = 0;
  Phase catch_up;
  std::vector<LatencyRow> rows;
};

std::vector<std::uint64_t> DrawSeqs(const Region& region, std::size_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::uint64_t> seq(region.lo, region.hi);
  std::vector<std::uint64_t> seqs(n);
  for (std::uint64_t& s : seqs) s = seq(rng);
  return seqs;
}

Status StateAtOnce(const Projections& projections, const RunId& run, std::uint64_t seq) {
  REWIND_ASSIGN_OR_RETURN(RunState state, projections.StateAt(run, seq));
  if (state.seq != seq) {
    return Status(Code::kInternal, "StateAt(" + std::to_string(seq) + ") gave seq " + std::to_string(state.seq));
  }
  return Status::Ok();
}

Result<StateAtReport> MeasureStateAt(const fs::path& dir, const Settings& settings) {
  StateAtReport report;
  report.events = settings.run_events;
  const RunId run = RunId::New();
  {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                            Journal::Open(JournalOptionsFor(dir, Durability::kNoSync)));
    REWIND_RETURN_IF_ERROR(WriteLongRun(*journal, run, settings.run_events));
  }
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal, Journal::Open(JournalOptionsFor(dir, settings.durability)));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Projections> projections, OpenProjections(*journal));
  REWIND_ASSIGN_OR_RETURN(report.catch_up,
                          Timed("catch-up", settings.run_events, [&] { return projections->CatchUp(); }));
  REWIND_RETURN_IF_ERROR(RequireCurrent(*projections).WithContext("after CatchUp"));

  std::mt19937_64 rng(settings.seed);
  const std::vector<Region> regions = RegionsOf(settings.run_events);
  // Warm-up: the pages StateAt touches in each region, and the allocator.
  for (const Region& region : regions) {
    for (std::uint64_t seq : DrawSeqs(region, std::min<std::size_t>(settings.samples, 200), rng)) {
      REWIND_RETURN_IF_ERROR(StateAtOnce(*projections, run, seq));
    }
  }
  for (const Region& region : regions) {
    std::vector<double> us;
    us.reserve(settings.samples);
    for (std::uint64_t seq : DrawSeqs(region, settings.samples, rng)) {
      const Clock::time_point t0 = Clock::now();
      REWIND_RETURN_IF_ERROR(StateAtOnce(*projections, run, seq).WithContext(region.name));
      us.push_back(Micros(Clock::now() - t0));
    }
    report.rows.push_back(Summarize("StateAt", region, us));
  }
  for (const Region& region : regions) {
    std::vector<double> us;
    const std::vector<std::uint64_t> seqs = DrawSeqs(region, settings.fold_samples, rng);
    for (std::uint64_t seq : seqs) {
      const Clock::time_point t0 = Clock::now();
      REWIND_ASSIGN_OR_RETURN(RunState folded, FoldFromStart(*journal, run, seq));
      us.push_back(Micros(Clock::now() - t0));
      if (folded.seq != seq) return Err(Code::kInternal, "full fold to " + std::to_string(seq) + " stopped early");
    }
    report.rows.push_back(Summarize("full fold", region, us));
    // StateAt must equal the full fold; checked once per region.
    if (!seqs.empty()) {
      REWIND_ASSIGN_OR_RETURN(RunState from_snapshot, projections->StateAt(run, seqs.front()));
      REWIND_ASSIGN_OR_RETURN(RunState folded, FoldFromStart(*journal, run, seqs.front()));
      if (!(from_snapshot == folded)) {
        return Err(Code::kInternal, "StateAt(" + std::to_string(seqs.front()) + ") differs from the full fold");
      }
    }
  }
  return report;
}

// ---------------------------------------------------------------------------
// The report

std::string Percent(std::uint64_t part, std::uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%",
                whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

double PerEvent(std::uint64_t bytes, std::uint64_t events) {
  return events == 0 ? 0 : static_cast<double>(bytes) / static_cast<double>(events);
}

// A phase's wall (or CPU) seconds over the floor's.
double Ratio(double seconds, double floor_seconds) { return floor_seconds > 0 ? seconds / floor_seconds : 0; }

void PrintRebuild(const Settings& settings, const RebuildReport& r) {
  const MixFigures& w = r.mix;
  const ProjectionsOptions defaults;
  std::printf(
      "# projections_bench rebuild: %llu events in %llu runs (%s clean, %s retried, %s resumed, %s cancelled), "
      "%u runs in flight while writing (nosync, seed %llu), then %s; ProjectionsOptions defaults "
      "(snapshot_every %u, batch_events %zu, cached_runs %zu); scratch under '%s'\n",
      static_cast<unsigned long long>(w.events), static_cast<unsigned long long>(w.runs),
      Percent(w.clean, w.runs).c_str(), Percent(w.retried, w.runs).c_str(),
      Percent(w.resumed, w.runs).c_str(), Percent(w.cancelled, w.runs).c_str(), settings.in_flight,
      static_cast<unsigned long long>(settings.seed), DurabilityName(settings.durability), defaults.snapshot_every,
      defaults.batch_events, defaults.cached_runs, settings.dir.c_str());
  std::printf("%-12s %10s %10s %10s %12s %8s %8s\n", "phase", "events", "seconds", "cpu s", "events/s", "x floor",
              "cpu x fl");
  std::printf("%-12s %10llu %10.3f %10.3f %12.1f %8s %8s\n", r.write.name.c_str(),
              static_cast<unsigned long long>(r.write.events), r.write.seconds, r.write.cpu_seconds,
              r.write.events_per_s(), "-", "-");
  for (const Phase* p : {&r.floor, &r.catch_up, &r.rebuild}) {
    std::printf("%-12s %10llu %10.3f %10.3f %12.1f %8.2f %8.2f\n", p->name.c_str(),
                static_cast<unsigned long long>(p->events), p->seconds, p->cpu_seconds, p->events_per_s(),
                Ratio(p->seconds, r.floor.seconds), Ratio(p->cpu_seconds, r.floor.cpu_seconds));
  }
  std::printf(
      "# data.mdb: %llu bytes after the write (%.1f B/event), %llu after catch-up (%.1f B/event), "
      "%llu after rebuild (%.1f B/event)\n",
      static_cast<unsigned long long>(r.bytes_written), PerEvent(r.bytes_written, w.events),
      static_cast<unsigned long long>(r.bytes_catch_up), PerEvent(r.bytes_catch_up, w.events),
      static_cast<unsigned long long>(r.bytes_rebuild), PerEvent(r.bytes_rebuild, w.events));
  std::fflush(stdout);  // the second part takes a while: show this one now
}

void PrintStateAt(const Settings& settings, const StateAtReport& r) {
  std::printf(
      "# projections_bench state-at: one run of %llu events (a step failing and retried), written without "
      "projections (nosync), then built by CatchUp on the %s journal in %.3f s (%.3f cpu s, %.1f events/s); "
      "StateAt warm, %u samples per region; full fold from seq 1, %u per region\n",
      static_cast<unsigned long long>(r.events), DurabilityName(settings.durability), r.catch_up.seconds,
      r.catch_up.cpu_seconds, r.catch_up.events_per_s(), settings.samples, settings.fold_samples);
  std::printf("%-10s %-7s %17s %8s %12s %12s %12s\n", "method", "region", "seqs", "samples", "p50 us", "p99 us",
              "max us");
  for (const LatencyRow& row : r.rows) {
    const std::string seqs = std::to_string(row.region.lo) + ".." + std::to_string(row.region.hi);
    std::printf("%-10s %-7s %17s %8zu %12.1f %12.1f %12.1f\n", row.method.c_str(), row.region.name.c_str(),
                seqs.c_str(), row.samples, row.p50_us, row.p99_us, row.max_us);
  }
  std::fflush(stdout);
}

nlohmann::json JsonOf(const char* section, const char* phase, const Phase& p, const Phase* floor) {
  nlohmann::json row = {{"section", section},          {"phase", phase},
                        {"events", p.events},          {"seconds", p.seconds},
                        {"cpu_seconds", p.cpu_seconds}, {"events_per_s", p.events_per_s()}};
  if (floor != nullptr) {
    row["floor_events_per_s"] = floor->events_per_s();
    row["x_floor"] = Ratio(p.seconds, floor->seconds);
    row["cpu_x_floor"] = Ratio(p.cpu_seconds, floor->cpu_seconds);
  }
  return row;
}

Status WriteJson(const std::string& path, const RebuildReport& rebuild, const StateAtReport& state_at) {
  JsonRows rows("projections", path);
  rows.Add(JsonOf("rebuild", "write", rebuild.write, nullptr));
  rows.Add(JsonOf("rebuild", "floor", rebuild.floor, &rebuild.floor));
  rows.Add(JsonOf("rebuild", "catch_up", rebuild.catch_up, &rebuild.floor));
  rows.Add(JsonOf("rebuild", "rebuild", rebuild.rebuild, &rebuild.floor));
  rows.Add({{"section", "rebuild"},
            {"phase", "data_file"},
            {"events", rebuild.mix.events},
            {"bytes_written", rebuild.bytes_written},
            {"bytes_catch_up", rebuild.bytes_catch_up},
            {"bytes_rebuild", rebuild.bytes_rebuild}});
  rows.Add(JsonOf("state_at", "catch_up", state_at.catch_up, nullptr));
  for (const LatencyRow& row : state_at.rows) {
    rows.Add({{"section", "state_at"},
              {"method", row.method == "StateAt" ? "state_at" : "full_fold"},
              {"region", row.region.name},
              {"lo", row.region.lo},
              {"hi", row.region.hi},
              {"samples", row.samples},
              {"p50_us", row.p50_us},
              {"p99_us", row.p99_us},
              {"max_us", row.max_us}});
  }
  return rows.Write();
}

Status RunBench(const Settings& settings) {
  RebuildReport rebuild;
  {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(settings.dir, "rebuild"));
    Result<RebuildReport> measured = MeasureRebuild(scratch->path(), settings);
    if (!measured.has_value()) return measured.error().WithContext("rebuild");
    rebuild = std::move(*measured);
  }
  PrintRebuild(settings, rebuild);
  StateAtReport state_at;
  {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(settings.dir, "state-at"));
    Result<StateAtReport> measured = MeasureStateAt(scratch->path(), settings);
    if (!measured.has_value()) return measured.error().WithContext("state-at");
    state_at = std::move(*measured);
  }
  PrintStateAt(settings, state_at);
  return WriteJson(settings.json, rebuild, state_at);
}

struct Flags {
  CLI::Option* events = nullptr;
  CLI::Option* run_events = nullptr;
  CLI::Option* samples = nullptr;
  CLI::Option* fold_samples = nullptr;
};

Flags AddFlags(CLI::App& app, Settings& settings) {
  Flags flags;
  flags.events = app.add_option("--events", settings.events, "Rebuild: events in the journal (at least)")
                     ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}))
                     ->capture_default_str();
  flags.run_events = app.add_option("--run-events", settings.run_events, "State-at: events of the one long run")
                         ->check(CLI::Range(std::uint64_t{2}, std::uint64_t{1'000'000'000}))
                         ->capture_default_str();
  flags.samples = app.add_option("--samples", settings.samples, "State-at: StateAt calls measured per region")
                      ->check(CLI::Range(1u, 10'000'000u))
                      ->capture_default_str();
  flags.fold_samples = app.add_option("--fold-samples", settings.fold_samples,
                                      "State-at: full folds from seq 1 measured per region (slow)")
                           ->check(CLI::Range(0u, 1000u))
                           ->capture_default_str();
  app.add_option("--in-flight", settings.in_flight, "Rebuild: runs interleaved while the journal is written")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  AddDurabilityFlag(app, settings.durability,
                    "Of the journal once written, while projections are built and read: durable (default) or nosync");
  app.add_option("--seed", settings.seed, "Seed of the run mix and the sampled seqs")->capture_default_str();
  rwd::bench::AddOutputFlags(app, settings.dir, settings.json);
  app.add_flag("--smoke", settings.smoke,
               "A quick run: --events 20000 --run-events 20000 --samples 200 --fold-samples 3 "
               "unless given explicitly");
  return flags;
}

void ApplySmoke(const Flags& flags, Settings& settings) {
  if (!settings.smoke) return;
  if (flags.events->count() == 0) settings.events = 20'000;
  if (flags.run_events->count() == 0) settings.run_events = 20'000;
  if (flags.samples->count() == 0) settings.samples = 200;
  if (flags.fold_samples->count() == 0) settings.fold_samples = 3;
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // the tables only
  rwd::Settings settings;
  CLI::App app{"Projection rebuild rate and StateAt latency, next to plain folds of the journal"};
  const rwd::Flags flags = rwd::AddFlags(app, settings);
  CLI11_PARSE(app, argc, argv);
  rwd::ApplySmoke(flags, settings);
  if (rwd::Status s = rwd::RunBench(settings); !s.ok()) {
    std::fprintf(stderr, "projections_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
