// load_bench: thousands of runs in flight for minutes — random failures,
// resumes, approvals, signals, pauses and cancellations — then a check that
// nothing the engine acknowledged was lost, with latency percentiles and the
// process's memory over the whole load.
//
// The workflow, "order" (a DAG with parallel branches):
//
//   validate ─┬─ reserve ───┬─ approve ──┬─ ship ── notify
//             ├─ charge ────┘  (gate)    │
//             └─ callback (signal) ──────┘
//
//   * Code steps (validate, reserve, charge, ship, notify) return at once.
//     An attempt fails retryably with probability --retryable (4 attempts,
//     2 ms backoff doubling up to 20 ms); an attempt of "charge" fails
//     permanently with probability --permanent, which fails the run. An
//     attempt's outcome is a function of --seed and its idempotency key.
//   * "callback" is the asynchronous completion: a signal step the bench
//     completes after a random delay, as an external service calling back.
//     (Handlers are synchronous calls on the engine's pool: one that waited
//     for its completion would block an engine thread.) The signal is sent
//     when the run starts, and again whenever the run pauses waiting for it
//     (a signal that reached a failed run was refused).
//   * "approve" is approved by an operator after a random delay; rejected
//     with probability --reject, which fails the run for good.
//   * A failed run (a permanent failure, or retries used up) is resumed by
//     the operator from the failed step (Engine::Resume; the operator has the
//     operator role, the client that starts runs and signals does not), at
//     most 20 times a run; then it is given up.
//   * A run is cancelled with probability --cancel at a random moment after
//     it starts, or else paused with probability --pause as soon as it starts,
//     ahead of the calls queued (later it would mostly be waiting at a gate
//     already, and a pause is refused then); a paused run is resumed by the
//     operator after a random delay.
//   Every delay is uniform in [0, --max-delay-ms]. Operators and the service
//   act from --operators threads of their own (DelayedWork); the engine's
//   observer only schedules what they do. Start and every operator's call
//   block until their event is durable, so the thread counts bound the calls
//   under way: the defaults are enough to keep --in-flight runs in flight
//   with the engine, not the bench's threads, as the limit (with 32 starters
//   about 400 runs are in flight, however many are asked for).
//
// --starters threads keep --in-flight runs in flight (started and not ended:
// running, or paused waiting for someone) for --seconds, in a durable journal
// with the default projections. Then starting stops, the runs in flight are
// given up to --drain-seconds to end, the engine is shut down, and the
// journal is reopened and checked against every acknowledgement the engine
// gave (load_ledger.h): the observer's durable events (run, seq, type) and
// the returns of Start, Resume, Approve, Reject, Signal, Pause and Cancel;
// the hash chains (Journal::VerifyAll); every run's events fold, and the run
// ended completed (possibly after resumes), cancelled, rejected or given up;
// and the projections equal their rebuild (Projections::Digests).
//
// Figures: every --report-seconds a line of counts, events/s, resident
// memory (VmRSS; RssAnon, its heap and stacks, without the journal's mapped
// file) and heap (mallinfo2). At the end: totals, and latency percentiles
// (p50, p90, p99, p99.9, max) of start → RunCompleted durable per completed
// run (operator delays and resumes included), step scheduled → completed (a
// code step's StepStarted decided until its StepCompleted is durable, per
// completed attempt), and the Start, Resume and Approve/Reject calls (those
// that succeeded). Memory: sampled every second; after --warmup-seconds, the
// largest sample of the first minute against that of the last minute (both
// windows shorter when the run is: the steady part split in two, at most 60 s
// each). Judged only when each window is at least 10 s long, and on RssAnon:
// VmRSS also counts the pages of the journal's map read so far (RssFile),
// page cache that grows with the journal and that the kernel reclaims.
//
// Exit status 0 when nothing acknowledged was lost or inconsistent, the
// projections equal their rebuild, no call failed unexpectedly, at least one
// run completed, and RssAnon grew by at most --max-rss-growth (when judged);
// 1 otherwise.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "bench/bench_util.h"
#include "bench/delayed_work.h"
#include "bench/engine_util.h"
#include "bench/flags.h"
#include "bench/histories.h"
#include "bench/load_ledger.h"
#include "projections/src/histogram.h"
#include "rewind/executor/engine.h"
#include "rewind/projections/projections.h"

