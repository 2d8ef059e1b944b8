#include "tests/support/random_history.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "rewind/base/status.h"
#include "rewind/fold/decide.h"
#include "rewind/fold/run_state.h"
#include "rewind/schemas/describe.h"

namespace rwd::test {

void showValue(const HistoryAppend& append, std::ostream& os) {
  os << "run " << append.run.ToString() << " after seq " << append.expected_seq << ":";
  for (const Event& e : append.events) os << "\n  " << e.unix_us << " " << DescribeEvent(e);
}

namespace {

constexpr std::int64_t kT0 = 1'717'200'000'000'000;  // 2024-06-01, in µs
constexpr std::uint32_t kPicks = 1u << 16;           // range of a move's run and action picks

constexpr std::array<std::string_view, 3> kSubjects = {"alice", "bob", "carol"};
constexpr std::array<std::string_view, 8> kStepNames = {"fetch", "validate", "reserve", "charge",
                                                        "ship",  "notify",   "archive", "report"};
constexpr std::array<std::string_view, 3> kSignalNames = {"payment_received", "shipped", "go"};
constexpr std::array<std::string_view, 4> kReasons = {"investigating", "customer request",
                                                      "bad deploy rolled back", "duplicate"};

// What a handler's error looks like once live_run.cc recorded it: the code's
// name, and retryable unless the code is permanent (workflow.h, IsPermanentFailure).
struct FailureSpec {
  Code code;
  std::string_view message;
};
constexpr std::array<FailureSpec, 8> kFailures = {{
    {Code::kUnavailable, "connection refused"},
    {Code::kUnavailable, "upstream returned 503"},
    {Code::kInternal, "handler threw: std::bad_alloc"},
    {Code::kResourceExhausted, "rate limited"},
    {Code::kInternal, "exit status 1"},
    {Code::kInvalidArgument, "malformed order"},
    {Code::kFailedPrecondition, "account closed"},
    {Code::kNotFound, "customer not found"},
}};

bool IsPermanent(Code code) {
  return code == Code::kInvalidArgument || code == Code::kFailedPrecondition ||
         code == Code::kPermissionDenied || code == Code::kNotFound;
}

// One generation step: which run (or a new one), which of the actions its
// state allows, and the seed of every other detail. Picks are reduced modulo
// the weights of the choices at hand, so any values make a valid move and
// shrinking toward 0 means "the first choice".
struct Move {
  std::uint32_t run = 0;
  std::uint32_t action = 0;
  std::uint64_t seed = 0;
};

// Per history: the engine's max_parallel_steps, how often handlers fail, and
// where the clock starts.
struct Knobs {
  std::uint32_t max_parallel = 0;
  std::uint32_t fail_percent = 0;
  std::uint64_t seed = 0;
};

// SplitMix64: the details of one move, drawn from its seed.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n). REQUIRES: n > 0.
  std::uint64_t Below(std::uint64_t n) { return Next() % n; }
  std::uint32_t Below32(std::uint32_t n) { return static_cast<std::uint32_t>(Below(n)); }
  bool Percent(std::uint32_t p) { return Below(100) < p; }
  // A copy of one of `items`. REQUIRES: not empty.
  template <typename C>
  auto Pick(const C& items) {
    return items[static_cast<std::size_t>(Below(std::size(items)))];
  }

 private:
  std::uint64_t state_;
};

// The choice `pick` lands on when each choice covers as many values as its weight.
template <typename T>
T Choose(std::uint32_t pick, const std::vector<std::pair<T, std::uint32_t>>& choices) {
  std::uint32_t total = 0;
  for (const auto& c : choices) total += c.second;
  std::uint32_t x = pick % total;
  for (const auto& c : choices) {
    if (x < c.second) return c.first;
    x -= c.second;
  }
  return choices.back().first;
}

enum class Act : std::uint8_t {
  kOutcome,  // handlers report: StepCompleted / StepFailed
  kWake,     // the run's wake-up timer fires: retries start, sleeps end
  kApprove,
  kReject,
  kSignal,
  kPause,   // RunPaused{kManual}
  kCancel,  // CancelRequested + RunCancelled
  kResume,
  kFork,
  kAbandon,  // recovery after a restart: StepAbandoned for every attempt in flight
  kNothing,  // nobody touches a finished run (most stay finished): no append
};

std::vector<std::uint32_t> RunningSteps(const RunState& s) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < s.steps.size(); ++i) {
    if (s.steps[i].status == StepStatus::kRunning) out.push_back(i);
  }
  return out;
}

