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
#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/executor/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/projections/projections.h"
#include "rewind/schemas/events.h"

namespace rwd {
namespace {

namespace fs = std::filesystem;
using bench::Percentile;
using bench::ScratchDir;
using Clock = std::chrono::steady_clock;

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

// Address space only (LMDB reserves it); large enough never to grow mid-run.
constexpr std::uint64_t kMapBytes = std::uint64_t{64} << 30;
// Recorded times start here (2024-01-01); they are data, never a clock.
constexpr std::int64_t kStartUs = 1'704'067'200'000'000;
constexpr std::uint32_t kSteps = 5;
// Events per Append while writing the long run.
constexpr std::size_t kAppendBatch = 4096;
// The three StateAt regions reach this far from their centre.
constexpr std::uint64_t kRegionSpan = 1000;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
double PerSecond(std::uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; }
const char* DurabilityName(Durability d) { return d == Durability::kDurable ? "durable" : "nosync"; }

JournalOptions JournalOptionsFor(const fs::path& dir, Durability durability) {
  JournalOptions options;
  options.directory = dir.string();
  options.durability = durability;
  options.max_map_bytes = kMapBytes;
  return options;
}

Result<std::uint64_t> DataFileBytes(const fs::path& dir) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(dir / "data.mdb", ec);
  if (ec) return Err(Code::kUnavailable, "size of '" + (dir / "data.mdb").string() + "': " + ec.message());
  return static_cast<std::uint64_t>(size);
}

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

// CPU seconds (user + system) of all threads of this process so far.
double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A timed piece of work over `events` events. The CPU time is the whole
// process's (the journal's writer thread does the projections' work): well
// below the wall time when the machine is busy with others or when it waits
// for the disk.
struct Phase {
  std::string name;
  std::uint64_t events = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  double events_per_s() const { return PerSecond(events, seconds); }
};

// Times `work`; its error, or the phase it was.
Result<Phase> Timed(std::string name, std::uint64_t events, const std::function<Status()>& work) {
  const double cpu0 = ProcessCpuSeconds();
  const Clock::time_point t0 = Clock::now();
  REWIND_RETURN_IF_ERROR(work());
  const double seconds = Seconds(Clock::now() - t0);
  return Phase{std::move(name), events, seconds, ProcessCpuSeconds() - cpu0};
}

// ---------------------------------------------------------------------------
// Making valid events

// One run's events, each folded with Evolve (so a transition the fold refuses
// is caught here, not in the measurement) and then encoded. Recorded times
// advance as the caller says.
class RunMaker {
 public:
  RunMaker(const RunId& run, std::int64_t start_us) : clock_us_(start_us) { state_.run = run; }

  Result<Bytes> Make(EventBody body, std::int64_t advance_us, std::optional<Actor> actor = std::nullopt) {
    clock_us_ += advance_us;
    const Event event{clock_us_, std::move(actor), kSchemaVersion, std::move(body)};
    REWIND_RETURN_IF_ERROR(Evolve(state_, event).WithContext("the bench made an invalid event"));
    return Encode(event);
  }
  const StepState& step(std::uint32_t i) const { return state_.steps[i]; }
  std::int64_t now_us() const { return clock_us_; }