namespace rwd {
namespace {

using namespace bench;  // NOLINT: the bench helpers
using projections_internal::LatencyHistogram;

constexpr const char* kWorkflow = "order";
constexpr const char* kChargeStep = "charge";
constexpr const char* kApproveStep = "approve";
constexpr const char* kLastStep = "notify";
constexpr const char* kSignalName = "callback";
constexpr RetryPolicy kRetry{4, 2, 2.0, 20, 0.1};
constexpr std::size_t kMaxResumes = 20;        // a run's resumes before the operator gives up
constexpr unsigned kMaxResumeTries = 1000;     // Resume calls refused (Conflict) before it is an error
constexpr std::size_t kMaxUnexpected = 5;      // unexpected errors kept for the report

struct Settings {
  double seconds = 300;
  unsigned in_flight = 5000;
  std::uint64_t seed = 1;
  unsigned starters = 128;
  unsigned operators = 256;
  unsigned handler_threads = 2;
  double retryable = 0.05;
  double permanent = 0.02;
  double reject = 0.02;
  double cancel = 0.01;
  double pause = 0.01;
  unsigned max_delay_ms = 100;
  double report_seconds = 10;
  double warmup_seconds = 30;
  double drain_seconds = 120;
  double max_rss_growth = 1.5;
  Durability durability = Durability::kDurable;
  std::string dir = "bench-tmp";
  std::string json;
};

std::int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double MiB(std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }
unsigned long long U(std::uint64_t n) { return static_cast<unsigned long long>(n); }

// ---------------------------------------------------------------------------
// Counters and latencies, shared by the observer, handlers and operators

struct Counters {
  using N = std::atomic<std::uint64_t>;
  N started, completed, completed_after_resume, failed, given_up, resumed, resume_retries, resumes_superseded;
  N approved, rejected, stale_decisions, signals, late_signals, paused, late_pauses, cancelled, late_cancels;
  N attempts, retryable_failures, permanent_failures, unexpected;
};

// A latency histogram (microseconds) several threads record into.
class Latency {
 public:
  void Record(std::int64_t micros) {
    std::lock_guard<std::mutex> lock(mu_);
    histogram_.Record(static_cast<std::uint64_t>(std::max<std::int64_t>(micros, 0)));
  }
  void Record(Clock::duration d) { Record(std::chrono::duration_cast<std::chrono::microseconds>(d).count()); }
  LatencyHistogram Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return histogram_;
  }

 private:
  mutable std::mutex mu_;
  LatencyHistogram histogram_;
};

struct Latencies {
  Latency run;     // RunStarted decided → RunCompleted durable
  Latency step;    // StepStarted decided → StepCompleted durable (code steps)
  Latency start;   // Start call
  Latency resume;  // Resume call
  Latency decide;  // Approve or Reject call
};

// ---------------------------------------------------------------------------
// The workflow

// A uniform draw in [0, 1) from the seed and an attempt (its step's
// idempotency key, the same for every attempt of an epoch, and its number).
double Uniform(std::uint64_t seed, const StepContext& ctx) {
  const std::uint64_t key = std::hash<std::string>()(ctx.idempotency_key);
  return static_cast<double>(Mix64(seed ^ key ^ Mix64(ctx.attempt)) >> 11) * 0x1.0p-53;
}

Workflow OrderWorkflow(const Settings& settings, Counters& counters) {
  const StepHandler handler = [&settings, &counters](const StepContext& ctx) -> Result<Bytes> {
    ++counters.attempts;
    const double u = Uniform(settings.seed, ctx);
    if (ctx.step->id == kChargeStep && u < settings.permanent) {
      ++counters.permanent_failures;
      return Err(Code::kFailedPrecondition, "card declined");
    }
    if (u >= 1 - settings.retryable) {
      ++counters.retryable_failures;
      return Err(Code::kUnavailable, "service busy");
    }
    return ToBytes(ctx.step->id);
  };
  Workflow w(kWorkflow);
  w.Step("validate", handler).Retry(kRetry);
  w.Step("reserve", handler).After({"validate"}).Retry(kRetry);
  w.Step(kChargeStep, handler).After({"validate"}).Retry(kRetry);
  w.Signal("callback", kSignalName).After({"validate"});
  w.Approval(kApproveStep).After({"reserve", kChargeStep});
  w.Step("ship", handler).After({kApproveStep, "callback"}).Retry(kRetry);
  w.Step(kLastStep, handler).Retry(kRetry);
  return w;
}

// ---------------------------------------------------------------------------
// The load: starters, the observer, and what operators and the service do

class Load {
 public:
  Load(const Settings& settings, Ledger& ledger, DelayedWork& later)
      : settings_(settings), ledger_(ledger), later_(later) {
    client_.subject = "load-client";
    operator_ = BenchPrincipal();
  }

  // REQUIRES: called before Starter, and the engine outlives the load's calls.
  void Attach(Engine& engine) { engine_ = &engine; }

  // The RunObserver: records the acknowledgement and schedules what
  // operators and the service do about it. Runs on the run's strand.
  void Observe(const RunState& state, const std::vector<Event>& appended);

  // A starter thread's body: starts runs while fewer than --in-flight are in
  // flight, until StopStarting.
  void Starter();
  void StopStarting();

  std::uint64_t in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_;
  }
  std::vector<std::string> unexpected() const {
    std::lock_guard<std::mutex> lock(mu_);
    return unexpected_;
  }

  Counters counters;
  Latencies latencies;

 private:
  std::chrono::microseconds Delay();
  bool Chance(double p);
  // Begins `call` in the ledger and runs `op` after a random delay.
  void Schedule(const RunId& run, Call call, std::function<void()> op);
  void ScheduleResume(const RunId& run, std::string from_step);
  void Ended(const RunId& run, RunEnd end);

