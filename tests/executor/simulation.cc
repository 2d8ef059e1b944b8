#include "tests/executor/simulation.h"

#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include "rewind/executor/engine.h"
#include "rewind/journal/hash.h"
#include "rewind/schemas/describe.h"
#include "tests/executor/engine_crash_workflow.h"
#include "tests/executor/execution_audit.h"
#include "tests/support/projection_dump.h"
#include "rewind/projections/history.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kStartUs = 1'767'225'600'000'000;  // 2026-01-01
// Virtual time stands still between appends and moves on by this much with
// each durable one. Every backoff and sleep of the workflows is shorter, so
// what was due when an append was acknowledged is due at the next decision:
// no run ever waits on a timer, and however often the engine reads the clock
// (its timers fire in real time), it reads the same value.
constexpr std::int64_t kTickUs = 10'000;
constexpr std::string_view kGate = "ok";
constexpr int kMostResumes = 3;  // the operator's patience with one run
constexpr auto kAwait = 60s;     // a run that takes longer is stuck

std::uint64_t Mix(std::uint64_t seed, std::string_view a, std::string_view b, std::uint32_t x, std::uint32_t y) {
  std::string key;
  key.append(a).push_back('\0');
  key.append(b).push_back('\0');
  key.append(reinterpret_cast<const char*>(&x), sizeof x).append(reinterpret_cast<const char*>(&y), sizeof y);
  return XXH3_64bits_withSeed(key.data(), key.size(), seed);
}

// A crash once the n-th append (counted over the whole simulation) is durable
// and acknowledged: at the next commit, before it (its events are lost) or
// after it (they are durable, but no one learns of it).
struct PlannedCrash {
  std::uint64_t append = 0;
  bool before = true;
};

class World {
 public:
  World(std::uint64_t seed, std::string directory)
      : seed_(seed | 1), rng_(seed), directory_(std::move(directory)) {  // an odd seed_: no id is zero
    const int crashes = static_cast<int>(rng_() % 4);
    std::set<std::uint64_t> at;
    while (static_cast<int>(at.size()) < crashes) at.insert(1 + rng_() % 80);
    for (std::uint64_t append : at) plan_.push_back(PlannedCrash{append, rng_() % 2 == 0});
  }

  SimulationResult Run() {
    Reopen();
    const int runs = 2 + static_cast<int>(rng_() % 5);
    for (int i = 0; i < runs && problems_.empty(); ++i) {
      const bool gated = rng_() % 3 == 0;
      const std::optional<RunId> run = StartOne(gated ? "gated" : "dag", "input-" + std::to_string(i));
      if (!run) break;
      ++result_.runs;
      const RunStatus end = DriveToRest(*run);
      if (end == RunStatus::kCompleted && rng_() % 4 == 0) ForkOne(*run, gated ? 4 : 5);
    }
    if (problems_.empty()) Check();
    engine_.reset();
    result_.problems = std::move(problems_);
    return std::move(result_);
  }

 private:
  // ---- the engine's world
  EngineOptions Options() {
    EngineOptions o;
    o.journal.directory = directory_;
    o.journal.durability = Durability::kNoSync;
    o.journal.fault_hook = [this](FaultPoint p) { return Fault(p); };
    o.workflows.push_back(Dag());
    o.workflows.push_back(Gated());
    o.handler_threads = 1;
    o.max_parallel_steps = 1;
    o.clock = [this] { return now_.load(); };
    o.observer = [this](const RunState& run, const std::vector<Event>& events) { Appended(run, events); };
    o.new_id = [this] { return NextId(); };
    return o;
  }

  // The n-th id the engine asked for (from 1): the seed, then n.
  RunId IdOf(std::uint64_t n) const {
    RunId::Bytes bytes{};
    std::memcpy(bytes.data(), &seed_, 8);
    std::memcpy(bytes.data() + 8, &n, 8);
    return RunId(bytes);
  }
  RunId NextId() { return IdOf(next_id_.fetch_add(1)); }