 private:
  RunState state_;
  std::int64_t clock_us_;
};

Actor Operator(std::uint64_t tenant) {
  return Actor{ActorKind::kUser, "operator@example.com", "tenant-" + std::to_string(tenant)};
}

// ---------------------------------------------------------------------------
// The rebuild journal: many runs of a realistic mix, interleaved

enum class Fate { kClean, kRetried, kResumed, kCancelled };

struct MixCounts {
  std::uint64_t clean = 0, retried = 0, resumed = 0, cancelled = 0;
};

RunStarted CheckoutDefinition(std::uint64_t index) {
  static const char* const kIds[kSteps] = {"validate", "reserve", "charge", "ship", "notify"};
  RunStarted def;
  def.workflow = index % 2 == 0 ? "checkout" : "refund";
  def.version = 3;
  def.tenant = "tenant-" + std::to_string(index % 16);
  def.input = ToBytes("{\"order\":" + std::to_string(100000 + index) + ",\"items\":3,\"currency\":\"EUR\"}");
  def.idempotency_key = "order-" + std::to_string(100000 + index);
  for (std::uint32_t i = 0; i < kSteps; ++i) {
    StepDef step;
    step.id = kIds[i];
    step.handler = kIds[i];
    if (i > 0) step.depends_on = {i - 1};
    step.retry.max_attempts = 3;
    step.retry.initial_backoff_ms = 100;
    step.retry.max_backoff_ms = 10'000;
    step.timeout_ms = 30'000;
    def.steps.push_back(std::move(step));
  }
  return def;
}

// One run of the rebuild journal, as the commits the engine would make.
struct PlannedRun {
  RunId run = RunId::New();
  std::vector<std::vector<Bytes>> commits;
  std::size_t next = 0;   // the next commit to append
  std::uint64_t seq = 0;  // the run's last appended seq
  std::uint64_t events = 0;
};

// Plans run number `index`: its fate drawn from `rng` (85% clean, 9% one
// retried attempt, 4% failed and resumed by an operator, 2% cancelled), at a
// step drawn likewise.
Result<PlannedRun> PlanRun(std::uint64_t index, std::mt19937_64& rng, MixCounts& mix) {
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<std::uint32_t> any_step(0, kSteps - 1);
  std::uniform_int_distribution<std::int64_t> step_us(1'000, 200'000);
  const int roll = percent(rng);
  const Fate fate = roll < 85   ? Fate::kClean
                    : roll < 94 ? Fate::kRetried
                    : roll < 98 ? Fate::kResumed
                                : Fate::kCancelled;
  const std::uint32_t fate_step = any_step(rng);
  switch (fate) {
    case Fate::kClean:
      ++mix.clean;
      break;
    case Fate::kRetried:
      ++mix.retried;
      break;
    case Fate::kResumed:
      ++mix.resumed;
      break;
    case Fate::kCancelled:
      ++mix.cancelled;
      break;
  }

  PlannedRun plan;
  RunMaker maker(plan.run, kStartUs + static_cast<std::int64_t>(index) * 1'000);
  std::vector<Bytes> commit;
  auto add = [&](EventBody body, std::int64_t advance_us, std::optional<Actor> actor = std::nullopt) -> Status {
    REWIND_ASSIGN_OR_RETURN(Bytes event, maker.Make(std::move(body), advance_us, std::move(actor)));
    commit.push_back(std::move(event));
    return Status::Ok();
  };
  auto flush = [&] {
    plan.events += commit.size();
    plan.commits.push_back(std::move(commit));
    commit.clear();
  };
  auto start = [&](std::uint32_t i) {
    const StepState& s = maker.step(i);
    return add(StepStarted{i, s.attempts + 1, s.epoch}, 500);
  };

  REWIND_RETURN_IF_ERROR(add(CheckoutDefinition(index), 0));
  for (std::uint32_t i = 0; i < kSteps; ++i) {
    REWIND_RETURN_IF_ERROR(start(i));
    flush();
    if (i == fate_step && fate == Fate::kRetried) {
      const StepState& s = maker.step(i);
      const std::uint32_t attempt = s.attempts, epoch = s.epoch;
      REWIND_RETURN_IF_ERROR(
          add(StepFailed{i, attempt, "unavailable", "upstream timed out after 30s", true, epoch}, step_us(rng)));
      REWIND_RETURN_IF_ERROR(add(RetryScheduled{i, attempt + 1, maker.now_us() + 100'000}, 200));
      flush();
      REWIND_RETURN_IF_ERROR(start(i));
      flush();
    } else if (i == fate_step && fate == Fate::kResumed) {
      const StepState& s = maker.step(i);
      const std::uint32_t attempt = s.attempts, epoch = s.epoch;
      REWIND_RETURN_IF_ERROR(
          add(StepFailed{i, attempt, "invalid_input", "card declined: expired", false, epoch}, step_us(rng)));
      REWIND_RETURN_IF_ERROR(add(RunFailed{i, "invalid_input", "card declined: expired"}, 200));
      flush();
      REWIND_RETURN_IF_ERROR(add(ResumeRequested{i, "customer updated the card", "resume-" + std::to_string(index), {}},
                                 600'000'000, Operator(index % 16)));
      flush();
      REWIND_RETURN_IF_ERROR(start(i));
      flush();
    } else if (i == fate_step && fate == Fate::kCancelled) {
      REWIND_RETURN_IF_ERROR(add(CancelRequested{"customer cancelled the order"}, step_us(rng), Operator(index % 16)));
      REWIND_RETURN_IF_ERROR(add(RunCancelled{"customer cancelled the order"}, 200));
      flush();
      return plan;
    }
    const StepState& s = maker.step(i);
    REWIND_RETURN_IF_ERROR(
        add(StepCompleted{i, s.attempts, ToBytes("{\"ok\":true,\"ref\":\"" + std::to_string(index * 8 + i) + "\"}"),
                          s.epoch},
            step_us(rng)));
  }
  REWIND_RETURN_IF_ERROR(add(RunCompleted{ToBytes("{\"status\":\"shipped\"}")}, 300));
  flush();
  return plan;
}

struct WriteFigures {
  std::uint64_t events = 0;
  std::uint64_t runs = 0;
  MixCounts mix;
};

// Writes runs until at least settings.events events are planned, keeping
// settings.in_flight runs interleaved: each round queues the next commit of
// every run in flight, then waits for all of them.
Result<WriteFigures> WriteMixedJournal(Journal& journal, const Settings& settings) {
  std::mt19937_64 rng(settings.seed);
  std::vector<PlannedRun> active;
  WriteFigures out;
  std::uint64_t planned = 0;
  for (;;) {
    while (active.size() < settings.in_flight && planned < settings.events) {
      REWIND_ASSIGN_OR_RETURN(PlannedRun run, PlanRun(out.runs, rng, out.mix));
      planned += run.events;
      ++out.runs;
      active.push_back(std::move(run));
    }
    if (active.empty()) break;
    std::vector<Status> errors(active.size());
    std::vector<std::uint64_t> heads(active.size());
    std::latch done(static_cast<std::ptrdiff_t>(active.size()));
    for (std::size_t i = 0; i < active.size(); ++i) {
      PlannedRun& r = active[i];
      journal.AppendAsync(r.run, r.seq, std::move(r.commits[r.next]), [&, i](Result<AppendResult> result) {
        if (result.has_value()) {
          heads[i] = result->head.seq;
        } else {
          errors[i] = result.error();
        }
        done.count_down();
      });
    }
    done.wait();
    for (std::size_t i = 0; i < active.size(); ++i) {
      if (!errors[i].ok()) return Err(errors[i].WithContext("append"));
      out.events += heads[i] - active[i].seq;
      active[i].seq = heads[i];
      ++active[i].next;
    }
    std::erase_if(active, [](const PlannedRun& r) { return r.next == r.commits.size(); });
  }
  // Durable now, so that the first durable commit after the reopen does not
  // pay for flushing the whole write.
  REWIND_RETURN_IF_ERROR(journal.Sync());
  return out;
}

// The floor: every event decoded and folded into its run's state in one read
// snapshot, nothing written. Returns the events folded.
Result<std::uint64_t> FoldEverything(const Journal& journal) {
  REWIND_ASSIGN_OR_RETURN(std::uint64_t last, journal.LastPosition());
  std::unordered_map<RunId, RunState> states;
  std::uint64_t folded = 0;
  REWIND_RETURN_IF_ERROR(journal.ReadAll(1, last, [&](const EventRecord& record) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event event, Decode(record.payload));
    RunState& state = states[record.run];
    state.run = record.run;
    REWIND_RETURN_IF_ERROR(Evolve(state, event));
    ++folded;
    return Status::Ok();
  }));
  if (folded != last) return Err(Code::kInternal, "folded " + std::to_string(folded) + " of " + std::to_string(last));
  return folded;
}

struct RebuildReport {
  WriteFigures mix;
  Phase write, floor, catch_up, rebuild;  // write: generating (fold + encode) and appending
  std::uint64_t bytes_written = 0, bytes_catch_up = 0, bytes_rebuild = 0;
};

Result<RebuildReport> MeasureRebuild(const fs::path& dir, const Settings& settings) {
  RebuildReport report;
  {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                            Journal::Open(JournalOptionsFor(dir, Durability::kNoSync)));
    REWIND_ASSIGN_OR_RETURN(report.write, Timed("write", 0, [&]() -> Status {
                              REWIND_ASSIGN_OR_RETURN(report.mix, WriteMixedJournal(*journal, settings));
                              return Status::Ok();
                            }));
    report.write.events = report.mix.events;
  }
  REWIND_ASSIGN_OR_RETURN(report.bytes_written, DataFileBytes(dir));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal, Journal::Open(JournalOptionsFor(dir, settings.durability)));
  const std::uint64_t n = report.mix.events;

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

RunStarted PollerDefinition() {
  RunStarted def;
  def.workflow = "poller";
  def.version = 1;
  def.tenant = "tenant-0";
  StepDef poll;
  poll.id = "poll";
  poll.handler = "poll";
  poll.retry.max_attempts = std::numeric_limits<std::uint32_t>::max();
  poll.retry.initial_backoff_ms = 1000;
  poll.retry.multiplier = 1.0;
  poll.retry.max_backoff_ms = 1000;
  def.steps.push_back(std::move(poll));
  return def;
}

// Event number `k` (from 1) of the long run: RunStarted, then StepStarted,
// StepFailed, RetryScheduled for attempt after attempt.
Result<Bytes> MakePollerEvent(RunMaker& maker, std::uint64_t k) {
  if (k == 1) return maker.Make(PollerDefinition(), 0);
  const std::uint32_t attempt = maker.step(0).attempts;  // the last attempt started
  switch ((k - 2) % 3) {
    case 0:
      return maker.Make(StepStarted{0, attempt + 1, 0}, 1'000'000);
    case 1:
      return maker.Make(StepFailed{0, attempt, "not_ready", "upstream has no data yet", true, 0}, 20'000);
    default:
      return maker.Make(RetryScheduled{0, attempt + 1, maker.now_us() + 1'000'000}, 100);
  }
}

// Writes one run of exactly `events` events, `kAppendBatch` per Append.
Status WriteLongRun(Journal& journal, const RunId& run, std::uint64_t events) {
  RunMaker maker(run, kStartUs);
  std::vector<Bytes> batch;
  std::uint64_t seq = 0;
  for (std::uint64_t k = 1; k <= events; ++k) {
    REWIND_ASSIGN_OR_RETURN(Bytes event, MakePollerEvent(maker, k));
    batch.push_back(std::move(event));
    if (batch.size() == kAppendBatch || k == events) {
      REWIND_ASSIGN_OR_RETURN(AppendResult appended, journal.Append(run, seq, std::move(batch)));
      seq = appended.head.seq;
      batch.clear();
    }
  }
  return journal.Sync();
}

// The run's state after `seq` events, folded from its first event.
Result<RunState> FoldFromStart(const Journal& journal, const RunId& run, std::uint64_t seq) {
  RunState state;
  state.run = run;
  REWIND_RETURN_IF_ERROR(journal.ReadRun(run, 1, seq, [&](const EventRecord& record) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event event, Decode(record.payload));
    return Evolve(state, event);
  }));
  return state;
}

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
  const WriteFigures& w = r.mix;
  const ProjectionsOptions defaults;
  std::printf(
      "# projections_bench rebuild: %llu events in %llu runs (%s clean, %s retried, %s resumed, %s cancelled), "
      "%u runs in flight while writing (nosync, seed %llu), then %s; ProjectionsOptions defaults "
      "(snapshot_every %u, batch_events %zu, cached_runs %zu); scratch under '%s'\n",
      static_cast<unsigned long long>(w.events), static_cast<unsigned long long>(w.runs),
      Percent(w.mix.clean, w.runs).c_str(), Percent(w.mix.retried, w.runs).c_str(),
      Percent(w.mix.resumed, w.runs).c_str(), Percent(w.mix.cancelled, w.runs).c_str(), settings.in_flight,
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

void WriteJsonPhase(std::FILE* out, const char* section, const char* phase, const Phase& p, const Phase* floor) {
  std::fprintf(out,
               "{\"section\":\"%s\",\"phase\":\"%s\",\"events\":%llu,\"seconds\":%.4f,\"cpu_seconds\":%.4f,"
               "\"events_per_s\":%.1f",
               section, phase, static_cast<unsigned long long>(p.events), p.seconds, p.cpu_seconds, p.events_per_s());
  if (floor != nullptr) {
    std::fprintf(out, ",\"x_floor\":%.3f,\"cpu_x_floor\":%.3f", Ratio(p.seconds, floor->seconds),
                 Ratio(p.cpu_seconds, floor->cpu_seconds));
  }
  std::fprintf(out, "}\n");
}

void WriteJson(std::FILE* out, const RebuildReport& rebuild, const StateAtReport& state_at) {
  WriteJsonPhase(out, "rebuild", "write", rebuild.write, nullptr);
  WriteJsonPhase(out, "rebuild", "floor", rebuild.floor, &rebuild.floor);
  WriteJsonPhase(out, "rebuild", "catch_up", rebuild.catch_up, &rebuild.floor);
  WriteJsonPhase(out, "rebuild", "rebuild", rebuild.rebuild, &rebuild.floor);
  std::fprintf(
      out,
      "{\"section\":\"rebuild\",\"phase\":\"data_file\",\"events\":%llu,\"bytes_written\":%llu,"
      "\"bytes_catch_up\":%llu,\"bytes_rebuild\":%llu}\n",
      static_cast<unsigned long long>(rebuild.mix.events), static_cast<unsigned long long>(rebuild.bytes_written),
      static_cast<unsigned long long>(rebuild.bytes_catch_up), static_cast<unsigned long long>(rebuild.bytes_rebuild));
  WriteJsonPhase(out, "state_at", "catch_up", state_at.catch_up, nullptr);
  for (const LatencyRow& row : state_at.rows) {
    std::fprintf(out,
                 "{\"section\":\"state_at\",\"method\":\"%s\",\"region\":\"%s\",\"lo\":%llu,\"hi\":%llu,"
                 "\"samples\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f}\n",
                 row.method == "StateAt" ? "state_at" : "full_fold", row.region.name.c_str(),
                 static_cast<unsigned long long>(row.region.lo), static_cast<unsigned long long>(row.region.hi),
                 row.samples, row.p50_us, row.p99_us, row.max_us);
  }
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
  if (settings.json.empty()) return Status::Ok();
  std::unique_ptr<std::FILE, decltype(&std::fclose)> out(std::fopen(settings.json.c_str(), "w"), &std::fclose);
  if (!out) return Status(Code::kUnavailable, "cannot write '" + settings.json + "'");
  WriteJson(out.get(), rebuild, state_at);
  if (std::fflush(out.get()) != 0) return Status(Code::kUnavailable, "cannot write '" + settings.json + "'");
  return Status::Ok();
}

struct Flags {
  CLI::Option* events = nullptr;
  CLI::Option* run_events = nullptr;
  CLI::Option* samples = nullptr;
  CLI::Option* fold_samples = nullptr;
};

Flags AddFlags(CLI::App& app, Settings& settings) {
  Flags flags;
  app.add_option("--dir", settings.dir,
                 "Parent of the scratch directories (on the filesystem to measure); "
                 "created and removed when missing")
      ->capture_default_str();
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
  const std::map<std::string, Durability> durabilities{{"durable", Durability::kDurable},
                                                       {"nosync", Durability::kNoSync}};
  app.add_option("--durability", settings.durability,
                 "Of the journal once written, while projections are built and read: durable (default) or nosync")
      ->transform(CLI::CheckedTransformer(durabilities));
  app.add_option("--seed", settings.seed, "Seed of the run mix and the sampled seqs")->capture_default_str();
  app.add_option("--json", settings.json, "Also write one JSON object per figure line to this file");
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