  void Decide(const RunId& run, bool approve);
  void Signal(const RunId& run);
  void Resume(const RunId& run, const std::string& from_step, unsigned tries);
  void Pause(const RunId& run);
  void Cancel(const RunId& run);
  void Unexpected(std::string_view call, const RunId& run, const Status& status);

  const Settings& settings_;
  Ledger& ledger_;
  DelayedWork& later_;
  Engine* engine_ = nullptr;
  Principal client_;    // starts runs and delivers signals
  Principal operator_;  // resumes, approves, rejects, pauses, cancels
  std::atomic<std::uint64_t> streams_{0};  // one random stream per thread

  mutable std::mutex mu_;  // guards what follows
  std::condition_variable room_;
  std::uint64_t in_flight_ = 0;
  bool stop_ = false;
  std::vector<std::string> unexpected_;
};

std::chrono::microseconds Load::Delay() {
  thread_local std::mt19937_64 rng(Mix64(settings_.seed + streams_++));
  return std::chrono::microseconds(
      std::uniform_int_distribution<std::int64_t>(0, std::int64_t{settings_.max_delay_ms} * 1000)(rng));
}

bool Load::Chance(double p) {
  thread_local std::mt19937_64 rng(Mix64(~settings_.seed + streams_++));
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

void Load::Schedule(const RunId& run, Call call, std::function<void()> op) {
  if (ledger_.Begin(run, call)) later_.After(Delay(), std::move(op));
}

void Load::ScheduleResume(const RunId& run, std::string from_step) {
  Schedule(run, Call::kResume, [this, run, from = std::move(from_step)] { Resume(run, from, 0); });
}

void Load::Ended(const RunId& run, RunEnd end) {
  if (!ledger_.Finish(run, end)) return;
  std::lock_guard<std::mutex> lock(mu_);
  --in_flight_;
  room_.notify_one();
}

void Load::Observe(const RunState& state, const std::vector<Event>& appended) {
  ledger_.Observed(state, appended);
  const RunId& run = state.run;
  const std::int64_t now = NowUs();
  for (const Event& event : appended) {
    const EventBody& body = event.body;
    if (std::holds_alternative<RunStarted>(body)) {
      Schedule(run, Call::kSignal, [this, run] { Signal(run); });
      if (Chance(settings_.cancel)) {
        Schedule(run, Call::kCancel, [this, run] { Cancel(run); });
      } else if (Chance(settings_.pause)) {
        // At once, ahead of the backlog of calls: a run spends most of its
        // life waiting at its gates, and a pause finds it running only
        // before them.
        if (ledger_.Begin(run, Call::kPause)) later_.Now([this, run] { Pause(run); });
      }
    } else if (const auto* completed = std::get_if<StepCompleted>(&body)) {
      if (state.definition->steps[completed->step].kind == StepKind::kCode) {
        latencies.step.Record(now - state.steps[completed->step].started_unix_us);
      }
    } else if (const auto* paused = std::get_if<RunPaused>(&body)) {
      switch (paused->reason) {
        case PauseReason::kApprovalRequired: {
          const bool approve = !Chance(settings_.reject);
          Schedule(run, approve ? Call::kApprove : Call::kReject, [this, run, approve] { Decide(run, approve); });
          break;
        }
        case PauseReason::kSignalWait: Schedule(run, Call::kSignal, [this, run] { Signal(run); }); break;
        case PauseReason::kManual: ScheduleResume(run, ""); break;
      }
    } else if (const auto* failed = std::get_if<RunFailed>(&body)) {
      const StepDef& step = state.definition->steps[failed->step];
      if (step.kind == StepKind::kApproval) {
        Ended(run, RunEnd::kRejected);
      } else if (state.resumes.size() >= kMaxResumes) {
        ++counters.given_up;
        Ended(run, RunEnd::kGivenUp);
      } else {
        ++counters.failed;
        ScheduleResume(run, step.id);
      }
    } else if (std::holds_alternative<RunCompleted>(body)) {
      latencies.run.Record(now - state.started_unix_us);
      ++counters.completed;
      if (!state.resumes.empty()) ++counters.completed_after_resume;
      Ended(run, RunEnd::kCompleted);
    } else if (std::holds_alternative<RunCancelled>(body)) {
      ++counters.cancelled;
      Ended(run, RunEnd::kCancelled);
    }
  }
}

void Load::Starter() {
  StartRequest request;
  request.workflow = kWorkflow;
  request.actor = client_;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      room_.wait(lock, [this] { return stop_ || in_flight_ < settings_.in_flight; });
      if (stop_) return;
      ++in_flight_;
    }
    request.input = ToBytes("{\"order\":" + std::to_string(counters.started.load()) + "}");
    const Clock::time_point t0 = Clock::now();
    const Result<RunId> run = engine_->Start(request);
    if (!run.has_value()) {
      Unexpected("start", RunId(), run.error());
      {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // not a busy loop on a broken engine
      continue;
    }
    latencies.start.Record(Clock::now() - t0);
    ++counters.started;
    ledger_.StartReturned(*run);
  }
}