  StepBuilder AddStep(Workflow& w, const char* id) {
    return w.Step(id, [this](const StepContext& c) { return Handle(c); })
        .Retry(RetryPolicy{3, 1, 2.0, 4, 0.5});
  }

  // a -> {b, c} -> d -> e
  Workflow Dag() {
    Workflow w("dag");
    AddStep(w, "a");
    AddStep(w, "b").After({"a"});
    AddStep(w, "c").After({"a"});
    AddStep(w, "d").After({"b", "c"});
    AddStep(w, "e");
    return w;
  }

  // a -> a 2 ms sleep -> approval gate -> z
  Workflow Gated() {
    Workflow w("gated");
    AddStep(w, "a");
    w.Sleep("nap", 2ms);
    w.Approval(std::string(kGate));
    AddStep(w, "z");
    return w;
  }

  // Outcomes: a pure function of the seed and the attempt. Permanent failures
  // only in a run's first epoch, so an operator's resume can succeed.
  Result<Bytes> Handle(const StepContext& c) {
    const std::string run = c.run.ToString();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++exec_[Exec{run, c.step->id, c.epoch, c.attempt}];
    }
    const std::uint64_t h = Mix(seed_, run, c.step->id, c.epoch, c.attempt);
    if (c.epoch == 0 && h % 100 < 4) return Err(Code::kInvalidArgument, "planned permanent failure");
    if ((h >> 8) % 100 < 25) return Err(Code::kUnavailable, "planned transient failure");
    std::string out = c.step->id + "(";
    for (const auto& [dep, output] : *c.dependencies) out += dep + "=" + std::string(AsChars(output)) + ";";
    return ToBytes(out + ")");
  }

  // Called with each durable append, on its run's strand: time moves on, and
  // a crash planned after this append is armed for the next commit. Counting
  // appends, not commits, keeps crashes where the seed put them: commits of
  // the projections' own updates come when their thread gets to them.
  void Appended(const RunState& run, const std::vector<Event>& events) {
    now_.fetch_add(kTickUs);
    std::lock_guard<std::mutex> lock(mu_);
    ++appends_;
    std::string line = "append " + std::to_string(appends_) + " " + run.run.ToString() + ":";
    for (const Event& e : events) line += " " + std::string(EventTypeName(e.body));
    result_.appends.push_back(line);
    if (!plan_.empty() && plan_.front().append == appends_) armed_ = plan_.front();
  }

  Status Fault(FaultPoint point) {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_) return Status(Code::kUnavailable, "simulated crash: the process is gone");
    if (!armed_ || (point != FaultPoint::kBeforeCommit && point != FaultPoint::kAfterCommit)) return Status::Ok();
    if ((point == FaultPoint::kBeforeCommit) != armed_->before) return Status::Ok();
    armed_.reset();
    plan_.pop_front();
    down_ = true;
    result_.appends.push_back(std::string("crash ") + (point == FaultPoint::kBeforeCommit ? "before" : "after"));
    return Status(Code::kUnavailable, "simulated crash after append " + std::to_string(appends_));
  }

  bool Down() {
    std::lock_guard<std::mutex> lock(mu_);
    return down_;
  }

  // The process died (or it is the first open): a new engine on the journal.
  void Reopen() {
    if (engine_) ++result_.crashes;
    engine_.reset();
    // A restart takes time too: what a lost acknowledgement left waiting is due.
    now_.fetch_add(kTickUs);
    {
      std::lock_guard<std::mutex> lock(mu_);
      down_ = false;
    }
    auto e = Engine::Open(Options());
    if (!e.has_value()) {
      // Opening recovers, which appends: a planned crash can strike there too.
      if (Down()) return Reopen();
      problems_.push_back("open: " + e.error().ToString());
      return;
    }
    engine_ = std::move(*e);
  }

  // Handles a failed call: a crash means reopen (and true); anything else is a problem.
  bool Recovered(const Status& failure, const std::string& what) {
    if (Down()) {
      Reopen();
      return engine_ != nullptr;
    }
    problems_.push_back(what + ": " + failure.ToString());
    return false;
  }

  std::optional<RunId> StartOne(const std::string& workflow, const std::string& input) {
    for (int tries = 0; tries < 10 && engine_; ++tries) {
      auto run = engine_->Start(StartRequest{workflow, ToBytes(input), "", CrashOperator()});
      if (run.has_value()) return *run;
      // The id this start took: its RunStarted may be durable though the call failed.
      const RunId tried = IdOf(next_id_.load() - 1);
      if (!Recovered(run.error(), "start")) return std::nullopt;
      if (engine_->State(tried, CrashOperator()).has_value()) return tried;
    }
    problems_.push_back("start: gave up after 10 crashes");
    return std::nullopt;
  }

  void ForkOne(const RunId& parent, std::size_t steps) {
    ForkRequest fork{parent, std::to_string(1 + rng_() % steps), std::nullopt, CrashOperator()};
    for (int tries = 0; tries < 10 && engine_; ++tries) {
      const std::uint64_t id = next_id_.load();
      auto child = engine_->Fork(fork);
      if (child.has_value()) {
        ++result_.forks;
        DriveToRest(*child);
        return;
      }
      if (!Recovered(child.error(), "fork")) return;
      // A fork whose first event is durable though the call failed.
      if (next_id_.load() > id && engine_->State(IdOf(id), CrashOperator()).has_value()) {
        ++result_.forks;
        DriveToRest(IdOf(id));
        return;
      }
    }
  }

  // Drives `run` until it completes or fails for good, acting as the operator.
  RunStatus DriveToRest(const RunId& run) {
    int resumes = 0;
    bool rejected = false;
    for (int guard = 0; guard < 100 && engine_ && problems_.empty(); ++guard) {
      auto state = engine_->Await(run, CrashOperator(), kAwait);
      if (Down()) {
        Reopen();
        continue;
      }
      if (!state.has_value()) {
        problems_.push_back("await " + run.ToString() + ": " + state.error().ToString());
        break;
      }
      Status acted = Status::Ok();
      if (state->status == RunStatus::kCompleted) {
        expected_[run] = RunStatus::kCompleted;
        return RunStatus::kCompleted;
      } else if (state->status == RunStatus::kFailed) {
        if (rejected || resumes == kMostResumes) {
          expected_[run] = RunStatus::kFailed;
          return RunStatus::kFailed;
        }
        ++resumes;
        ++result_.resumes;
        auto r = engine_->Resume(ResumeFailed(*state));
        if (!r.has_value()) acted = r.error();
      } else if (state->status == RunStatus::kPaused) {
        rejected = rng_() % 7 == 0;
        if (rejected) {
          ++result_.rejections;
          acted = engine_->Reject(run, kGate, CrashOperator(), ToBytes("no"));
        } else {
          ++result_.approvals;
          acted = engine_->Approve(run, kGate, CrashOperator(), ToBytes("yes"));
        }
      } else {
        problems_.push_back("run " + run.ToString() + " is " + std::string(RunStatusName(state->status)) +
                            " after Await");
        break;
      }
      if (!acted.ok() && !Recovered(acted, "acting on " + run.ToString())) break;
    }
    if (problems_.empty()) problems_.push_back("run " + run.ToString() + " never came to rest");
    return RunStatus::kFailed;
  }

  // ---- the checks
  void Check() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      plan_.clear();  // crashes planned past the script's last append do not happen
      armed_.reset();
    }
    Journal& journal = engine_->journal();
    if (auto verified = journal.VerifyAll(); !verified.has_value()) {
      problems_.push_back("verify: " + verified.error().ToString());
    }
    Bytes all;
    const Status read = journal.ReadAll(1, Journal::kEnd, [&](const EventRecord& r) {
      all.insert(all.end(), reinterpret_cast<const std::uint8_t*>(&r.position),
                 reinterpret_cast<const std::uint8_t*>(&r.position) + sizeof r.position);
      if (r.index == 0) all.insert(all.end(), r.record().begin(), r.record().end());
      ++result_.events;
      auto event = DecodeRecord(r);
      result_.listing.push_back(std::to_string(r.position) + " " + r.run.ToString() + " " + std::to_string(r.seq) +
                                " " + (event.has_value() ? DescribeEvent(*event) : event.error().ToString()));
      return Status::Ok();
    });
    if (!read.ok()) problems_.push_back("read: " + read.ToString());
    const Hash digest = Sha256(all);
    char hex[3];
    for (std::uint8_t b : digest) {
      std::snprintf(hex, sizeof hex, "%02x", b);
      result_.journal_digest += hex;
    }
    std::vector<RunId> runs;
    (void)journal.ForEachRun([&](const RunId& run, std::uint64_t) {
      runs.push_back(run);
      return Status::Ok();
    });
    if (runs.size() != expected_.size()) {
      problems_.push_back(std::to_string(runs.size()) + " runs in the journal, the script drove " +
                          std::to_string(expected_.size()));
    }
    for (const RunId& run : runs) CheckRun(run);
    if (Projections* p = engine_->projections()) {
      if (Status s = p->CatchUp(); !s.ok()) problems_.push_back("catch up: " + s.ToString());
      const ProjectionTables maintained = DumpProjections(journal);
      if (Status s = p->Rebuild({}); !s.ok()) problems_.push_back("rebuild: " + s.ToString());
      if (!(maintained == DumpProjections(journal))) problems_.push_back("the projections differ from a rebuild");
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [exec, n] : exec_) result_.executions += static_cast<std::uint64_t>(n);
  }

  void CheckRun(const RunId& run) {
    auto events = engine_->Events(run, CrashOperator());
    auto state = engine_->State(run, CrashOperator());
    if (!events.has_value() || !state.has_value()) {
      problems_.push_back("run " + run.ToString() + " cannot be read");
      return;
    }
    std::vector<std::string> found;
    auto fold = Fold(run, *events);
    if (!fold.has_value() || !(*fold == *state)) found.push_back("the engine's state is not the fold of its events");
    const auto expected = expected_.find(run);
    if (expected == expected_.end()) {
      found.push_back("is in the journal but the script never saw it");
    } else if (state->status != expected->second) {
      found.push_back("is " + std::string(RunStatusName(state->status)) + ", the script left it " +
                      std::string(RunStatusName(expected->second)));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (std::string& p : AuditExecutions(*state, *events, exec_)) found.push_back(std::move(p));
    }
    if (found.empty()) return;
    std::string message = "run " + run.ToString() + ":";
    for (const auto& p : found) message += "\n  " + p;
    problems_.push_back(message + "\nevents:\n" + History(*events));
  }

  const std::uint64_t seed_;
  std::mt19937_64 rng_;  // the script; drawn only on the simulation's thread
  const std::string directory_;
  std::atomic<std::int64_t> now_{kStartUs};
  std::atomic<std::uint64_t> next_id_{1};
  std::unique_ptr<Engine> engine_;
  std::map<RunId, RunStatus> expected_;  // how the script left each run
  std::vector<std::string> problems_;
  SimulationResult result_;

  std::mutex mu_;
  std::deque<PlannedCrash> plan_;  // guarded by mu_, as the rest
  std::optional<PlannedCrash> armed_;  // strikes at the next commit
  std::uint64_t appends_ = 0;
  bool down_ = false;  // a planned crash struck: the process is gone until Reopen
  ExecCounts exec_;
};

}  // namespace

SimulationResult Simulate(std::uint64_t seed, const std::string& directory) {
  return World(seed, directory).Run();
}

}  // namespace rwd::test