bool InFlight(const RunState& s) {
  return std::any_of(s.steps.begin(), s.steps.end(),
                     [](const StepState& step) { return step.status == StepStatus::kRunning; });
}

bool Terminal(const RunState& s) {
  return s.status == RunStatus::kCompleted || s.status == RunStatus::kFailed ||
         s.status == RunStatus::kCancelled;
}

// Steps a resume or a fork may start from: their dependencies completed (engine.cc).
std::vector<std::uint32_t> RestartableSteps(const RunState& s) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < s.steps.size(); ++i) {
    bool ready = true;
    for (std::uint32_t dep : s.definition->steps[i].depends_on) {
      ready = ready && s.steps[dep].status == StepStatus::kCompleted;
    }
    if (ready) out.push_back(i);
  }
  return out;
}

class Simulation {
 public:
  Simulation(HistoryOptions options, const Knobs& knobs) : options_(std::move(options)), knobs_(knobs) {
    if (options_.tenants.empty()) options_.tenants = {"default"};
    if (options_.workflows.empty()) options_.workflows = {"default"};
    if (options_.max_parallel) knobs_.max_parallel = *options_.max_parallel;
    Draw draw(knobs.seed);
    now_ = kT0 + static_cast<std::int64_t>(draw.Below(86'400'000'000));  // within a day
  }

  bool Full() const { return appends_.size() >= options_.max_appends; }
  std::vector<HistoryAppend> Take() { return std::move(appends_); }

  // Plays one move: at most one append.
  void Play(const Move& move) {
    Draw draw(move.seed);
    now_ += Advance(draw);
    constexpr std::size_t kNewRun = static_cast<std::size_t>(-1);
    std::vector<std::pair<std::size_t, std::uint32_t>> runs;
    if (runs_.size() < options_.max_runs) runs.emplace_back(kNewRun, runs_.empty() ? 1 : 3);
    for (std::size_t i = 0; i < runs_.size(); ++i) runs.emplace_back(i, Weight(runs_[i].state));
    if (runs.empty()) return;  // max_runs == 0
    const std::size_t r = Choose(move.run, runs);
    if (r == kNewRun) return Start(draw);
    const std::vector<std::pair<Act, std::uint32_t>> acts = Actions(runs_[r]);
    if (acts.empty()) return;
    switch (Choose(move.action, acts)) {
      case Act::kOutcome: return Outcome(r, draw);
      case Act::kWake: return Wake(r, draw);
      case Act::kApprove: return Approve(r, draw, true);
      case Act::kReject: return Approve(r, draw, false);
      case Act::kSignal: return Signal(r, draw);
      case Act::kPause: return Pause(r, draw);
      case Act::kCancel: return Cancel(r, draw);
      case Act::kResume: return Resume(r, draw);
      case Act::kFork: return Fork(r, draw);
      case Act::kAbandon: return Abandon(r);
      case Act::kNothing: return;
    }
  }

 private:
  struct Run {
    RunState state;
    std::vector<std::size_t> appends;  // indices into appends_, for forks at a past seq
    std::optional<std::int64_t> wake;  // Plan's wake-up after the last append
  };

  // Mostly small steps (handlers take milliseconds), sometimes seconds or a minute.
  static std::int64_t Advance(Draw& draw) {
    const std::uint64_t bucket = draw.Below(10);
    const std::uint64_t most = bucket < 3   ? 2'000
                               : bucket < 8 ? 100'000
                               : bucket < 9 ? 2'000'000
                                            : 60'000'000;
    return static_cast<std::int64_t>(draw.Below(most));
  }

  // Runs with something going on are picked more often than finished ones.
  static std::uint32_t Weight(const RunState& s) {
    if (s.status == RunStatus::kRunning || InFlight(s)) return 6;
    if (s.status == RunStatus::kPaused) return 4;
    return s.status == RunStatus::kCompleted ? 1 : 2;
  }

  // What may happen to `run` now, with weights; the order is the shrinking order.
  std::vector<std::pair<Act, std::uint32_t>> Actions(const Run& run) const {
    const RunState& s = run.state;
    const bool in_flight = InFlight(s);
    const bool gate = s.status == RunStatus::kPaused && s.paused_step != kNoStep;
    std::vector<std::pair<Act, std::uint32_t>> acts;
    if (in_flight) acts.emplace_back(Act::kOutcome, 12);
    if (s.status == RunStatus::kRunning && run.wake) acts.emplace_back(Act::kWake, 6);
    if (gate && s.definition->steps[s.paused_step].kind == StepKind::kApproval) {
      acts.emplace_back(Act::kApprove, 6);
      acts.emplace_back(Act::kReject, 2);
    }
    if (gate && s.definition->steps[s.paused_step].kind == StepKind::kSignal) {
      acts.emplace_back(Act::kSignal, 8);
    } else if (!Terminal(s)) {
      acts.emplace_back(Act::kSignal, 1);
    }
    if (s.status == RunStatus::kRunning) acts.emplace_back(Act::kPause, 1);
    if (!Terminal(s)) acts.emplace_back(Act::kCancel, 1);
    // The engine refuses to resume while an attempt is still in flight.
    if (s.Stopped() && !in_flight) {
      const bool rerun = s.status == RunStatus::kCompleted;  // allowed, and rarer
      acts.emplace_back(Act::kResume, gate || rerun ? 1 : s.status == RunStatus::kPaused ? 3 : 2);
    }
    if (runs_.size() < options_.max_runs) acts.emplace_back(Act::kFork, 1);
    if (in_flight) acts.emplace_back(Act::kAbandon, 1);
    if (Terminal(s)) acts.emplace_back(Act::kNothing, s.status == RunStatus::kCompleted ? 3 : 1);
    return acts;
  }

  Event EngineEvent(EventBody body) const {
    return Event{now_, std::nullopt, kSchemaVersion, std::move(body)};
  }
  Event UserEvent(Draw& draw, const RunState& s, EventBody body) const {
    return UserEvent(draw, s.definition->tenant, std::move(body));
  }
  Event UserEvent(Draw& draw, const std::string& tenant, EventBody body) const {
    return Event{now_, Actor{ActorKind::kUser, std::string(draw.Pick(kSubjects)), tenant}, kSchemaVersion,
                 std::move(body)};
  }

  // Time-ordered like RunId::New (48 bits of milliseconds first), unique in the
  // history by its ordinal, the rest drawn.
  RunId NewRunId(Draw& draw) const {
    RunId::Bytes b{};
    const auto ms = static_cast<std::uint64_t>(now_ / 1000);
    for (std::size_t i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
    const std::size_t ordinal = runs_.size();
    b[6] = static_cast<std::uint8_t>(ordinal >> 8);
    b[7] = static_cast<std::uint8_t>(ordinal);
    const std::uint64_t rest = draw.Next();
    for (std::size_t i = 0; i < 8; ++i) b[8 + i] = static_cast<std::uint8_t>(rest >> (56 - 8 * i));
    return RunId(b);
  }

  static std::string Hex(std::uint64_t a, std::uint64_t b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(32, '0');
    for (std::size_t i = 0; i < 16; ++i) {
      out[i] = kDigits[(a >> (60 - 4 * i)) & 0xF];
      out[16 + i] = kDigits[(b >> (60 - 4 * i)) & 0xF];
    }
    return out;
  }

  // Fails the property: a refused event is a bug in the decider or here.
  [[noreturn]] void Refused(const Run& run, const std::string& why, const std::vector<Event>& pending = {}) {
    std::string message = "random history: run " + run.state.run.ToString() + ": " + why + "\nevents so far:";
    for (std::size_t a : run.appends) {
      for (const Event& e : appends_[a].events) message += "\n  " + DescribeEvent(e);
    }
    message += "\nin the append being written:";
    for (const Event& e : pending) message += "\n  " + DescribeEvent(e);
    RC_FAIL(message);
    std::abort();  // RC_FAIL throws; this only tells the compiler
  }

  // One durable write of run `r`: `events` (outcomes or an operator's), then
  // Plan's events for the state after them, as LiveRun::Drive batches them.
  // Folds each event; appends nothing when there is nothing to write.
  void Commit(std::size_t r, std::vector<Event> events) {
    Run& run = runs_[r];
    HistoryAppend append{run.state.run, run.state.seq, std::move(events)};
    for (const Event& e : append.events) {
      if (Status s = Evolve(run.state, e); !s.ok()) {
        Refused(run, "refused " + DescribeEvent(e) + ": " + s.ToString(), append.events);
      }
    }
    Result<Decision> plan = Plan(run.state, now_, knobs_.max_parallel);
    if (!plan.has_value()) Refused(run, "Plan failed: " + plan.error().ToString(), append.events);
    for (EventBody& body : plan->events) append.events.push_back(EngineEvent(std::move(body)));
    run.wake = plan->wake_unix_us;
    if (append.events.empty()) return;
    run.appends.push_back(appends_.size());
    appends_.push_back(std::move(append));
  }

  const RunStarted& DefinitionOf(const std::string& workflow, std::uint32_t version, Draw& draw) {
    auto [it, added] = definitions_.try_emplace({workflow, version});
    if (!added) return it->second;
    RunStarted& def = it->second;
    def.workflow = workflow;
    def.version = version;
    const auto n = static_cast<std::uint32_t>(1 + draw.Below(std::max<std::size_t>(options_.max_steps, 1)));
    const std::size_t offset = static_cast<std::size_t>(draw.Below(kStepNames.size()));
    for (std::uint32_t i = 0; i < n; ++i) {
      StepDef step;
      step.id = std::string(kStepNames[(offset + i) % kStepNames.size()]);
      if (i >= kStepNames.size()) step.id += "_" + std::to_string(i);
      const std::uint64_t kind = draw.Below(10);
      step.kind = kind < 7   ? StepKind::kCode
                  : kind < 8 ? StepKind::kApproval
                  : kind < 9 ? StepKind::kSignal
                             : StepKind::kSleep;
      for (std::uint32_t d = 0; d < i; ++d) {
        if (draw.Percent(30)) step.depends_on.push_back(d);
      }
      if (i > 0 && step.depends_on.empty() && draw.Percent(70)) step.depends_on.push_back(i - 1);
      switch (step.kind) {
        case StepKind::kCode:
          step.retry = RetryPolicy{1 + draw.Below32(3), draw.Pick(std::array<std::uint32_t, 4>{0, 5, 20, 50}),
                                   draw.Pick(std::array<double, 3>{1.0, 1.5, 2.0}),
                                   draw.Pick(std::array<std::uint32_t, 2>{0, 100}),
                                   draw.Pick(std::array<double, 3>{0.0, 0.1, 0.5})};
          step.timeout_ms = draw.Pick(std::array<std::uint32_t, 4>{0, 0, 0, 5'000});
          if (draw.Percent(20)) {
            step.handler = "shell";
            step.config = ToBytes("./" + step.id + ".sh");
          }
          break;
        case StepKind::kSignal: step.handler = std::string(draw.Pick(kSignalNames)); break;
        case StepKind::kSleep: step.sleep_ms = draw.Pick(std::array<std::uint64_t, 4>{0, 10, 50, 200}); break;
        case StepKind::kApproval: break;
      }
      def.steps.push_back(std::move(step));
    }
    if (Status s = ValidateDefinition(def); !s.ok()) {
      RC_FAIL("random history: bad definition: " + s.ToString());
    }
    return def;
  }

  void Start(Draw& draw) {
    const std::string workflow = draw.Pick(options_.workflows);
    const auto version = 1 + draw.Below32(2);
    RunStarted started = DefinitionOf(workflow, version, draw);
    started.tenant = draw.Pick(options_.tenants);
    started.input = ToBytes("{\"order\":" + std::to_string(draw.Below(10'000)) + "}");
    if (draw.Percent(30)) started.idempotency_key = "key-" + std::to_string(draw.Below(1'000));
    const std::string tenant = started.tenant;  // the body is moved before the call
    Event first = UserEvent(draw, tenant, std::move(started));
    Run run;
    run.state.run = NewRunId(draw);
    runs_.push_back(std::move(run));
    Commit(runs_.size() - 1, {std::move(first)});
  }

  // One or, as outcomes queue behind an append, all of the attempts in flight
  // report, each at its own time.
  void Outcome(std::size_t r, Draw& draw) {
    const RunState& s = runs_[r].state;
    const std::vector<std::uint32_t> running = RunningSteps(s);
    std::vector<std::uint32_t> chosen{draw.Pick(running)};
    if (running.size() > 1 && draw.Percent(25)) {
      for (std::uint32_t step : running) {
        if (step != chosen.front()) chosen.push_back(step);
      }
    }
    std::vector<Event> events;
    for (std::uint32_t step : chosen) {
      if (events.size() > 0) now_ += static_cast<std::int64_t>(draw.Below(500));
      const StepDef& def = s.definition->steps[step];
      const StepState& st = s.steps[step];
      if (!draw.Percent(knobs_.fail_percent)) {
        events.push_back(EngineEvent(StepCompleted{
            step, st.attempts, ToBytes("{\"" + def.id + "\":" + std::to_string(draw.Below(1'000)) + "}"),
            st.epoch}));
      } else if (def.timeout_ms > 0 && draw.Percent(30)) {
        events.push_back(EngineEvent(StepFailed{step, st.attempts, std::string(CodeName(Code::kUnavailable)),
                                                "timed out after " + std::to_string(def.timeout_ms) + " ms",
                                                true, st.epoch}));
      } else {
        const FailureSpec& f = draw.Pick(kFailures);
        events.push_back(EngineEvent(StepFailed{step, st.attempts, std::string(CodeName(f.code)),
                                                std::string(f.message), !IsPermanent(f.code), st.epoch}));
      }
    }
    Commit(r, std::move(events));
  }

  // The run's wake-up timer fires at its time (the clock jumps there if needed).
  void Wake(std::size_t r, Draw& draw) {
    const std::int64_t due = *runs_[r].wake;
    if (due > now_) now_ = due + static_cast<std::int64_t>(draw.Below(2'000));
    Commit(r, {});
  }

  void Approve(std::size_t r, Draw& draw, bool approved) {
    const RunState& s = runs_[r].state;
    Bytes data = approved ? ToBytes(draw.Pick(std::array<std::string_view, 3>{"", "lgtm", "{\"limit\":500}"}))
                          : ToBytes(draw.Pick(std::array<std::string_view, 2>{"", "too risky"}));
    Commit(r, {UserEvent(draw, s, ApprovalDecided{s.paused_step, approved, std::move(data)})});
  }

  // The signal a paused run waits for, mostly; else one of the definition's
  // (arriving early, or for a step that is done) or an unknown name.
  void Signal(std::size_t r, Draw& draw) {
    const RunState& s = runs_[r].state;
    const RunStarted& def = *s.definition;
    std::string name;
    if (s.status == RunStatus::kPaused && s.paused_step != kNoStep &&
        def.steps[s.paused_step].kind == StepKind::kSignal && draw.Percent(85)) {
      name = def.steps[s.paused_step].handler;
    } else {
      std::vector<std::string> names{"unrelated"};
      for (const StepDef& step : def.steps) {
        if (step.kind == StepKind::kSignal) names.push_back(step.handler);
      }
      name = draw.Pick(names);
    }
    Bytes payload = ToBytes("{\"ref\":" + std::to_string(draw.Below(1'000)) + "}");
    Commit(r, {UserEvent(draw, s, SignalReceived{std::move(name), std::move(payload)})});
  }

  void Pause(std::size_t r, Draw& draw) {
    const RunState& s = runs_[r].state;
    Commit(r,
           {UserEvent(draw, s, RunPaused{kNoStep, PauseReason::kManual, std::string(draw.Pick(kReasons))})});
  }

  // As Engine::Cancel: the operator's request, then the engine's RunCancelled.
  void Cancel(std::size_t r, Draw& draw) {
    const RunState& s = runs_[r].state;
    const std::string reason(draw.Pick(kReasons));
    Commit(r, {UserEvent(draw, s, CancelRequested{reason}), EngineEvent(RunCancelled{reason})});
  }

  void Resume(std::size_t r, Draw& draw) {
    const RunState& s = runs_[r].state;
    const std::uint32_t from = draw.Pick(RestartableSteps(s));
    const std::uint64_t a = draw.Next(), b = draw.Next();
    Bytes data = draw.Percent(50) ? Bytes() : ToBytes("{\"fix\":" + std::to_string(draw.Below(100)) + "}");
    Commit(r,
           {UserEvent(draw, s,
                      ResumeRequested{from, std::string(draw.Pick(kReasons)), Hex(a, b), std::move(data)})});
  }

  // As Engine::Fork: the parent's state at a past seq, from a step whose
  // dependencies had completed; the steps outside the reset set keep their outputs.
  void Fork(std::size_t r, Draw& draw) {
    const Run& parent = runs_[r];
    const std::uint64_t at_seq = 1 + draw.Below(parent.state.seq);
    RunState at;
    at.run = parent.state.run;
    for (std::size_t a : parent.appends) {
      for (const Event& e : appends_[a].events) {
        if (at.seq == at_seq) break;
        if (Status s = Evolve(at, e); !s.ok()) Refused(parent, "its prefix does not fold: " + s.ToString());
      }
      if (at.seq == at_seq) break;
    }
    const std::uint32_t from = draw.Pick(RestartableSteps(at));
    const std::vector<std::uint32_t> reset = ResetSet(at, from);
    RunForked fork{at.run, at.seq, from, *at.definition, {}};
    for (std::uint32_t i = 0; i < at.steps.size(); ++i) {
      if (!std::binary_search(reset.begin(), reset.end(), i))
        fork.kept.push_back(StepOutput{i, at.steps[i].output});
    }
    const std::string tenant = at.definition->tenant;
    Event first = UserEvent(draw, tenant, std::move(fork));
    Run run;
    run.state.run = NewRunId(draw);
    runs_.push_back(std::move(run));  // invalidates `parent`
    Commit(runs_.size() - 1, {std::move(first)});
  }

  // Recovery after a restart (LiveRun::ResolveAndRecover): every attempt in
  // flight is abandoned, then Plan retries what its policy allows.
  void Abandon(std::size_t r) {
    const RunState& s = runs_[r].state;
    std::vector<Event> events;
    for (std::uint32_t step : RunningSteps(s)) {
      events.push_back(EngineEvent(StepAbandoned{step, s.steps[step].attempts, s.steps[step].epoch}));
    }
    Commit(r, std::move(events));
  }

  HistoryOptions options_;
  Knobs knobs_;
  std::int64_t now_ = kT0;
  std::vector<Run> runs_;
  std::vector<HistoryAppend> appends_;
  std::map<std::pair<std::string, std::uint32_t>, RunStarted> definitions_;  // by (workflow, version)
};

std::vector<HistoryAppend> Simulate(const HistoryOptions& options, const Knobs& knobs,
                                    const std::vector<Move>& moves) {
  Simulation sim(options, knobs);
  for (const Move& move : moves) {
    if (sim.Full()) break;
    sim.Play(move);
  }
  return sim.Take();
}

rc::Gen<Move> GenMove() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::inRange<std::uint32_t>(0, kPicks), rc::gen::inRange<std::uint32_t>(0, kPicks),
                     rc::gen::arbitrary<std::uint64_t>()),
      [](const std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>& t) {
        return Move{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
      });
}

rc::Gen<Knobs> GenKnobs() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::weightedElement<std::uint32_t>({{4, 0}, {1, 1}, {1, 2}}),
                     rc::gen::element(20u, 5u, 35u, 50u), rc::gen::arbitrary<std::uint64_t>()),
      [](const std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>& t) {
        return Knobs{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
      });
}

}  // namespace

rc::Gen<std::vector<HistoryAppend>> GenHistory(HistoryOptions options) {
  // Picks and seeds are drawn at the nominal size whatever the size is: a
  // small size makes a short history, not one of always the first choices.
  const rc::Gen<Knobs> knobs = rc::gen::resize(rc::kNominalSize, GenKnobs());
  const rc::Gen<Move> move = rc::gen::resize(rc::kNominalSize, GenMove());
  return rc::gen::withSize([options, knobs, move](int size) {
    // Most moves append (some leave a finished run alone): up to 1.5 max_appends
    // moves at kNominalSize and above, so a good share of those histories is full.
    const std::size_t scaled =
        3 * options.max_appends * static_cast<std::size_t>(std::clamp(size, 0, rc::kNominalSize));
    const auto most = static_cast<int>(scaled / (2 * rc::kNominalSize));
    return rc::gen::map(
        rc::gen::pair(knobs, rc::gen::resize(most, rc::gen::container<std::vector<Move>>(move))),
        [options](const std::pair<Knobs, std::vector<Move>>& p) {
          return Simulate(options, p.first, p.second);
        });
  });
}

}  // namespace rwd::test