void Load::StopStarting() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  room_.notify_all();
}

void Load::Decide(const RunId& run, bool approve) {
  const Clock::time_point t0 = Clock::now();
  const Status s = approve ? engine_->Approve(run, kApproveStep, operator_)
                           : engine_->Reject(run, kApproveStep, operator_);
  if (s.ok()) {
    latencies.decide.Record(Clock::now() - t0);
    ++(approve ? counters.approved : counters.rejected);
  } else if (s.code() == Code::kFailedPrecondition) {
    ++counters.stale_decisions;  // cancelled meanwhile
  } else {
    Unexpected(approve ? "approve" : "reject", run, s);
  }
  ledger_.End(run, approve ? Call::kApprove : Call::kReject, s.ok());
}

void Load::Signal(const RunId& run) {
  const Status s = engine_->Signal(run, kSignalName, ToBytes("paid"), client_);
  if (s.ok()) {
    ++counters.signals;
  } else if (s.code() == Code::kFailedPrecondition) {
    ++counters.late_signals;  // the run had failed or ended
  } else {
    Unexpected("signal", run, s);
  }
  ledger_.End(run, Call::kSignal, s.ok());
}

void Load::Resume(const RunId& run, const std::string& from_step, unsigned tries) {
  ResumeRequest request;
  request.run = run;
  request.from_step = from_step;
  request.actor = operator_;
  request.reason = from_step.empty() ? "load: continue after a pause" : "load: retry the failed step";
  const Clock::time_point t0 = Clock::now();
  const Result<ResumeResult> resumed = engine_->Resume(request);
  if (resumed.has_value()) {
    latencies.resume.Record(Clock::now() - t0);
    ++counters.resumed;
    return ledger_.End(run, Call::kResume, true, resumed->seq);
  }
  const Code code = resumed.error().code();
  // A run paused by hand after its last step completed: nothing is left to
  // continue, so the operator names the last step (a re-run of it).
  const bool all_completed = code == Code::kFailedPrecondition && from_step.empty();
  if ((code == Code::kConflict || all_completed) && tries < kMaxResumeTries) {
    // Refused while a step of the paused run was still running: try again
    // once it settled, if the run still waits for a resume.
    const Result<RunState> state = engine_->State(run, operator_);
    if (state.has_value() && (state->status == RunStatus::kFailed ||
                              (state->status == RunStatus::kPaused && state->paused_step == kNoStep))) {
      ++counters.resume_retries;
      later_.After(Delay() / 10, [this, run, from = all_completed ? std::string(kLastStep) : from_step, tries] {
        Resume(run, from, tries + 1);
      });
      return;  // still outstanding
    }
    if (state.has_value()) {
      ++counters.resumes_superseded;  // the run moved on meanwhile
      return ledger_.End(run, Call::kResume, false);
    }
  }
  Unexpected("resume", run, resumed.error());
  ledger_.End(run, Call::kResume, false);
}

void Load::Pause(const RunId& run) {
  const Status s = engine_->Pause(run, operator_, "load: a manual pause");
  if (s.ok()) {
    ++counters.paused;
  } else if (s.code() == Code::kConflict) {
    ++counters.late_pauses;  // waiting at a gate, or ended
  } else {
    Unexpected("pause", run, s);
  }
  ledger_.End(run, Call::kPause, s.ok());
}

void Load::Cancel(const RunId& run) {
  const Status s = engine_->Cancel(run, operator_, "load: cancelled");
  if (s.ok()) {
    // counted as cancelled when RunCancelled is observed
  } else if (s.code() == Code::kConflict) {
    ++counters.late_cancels;  // ended already
  } else {
    Unexpected("cancel", run, s);
  }
  ledger_.End(run, Call::kCancel, s.ok());
}

void Load::Unexpected(std::string_view call, const RunId& run, const Status& status) {
  ++counters.unexpected;
  std::lock_guard<std::mutex> lock(mu_);
  if (unexpected_.size() < kMaxUnexpected) {
    unexpected_.push_back(std::string(call) + " run " + run.ToString() + ": " + status.ToString());
  }
}

// ---------------------------------------------------------------------------
// Memory over the load

struct MemorySample {
  double t = 0;  // seconds since the load began
  std::uint64_t vm = 0, anon = 0, file = 0;  // VmRSS, RssAnon, RssFile
};

// One kind of memory after the warm-up: its range, and its largest sample in
// the first window and in the last one.
struct MemorySeries {
  std::uint64_t min = UINT64_MAX, max = 0, first = 0, last = 0;
  void Add(std::uint64_t bytes, bool in_first, bool in_last) {
    min = std::min(min, bytes);
    max = std::max(max, bytes);
    if (in_first) first = std::max(first, bytes);
    if (in_last) last = std::max(last, bytes);
  }
  double ratio() const { return first > 0 ? static_cast<double>(last) / static_cast<double>(first) : 0; }
};

struct MemoryFigures {
  bool judged = false;  // both windows long enough to say
  double window_seconds = 0;
  MemorySeries vm, anon, file;
};

MemoryFigures Summarize(const std::vector<MemorySample>& samples, const Settings& settings, double seconds) {
  MemoryFigures m;
  const double warmup = std::min(settings.warmup_seconds, seconds);
  m.window_seconds = std::min(60.0, (seconds - warmup) / 2);
  m.judged = m.window_seconds >= 10;
  for (const MemorySample& s : samples) {
    if (s.t < warmup) continue;
    const bool first = s.t < warmup + m.window_seconds, last = s.t >= seconds - m.window_seconds;
    m.vm.Add(s.vm, first, last);
    m.anon.Add(s.anon, first, last);
    m.file.Add(s.file, first, last);
  }
  return m;
}

// ---------------------------------------------------------------------------
// The report

struct Interval {
  Clock::time_point at;
  std::uint64_t events = 0, completed = 0;
};

void PrintHeader(const Settings& settings) {
  std::printf(
      "# load_bench: %u runs in flight for %.0f s, workflow '%s' (validate; reserve, charge, callback signal in "
      "parallel; approve gate; ship; notify), %s, projections on, seed %llu; failures: %.3f retryable a "
      "code-step attempt, %.3f permanent a charge attempt; %.3f of approvals rejected, %.3f of runs cancelled, "
      "%.3f paused; delays 0..%u ms; %u starters, %u operator threads, %u handler threads; scratch under '%s'\n",
      settings.in_flight, settings.seconds, kWorkflow, DurabilityName(settings.durability), U(settings.seed),
      settings.retryable, settings.permanent, settings.reject, settings.cancel, settings.pause, settings.max_delay_ms,
      settings.starters, settings.operators, settings.handler_threads, settings.dir.c_str());
  std::printf("%7s %9s %9s %9s %7s %7s %9s %8s %9s %9s %8s %10s %9s %9s %9s %8s\n", "t s", "in flight", "started",
              "completed", "failed", "resumed", "approved", "rejected", "cancelled", "paused", "runs/s", "events/s",
              "VmRSS MiB", "anon MiB", "heap MiB", "queued");
}

void PrintLine(double t, Load& load, const DelayedWork& later, Interval& last, const JournalStats& stats) {
  const Clock::time_point now = Clock::now();
  const double dt = Seconds(now - last.at);
  const Counters& c = load.counters;
  const std::uint64_t completed = c.completed.load();
  std::printf("%7.1f %9llu %9llu %9llu %7llu %7llu %9llu %8llu %9llu %9llu %8.0f %10.0f %9.1f %9.1f %9.1f %8zu\n", t,
              U(load.in_flight()), U(c.started.load()), U(completed), U(c.failed.load()), U(c.resumed.load()),
              U(c.approved.load()), U(c.rejected.load()), U(c.cancelled.load()), U(c.paused.load()),
              dt > 0 ? static_cast<double>(completed - last.completed) / dt : 0,
              dt > 0 ? static_cast<double>(stats.events - last.events) / dt : 0, MiB(ResidentBytes()),
              MiB(AnonResidentBytes()), MiB(HeapBytes()), later.pending());
  std::fflush(stdout);
  last = Interval{now, stats.events, completed};
}

nlohmann::json LatencyJson(const LatencyHistogram& h) {
  auto ms = [&](double p) { return static_cast<double>(h.Percentile(p)) / 1000; };
  return {{"count", h.count()}, {"p50_ms", ms(0.5)},    {"p90_ms", ms(0.9)},
          {"p99_ms", ms(0.99)}, {"p999_ms", ms(0.999)}, {"max_ms", static_cast<double>(h.max()) / 1000}};
}

void PrintLatency(const char* name, const LatencyHistogram& h) {
  auto ms = [&](double p) { return static_cast<double>(h.Percentile(p)) / 1000; };
  std::printf("%-28s %10llu %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, U(h.count()), ms(0.5), ms(0.9), ms(0.99),
              ms(0.999), static_cast<double>(h.max()) / 1000);
}

// ---------------------------------------------------------------------------
// The run

struct Outcome {
  double load_seconds = 0, drain_seconds = 0, check_seconds = 0, rebuild_seconds = 0;
  double cpu_seconds = 0;    // of the whole process during the load and the drain
  JournalStats stats;
  MemoryFigures memory;
  CheckFigures check;
  Status projections;        // Ok when they equal their rebuild
  Status health;             // Ok when no projection failed during the load
  std::uint64_t dropped = 0; // scheduled calls never made (the drain ran out of time)
};

// The journal reopened after the engine shut down, checked against the ledger.
Status CheckJournal(const fs::path& dir, const Settings& settings, Ledger& ledger, Outcome& out) {
  const Clock::time_point t0 = Clock::now();
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                          Journal::Open(JournalOptionsFor(dir, settings.durability)));
  REWIND_ASSIGN_OR_RETURN(out.check, ledger.Check(*journal));
  const Clock::time_point t1 = Clock::now();
  ProjectionsOptions options;
  options.background = false;
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Projections> projections, Projections::Open(*journal, options));
  out.projections = ProjectionsMatchRebuild(*projections);
  out.check_seconds = Seconds(t1 - t0);
  out.rebuild_seconds = Seconds(Clock::now() - t1);
  return Status::Ok();
}

Status RunLoad(const Settings& settings, Load& load, Ledger& ledger, DelayedWork& later, const fs::path& dir,
               Outcome& out) {
  EngineOptions options;
  options.journal = JournalOptionsFor(dir, settings.durability);
  options.workflows.push_back(OrderWorkflow(settings, load.counters));
  options.handler_threads = settings.handler_threads;
  options.max_active_runs = settings.in_flight + 1000;  // never what limits the load
  options.observer = [&load](const RunState& state, const std::vector<Event>& appended) {
    load.Observe(state, appended);
  };
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Open(std::move(options)));
  load.Attach(*engine);

  std::vector<MemorySample> samples;
  const double cpu0 = ProcessCpuSeconds();
  const Clock::time_point begin = Clock::now();
  Interval last{begin, 0, 0};
  std::vector<std::thread> starters;
  for (unsigned i = 0; i < settings.starters; ++i) starters.emplace_back([&load] { load.Starter(); });
  double next_report = settings.report_seconds;
  for (int tick = 1;; ++tick) {
    std::this_thread::sleep_until(begin + std::chrono::seconds(tick));
    const double t = Seconds(Clock::now() - begin);
    samples.push_back(MemorySample{t, ResidentBytes(), AnonResidentBytes(), ProcStatusBytes("RssFile")});
    if (t >= next_report || t >= settings.seconds) {
      PrintLine(t, load, later, last, engine->journal().stats());
      next_report += settings.report_seconds;
    }
    if (t >= settings.seconds) break;
  }
  load.StopStarting();
  for (std::thread& t : starters) t.join();
  out.load_seconds = Seconds(Clock::now() - begin);
  out.memory = Summarize(samples, settings, out.load_seconds);

  // The runs in flight end; nothing new starts.
  const Clock::time_point drain = Clock::now();
  while ((ledger.live() > 0 || later.pending() > 0) && Seconds(Clock::now() - drain) < settings.drain_seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  out.drain_seconds = Seconds(Clock::now() - drain);
  out.cpu_seconds = ProcessCpuSeconds() - cpu0;
  out.dropped = later.Stop();
  PrintLine(Seconds(Clock::now() - begin), load, later, last, engine->journal().stats());
  out.health = ProjectionsHealthy(*engine);
  out.stats = engine->journal().stats();
  engine.reset();
  return CheckJournal(dir, settings, ledger, out);
}

void PrintOutcome(const Settings& settings, const Load& load, const Ledger& ledger, const Outcome& out) {
  const Counters& c = load.counters;
  const CheckFigures& k = out.check;
  std::printf("\n# totals: %.1f s of load, %.1f s to drain the runs in flight; then %.1f s to check the journal, "
              "%.1f s to rebuild the projections\n",
              out.load_seconds, out.drain_seconds, out.check_seconds, out.rebuild_seconds);
  std::printf("runs      started %llu, completed %llu (%llu after a resume), failed %llu, rejected %llu, "
              "cancelled %llu, given up %llu; %.0f runs/s\n",
              U(c.started.load()), U(c.completed.load()), U(c.completed_after_resume.load()), U(c.failed.load()),
              U(c.rejected.load()), U(c.cancelled.load()), U(c.given_up.load()),
              PerSecond(c.completed.load(), out.load_seconds + out.drain_seconds));
  std::printf("calls     resumes %llu (%llu refused and retried, %llu superseded), approvals %llu, rejections %llu, "
              "stale decisions %llu, signals %llu (%llu late), pauses %llu (%llu late), cancels late %llu, "
              "unexpected %llu\n",
              U(c.resumed.load()), U(c.resume_retries.load()), U(c.resumes_superseded.load()), U(c.approved.load()),
              U(c.rejected.load()), U(c.stale_decisions.load()), U(c.signals.load()), U(c.late_signals.load()),
              U(c.paused.load()), U(c.late_pauses.load()), U(c.late_cancels.load()), U(c.unexpected.load()));
  std::printf("attempts  %llu (%llu retryable failures, %llu permanent)\n", U(c.attempts.load()),
              U(c.retryable_failures.load()), U(c.permanent_failures.load()));
  const double seconds = out.load_seconds + out.drain_seconds;
  const auto commits = static_cast<double>(std::max<std::uint64_t>(out.stats.commits, 1));
  std::printf("journal   %llu events in %llu commits (%.1f events a commit), %.0f events/s; CPU %.0f s (%.2f cores)\n",
              U(out.stats.events), U(out.stats.commits),
              static_cast<double>(out.stats.events) / commits,
              PerSecond(out.stats.events, seconds), out.cpu_seconds, seconds > 0 ? out.cpu_seconds / seconds : 0);
  for (const std::string& u : load.unexpected()) std::printf("unexpected: %s\n", u.c_str());

  std::printf("\n# latency ms                     count       p50       p90       p99     p99.9       max\n");
  PrintLatency("start -> complete (run)", load.latencies.run.Snapshot());
  PrintLatency("step scheduled -> completed", load.latencies.step.Snapshot());
  PrintLatency("start call", load.latencies.start.Snapshot());
  PrintLatency("resume call", load.latencies.resume.Snapshot());
  PrintLatency("approve/reject call", load.latencies.decide.Snapshot());

  const MemoryFigures& m = out.memory;
  std::printf("\n# memory after %.0f s of warm-up (MiB): windows of %.0f s\n",
              std::min(settings.warmup_seconds, out.load_seconds), m.window_seconds);
  if (m.vm.max == 0) {
    std::printf("(no sample after the warm-up)\n");
  } else {
    std::printf("%-8s %9s %9s %13s %13s %7s\n", "", "min", "max", "first window", "last window", "ratio");
    auto row = [](const char* name, const MemorySeries& r) {
      std::printf("%-8s %9.1f %9.1f %13.1f %13.1f %7.3f", name, MiB(r.min), MiB(r.max), MiB(r.first), MiB(r.last),
                  r.ratio());
    };
    row("VmRSS", m.vm);
    std::printf("  (RssAnon + RssFile)\n");
    row("RssFile", m.file);
    std::printf("  (mapped files, mostly the journal: its pages read since it opened)\n");
    row("RssAnon", m.anon);
    std::printf("  (heap and stacks; judged: %s, at most %.2f)\n", m.judged ? "yes" : "no, too short",
                settings.max_rss_growth);
  }

  std::printf("\n# check of the reopened journal\n");
  std::printf("journal   %llu events in %llu runs, hash chains verified; %llu runs recorded (%llu spilled)\n",
              U(k.journal_events), U(k.journal_runs), U(k.runs), U(ledger.spilled()));
  std::printf("acked     %llu events by the observer, %llu calls by their return; %llu durable events after the "
              "last acknowledged\n",
              U(k.acked_events), U(k.acked_calls), U(k.unacked_tail));
  std::printf("ends      completed %llu, completed after a resume %llu, cancelled %llu, rejected %llu, given up %llu, "
              "not ended %llu\n",
              U(k.completed), U(k.resumed_completed), U(k.cancelled), U(k.rejected), U(k.given_up), U(k.unfinished));
  std::printf("lost      events %llu, calls %llu; mismatched runs %llu, unacknowledged call events %llu, unknown runs "
              "%llu, runs that do not fold %llu, observer gaps %llu, ends differing %llu\n",
              U(k.lost_events), U(k.lost_calls), U(k.mismatched_runs), U(k.unacked_calls), U(k.unknown_runs),
              U(k.fold_errors), U(k.ack_gaps), U(k.end_mismatches));
  for (const std::string& e : k.examples) std::printf("problem: %s\n", e.c_str());
  std::printf("projections %s\n", out.projections.ok() ? "equal their rebuild" : out.projections.ToString().c_str());
  if (!out.health.ok()) std::printf("projections during the load: %s\n", out.health.ToString().c_str());
  if (out.dropped > 0) std::printf("calls never made (the drain ran out of time): %llu\n", U(out.dropped));
}

nlohmann::json JsonOf(const Settings& settings, const Load& load, const Outcome& out) {
  const Counters& c = load.counters;
  const CheckFigures& k = out.check;
  const MemoryFigures& m = out.memory;
  return {{"mode", "load"},
          {"durability", DurabilityName(settings.durability)},
          {"in_flight", settings.in_flight},
          {"seconds", out.load_seconds},
          {"drain_seconds", out.drain_seconds},
          {"runs_started", c.started.load()},
          {"runs_completed", c.completed.load()},
          {"runs_completed_after_resume", c.completed_after_resume.load()},
          {"runs_failed", c.failed.load()},
          {"runs_rejected", c.rejected.load()},
          {"runs_cancelled", c.cancelled.load()},
          {"resumes", c.resumed.load()},
          {"approvals", c.approved.load()},
          {"events", out.stats.events},
          {"events_per_s", PerSecond(out.stats.events, out.load_seconds + out.drain_seconds)},
          {"unexpected_errors", c.unexpected.load()},
          {"lost_events", k.lost_events},
          {"lost_calls", k.lost_calls},
          {"problems", k.problems()},
          {"projections_match_rebuild", out.projections.ok()},
          {"latency_run", LatencyJson(load.latencies.run.Snapshot())},
          {"latency_step", LatencyJson(load.latencies.step.Snapshot())},
          {"latency_start_call", LatencyJson(load.latencies.start.Snapshot())},
          {"latency_resume_call", LatencyJson(load.latencies.resume.Snapshot())},
          {"latency_approve_call", LatencyJson(load.latencies.decide.Snapshot())},
          {"vm_rss_first_bytes", m.vm.first},
          {"vm_rss_last_bytes", m.vm.last},
          {"file_first_bytes", m.file.first},
          {"file_last_bytes", m.file.last},
          {"anon_min_bytes", m.anon.min},
          {"anon_max_bytes", m.anon.max},
          {"anon_first_bytes", m.anon.first},
          {"anon_last_bytes", m.anon.last},
          {"anon_ratio", m.anon.ratio()},
          {"memory_judged", m.judged}};
}

int Run(const Settings& settings) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "load_bench: %s\n", s.ToString().c_str());
    return 1;
  };
  Result<std::unique_ptr<ScratchDir>> scratch = ScratchDir::Create(settings.dir, "load");
  if (!scratch.has_value()) return fail(scratch.error());
  Result<std::unique_ptr<Ledger>> ledger = Ledger::Create((*scratch)->path() / "acks.bin");
  if (!ledger.has_value()) return fail(ledger.error());
  PrintHeader(settings);
  Outcome out;
  // Declared in the order they must outlive one another: the engine (inside
  // RunLoad) calls the load, which calls the delayed work and the ledger.
  DelayedWork later(settings.operators);
  Load load(settings, **ledger, later);
  if (Status s = RunLoad(settings, load, **ledger, later, (*scratch)->path() / "journal", out); !s.ok()) {
    return fail(s);
  }
  PrintOutcome(settings, load, **ledger, out);

  std::vector<std::string> verdict;
  if (out.check.problems() > 0) verdict.push_back("acknowledged events lost or inconsistent");
  if (!out.projections.ok()) verdict.push_back("projections differ from their rebuild");
  if (!out.health.ok()) verdict.push_back("a projection failed during the load");
  if (load.counters.unexpected.load() > 0) verdict.push_back("calls failed unexpectedly");
  if (load.counters.completed.load() == 0) verdict.push_back("no run completed");
  if (out.memory.judged && out.memory.anon.ratio() > settings.max_rss_growth) {
    verdict.push_back("anonymous resident memory grew beyond the limit");
  }
  JsonRows json("load", settings.json);
  json.Add(JsonOf(settings, load, out));
  if (Status s = json.Write(); !s.ok()) return fail(s);
  if (!verdict.empty()) {
    for (const std::string& v : verdict) std::printf("FAILED: %s\n", v.c_str());
    return 1;
  }
  std::printf("PASSED: lost events 0, lost calls 0, every run ended in a known state\n");
  return 0;
}

void AddFlags(CLI::App& app, Settings& settings) {
  app.add_option("--seconds", settings.seconds, "Seconds of load (runs are started throughout)")
      ->check(CLI::Range(1.0, 86'400.0))
      ->capture_default_str();
  app.add_option("--in-flight", settings.in_flight, "Runs kept in flight (started, not ended)")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--seed", settings.seed, "Seed of the failures, delays and choices")->capture_default_str();
  app.add_option("--starters", settings.starters, "Threads calling Start")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--operators", settings.operators,
                 "Threads making the operators' and the service's calls (approve, signal, resume, ...)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--handler-threads", settings.handler_threads, "EngineOptions::handler_threads")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--retryable", settings.retryable, "Probability that a code-step attempt fails retryably")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  app.add_option("--permanent", settings.permanent, "Probability that a 'charge' attempt fails permanently")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  app.add_option("--reject", settings.reject, "Probability that an approval is a rejection")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--cancel", settings.cancel, "Probability that a run is cancelled at a random moment")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--pause", settings.pause, "Probability that a run is paused as it starts (then resumed)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-delay-ms", settings.max_delay_ms,
                 "Delays of approvals, signals, resumes and cancels: uniform in 0..this")
      ->check(CLI::Range(0u, 60'000u))
      ->capture_default_str();
  app.add_option("--report-seconds", settings.report_seconds, "Seconds between progress lines")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup-seconds", settings.warmup_seconds, "Seconds of load before memory counts as steady")
      ->check(CLI::Range(0.0, 86'400.0))
      ->capture_default_str();
  app.add_option("--drain-seconds", settings.drain_seconds, "Seconds the runs in flight have to end after the load")
      ->check(CLI::Range(0.0, 86'400.0))
      ->capture_default_str();
  app.add_option("--max-rss-growth", settings.max_rss_growth,
                 "Largest RssAnon of the last window over that of the first one, at most (when judged)")
      ->check(CLI::Range(1.0, 100.0))
      ->capture_default_str();
  AddDurabilityFlag(app, settings.durability, "durable (sync each commit, default) or nosync");
  AddOutputFlags(app, settings.dir, settings.json);
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // the engine logs every resume at info
  rwd::Settings settings;
  CLI::App app{"Thousands of runs in flight with failures, resumes and approvals; no acknowledged event lost"};
  rwd::AddFlags(app, settings);
  CLI11_PARSE(app, argc, argv);
  return rwd::Run(settings);
}
