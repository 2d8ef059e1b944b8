// Properties of the engine over random DAG workflows, run for real on a
// journal with a seeded fault schedule, and driven by a random operator:
// approvals and rejections, signals, pauses, resumes from random valid steps,
// re-runs of completed runs, and forks.
//
//   (1) folding the recorded journal twice, and after an encode/decode round
//       trip, gives identical state, equal to the engine's own;
//   (2) folding a prefix and then the rest equals folding everything;
//   (3) StateAt(k) equals folding the first k events, for every k;
//   (4) the journal before a resume is a byte-identical prefix of it after;
//   (5) a resume restarts the attempt counter of every reset step, keeps
//       total attempts, and leaves every other step as it was;
//   (6) handlers run exactly for the attempts the journal started, once each,
//       so completed steps outside a reset set never run again;
//   (7) the same scenario run twice with one step at a time
//       (max_parallel_steps = 1) records the same events apart from times and
//       ids. (With parallel branches, which dependents start before a failure
//       is recorded depends on timing, so only sequential runs can promise it.)
//   (8) the projections the engine maintained with every append equal a
//       rebuild from the journal, byte for byte;
//   (9) every history recorded (the run's and its forks') replays through its
//       own definition without a divergence (journal-inspect replay-check).
//
// Properties (1)-(6) and (8) are checked on a run with full parallelism and an operator
// that also pauses the run at racy moments.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <mutex>
#include <tuple>
#include <xxhash.h>

#include "rewind/executor/engine.h"
#include "rewind/inspect/replay_check.h"
#include "rewind/schemas/describe.h"
#include "tests/projections/projections_fixture.h"
#include "tests/support/temp_dir.h"
#include "rewind/projections/history.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;

struct StepSpec {
  StepKind kind = StepKind::kCode;
  std::vector<std::uint32_t> deps;  // indices of earlier steps
  std::uint32_t max_attempts = 1;
};

struct Scenario {
  std::vector<StepSpec> steps;
  std::uint64_t fault_seed = 0;
  int fail_percent = 0;
  std::vector<int> choices;  // consumed in order by the operator
};

rc::Gen<Scenario> GenScenario() {
  return rc::gen::exec([] {
    Scenario s;
    const auto n = *rc::gen::inRange(1, 7);
    for (int i = 0; i < n; ++i) {
      StepSpec step;
      step.kind = *rc::gen::weightedElement<StepKind>(
          {{6, StepKind::kCode}, {1, StepKind::kApproval}, {1, StepKind::kSignal}, {1, StepKind::kSleep}});
      for (int d = 0; d < i; ++d) {
        if (*rc::gen::inRange(0, 3) == 0) step.deps.push_back(static_cast<std::uint32_t>(d));
      }
      step.max_attempts = *rc::gen::inRange(1u, 4u);
      s.steps.push_back(std::move(step));
    }
    s.fault_seed = *rc::gen::arbitrary<std::uint64_t>();
    s.fail_percent = *rc::gen::element(0, 20, 40, 60);
    s.choices = *rc::gen::container<std::vector<int>>(24, rc::gen::inRange(0, 1000));
    return s;
  });
}

bool IsLinear(const Scenario& s) {  // for the statistics rapidcheck prints
  for (std::size_t i = 1; i < s.steps.size(); ++i) {
    if (s.steps[i].deps != std::vector<std::uint32_t>{static_cast<std::uint32_t>(i - 1)}) return false;
  }
  return s.steps.empty() || s.steps[0].deps.empty();
}

// Which attempts of which steps the handlers ran.
class Executions {
 public:
  void Add(std::uint32_t step, std::uint32_t epoch, std::uint32_t attempt) {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_[{step, epoch, attempt}];
  }
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, int> Snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, int> count_;
};

Workflow Build(const Scenario& s, std::shared_ptr<Executions> log) {
  Workflow w("random");
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const StepSpec& spec = s.steps[i];
    const std::string id = "s" + std::to_string(i);
    std::vector<std::string> after;
    for (std::uint32_t d : spec.deps) after.push_back("s" + std::to_string(d));
    StepBuilder b = [&]() -> StepBuilder {
      switch (spec.kind) {
        case StepKind::kApproval: return w.Approval(id);
        case StepKind::kSignal: return w.Signal(id, "sig" + std::to_string(i));
        case StepKind::kSleep: return w.Sleep(id, 0ms);
        case StepKind::kCode: break;
      }
      return w.Step(id, [log, seed = s.fault_seed, fail = s.fail_percent](const StepContext& c) -> Result<Bytes> {
        log->Add(c.index, c.epoch, c.attempt);
        const std::uint64_t key[4] = {seed, c.index, c.epoch, c.attempt};
        const std::uint64_t h = XXH3_64bits(key, sizeof(key));
        if (static_cast<int>(h % 100) < fail) {
          return Err((h >> 8) % 4 == 0 ? Code::kInvalidArgument : Code::kUnavailable, "injected");
        }
        return ToBytes("out-" + std::to_string(c.index) + "-" + std::to_string(c.epoch));
      });
    }();
    b.After(after).Retry(RetryPolicy{spec.max_attempts, 0, 2.0, 0, 0});
  }
  return w;
}

const Principal kOps{"default", "ops", {std::string(kOperatorRole)}};

struct Recorded {
  std::vector<Event> events;
  std::vector<Bytes> stored;  // exact stored bytes, record header included
};

Recorded Record(Engine& engine, const RunId& run) {
  Recorded r;
  RC_ASSERT(engine.journal().ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& rec) {
    auto e = DecodeRecord(rec);
    RC_ASSERT(e.has_value());
    r.events.push_back(std::move(*e));
    if (rec.index == 0) r.stored.emplace_back(rec.record().begin(), rec.record().end());  // each record once
    return Status::Ok();
  }).ok());
  return r;
}

// The run's events, one per line, for failure messages.
std::string Dump(Engine& engine, const RunId& run) {
  std::string out;
  RC_ASSERT(engine.journal().ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& rec) {
    out += std::to_string(rec.seq) + " " + DescribeEvent(*DecodeRecord(rec)) + "\n";
    return Status::Ok();
  }).ok());
  return out;
}

RunState FoldOrFail(const RunId& run, std::span<const Event> events) {
  auto s = Fold(run, events);
  if (!s.has_value()) RC_FAIL(s.error().ToString());
  return *s;
}

// Drives one run to its end, as a random operator would. Returns the forks made
// (at most one, and only when `may_fork`). With `chaos` it also pauses the run
// right after resuming it (racy on purpose).
std::vector<RunId> Operate(Engine& engine, const RunId& run, const Scenario& s, std::size_t& choice, bool chaos,
                           bool may_fork) {
  auto next = [&] { return s.choices[choice++ % s.choices.size()]; };
  std::vector<RunId> forks;
  int resumes = 0;
  for (int round = 0; round < 12; ++round) {
    auto stopped = engine.Await(run, kOps, 5s);
    if (!stopped.has_value()) RC_FAIL("run did not stop: " + stopped.error().ToString() + "\n" + Dump(engine, run));
    RC_ASSERT(stopped.has_value());
    const RunState& st = *stopped;
    const RunStarted& def = *st.definition;
    if (st.status == RunStatus::kPaused && st.paused_step != kNoStep) {
      const StepDef& gate = def.steps[st.paused_step];
      if (gate.kind == StepKind::kSignal) {
        RC_ASSERT(engine.Signal(run, gate.handler, ToBytes("sig"), kOps).ok());
      } else if (next() % 4 == 0) {
        RC_ASSERT(engine.Reject(run, gate.id, kOps).ok());
      } else {
        RC_ASSERT(engine.Approve(run, gate.id, kOps, ToBytes("yes")).ok());
      }
      continue;
    }
    if (st.status == RunStatus::kCancelled || resumes >= 4) break;
    if (st.status == RunStatus::kCompleted && next() % 3 != 0) break;
    if (may_fork && forks.empty() && next() % 5 == 0) {
      auto fork = engine.Fork(ForkRequest{run, def.steps[next() % def.steps.size()].id, std::nullopt, kOps});
      if (fork.has_value()) forks.push_back(*fork);
    }
    // Resume from a random step whose dependencies completed.
    std::vector<std::uint32_t> valid;
    for (std::uint32_t i = 0; i < st.steps.size(); ++i) {
      bool ok = true;
      for (std::uint32_t d : def.steps[i].depends_on) ok = ok && st.steps[d].status == StepStatus::kCompleted;
      if (ok) valid.push_back(i);
    }
    RC_ASSERT(!valid.empty());
    const Recorded before = Record(engine, run);
    ResumeRequest r;
    r.run = run;
    r.from_step = def.steps[valid[next() % valid.size()]].id;
    r.actor = kOps;
    r.request_id = "resume-" + std::to_string(++resumes);
    auto resumed = engine.Resume(r);
    RC_ASSERT(resumed.has_value());
    // (4) Nothing before the resume was changed.
    const Recorded after = Record(engine, run);
    RC_ASSERT(after.stored.size() > before.stored.size());
    for (std::size_t i = 0; i < before.stored.size(); ++i) RC_ASSERT(after.stored[i] == before.stored[i]);
    if (chaos && next() % 3 == 0) {
      const Status paused = engine.Pause(run, kOps, "operator pause");
      RC_ASSERT(paused.ok() || paused.code() == Code::kConflict);
    }
  }
  // The rounds may end right after a resume: what is checked next is a run
  // that has stopped, not one still appending.
  auto stopped = engine.Await(run, kOps, 5s);
  if (!stopped.has_value()) RC_FAIL("run did not stop: " + stopped.error().ToString() + "\n" + Dump(engine, run));
  return forks;
}

void CheckFolds(Engine& engine, const RunId& run) {
  const Recorded rec = Record(engine, run);
  const std::span<const Event> all(rec.events);
  // (1)
  const RunState once = FoldOrFail(run, all);
  RC_ASSERT(FoldOrFail(run, all) == once);
  // Encoded again and decoded with the definition the journal stores: the same.
  const Bytes definition = EncodeDefinition(*once.definition);
  const DefinitionFinder stored = [&](ByteView) -> Result<std::optional<ByteView>> {
    return std::optional<ByteView>(definition);
  };
  std::vector<Event> round_tripped;
  for (const Event& e : rec.events) round_tripped.push_back(*Decode(Encode(e), &stored));
  RC_ASSERT(FoldOrFail(run, round_tripped) == once);
  auto live = engine.State(run, kOps);
  RC_ASSERT(live.has_value());
  RC_ASSERT(*live == once);
  for (std::size_t k = 0; k <= rec.events.size(); ++k) {
    // (2)
    RunState split = FoldOrFail(run, all.first(k));
    for (std::size_t i = k; i < rec.events.size(); ++i) RC_ASSERT(Evolve(split, rec.events[i]).ok());
    RC_ASSERT(split == once);
    // (3)
    if (k > 0) {
      auto at = engine.StateAt(run, k, kOps);
      RC_ASSERT(at.has_value());
      RC_ASSERT(*at == FoldOrFail(run, all.first(k)));
    }
  }
  // (5)
  for (std::size_t k = 1; k <= rec.events.size(); ++k) {
    const auto* resume = std::get_if<ResumeRequested>(&rec.events[k - 1].body);
    if (resume == nullptr) continue;
    const RunState before = FoldOrFail(run, all.first(k - 1));
    const RunState after = FoldOrFail(run, all.first(k));
    const auto reset = ResetSet(before, resume->from_step);
    for (std::uint32_t i = 0; i < before.steps.size(); ++i) {
      const bool is_reset = std::find(reset.begin(), reset.end(), i) != reset.end();
      if (is_reset) {
        RC_ASSERT(after.steps[i].attempts == 0u);
        RC_ASSERT(after.steps[i].total_attempts == before.steps[i].total_attempts);
        RC_ASSERT(after.steps[i].epoch == after.epoch);
      } else {
        RC_ASSERT(after.steps[i] == before.steps[i]);
      }
    }
  }
}

// Events as comparable bytes, without times and ids.
std::vector<std::string> Comparable(std::vector<Event> events) {
  std::vector<std::string> out;
  for (Event& e : events) {
    e.unix_us = 0;
    if (auto* f = std::get_if<RunForked>(&e.body)) f->parent_run = RunId();
    if (auto* t = std::get_if<RetryScheduled>(&e.body)) t->due_unix_us = 0;
    if (auto* t = std::get_if<TimerScheduled>(&e.body)) t->due_unix_us = 0;
    const Bytes bytes = Encode(e);
    out.emplace_back(bytes.begin(), bytes.end());
  }
  return out;
}

// Runs the scenario on a fresh journal; `check` verifies (1)-(6) on it.
std::vector<Event> RunScenario(const Scenario& s, bool check) {
  TempDir dir;
  auto log = std::make_shared<Executions>();
  EngineOptions o;
  o.journal.directory = dir.Sub("journal");
  o.journal.durability = Durability::kNoSync;
  o.workflows.push_back(Build(s, log));
  o.max_parallel_steps = check ? 0 : 1;
  auto engine = Engine::Open(std::move(o));
  RC_ASSERT(engine.has_value());
  auto run = (*engine)->Start(StartRequest{"random", ToBytes("in"), "", kOps});
  RC_ASSERT(run.has_value());
  std::size_t choice = 0;
  const std::vector<RunId> forks = Operate(**engine, *run, s, choice, check, true);
  for (const RunId& fork : forks) Operate(**engine, fork, s, choice, check, false);
  // (9) With both parallelisms: the decider is deterministic over real histories.
  std::vector<RunId> recorded{*run};
  recorded.insert(recorded.end(), forks.begin(), forks.end());
  for (const RunId& r : recorded) {
    const std::vector<Event> events = Record(**engine, r).events;
    const Event& first = events.front();
    const RunStarted& def =
        std::holds_alternative<RunForked>(first.body) ? std::get<RunForked>(first.body).start : std::get<RunStarted>(first.body);
    auto replay = inspect::ReplayCheck(r, events, def, check ? 0 : 1);
    RC_ASSERT(replay.has_value());
    if (replay->divergence) {
      RC_FAIL("replay diverges at seq " + std::to_string(replay->divergence->seq) + ": " +
              replay->divergence->message + "\n" + Dump(**engine, r));
    }
  }
  if (check) {
    CheckFolds(**engine, *run);
    for (const RunId& fork : forks) CheckFolds(**engine, fork);
    // (6) Every started attempt ran exactly once, and nothing else ran (counted
    // over the run and its forks, which share the handlers).
    std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, int> started;
    std::vector<RunId> runs{*run};
    runs.insert(runs.end(), forks.begin(), forks.end());
    for (const RunId& r : runs) {
      for (const Event& e : Record(**engine, r).events) {
        if (const auto* st = std::get_if<StepStarted>(&e.body)) {
          if (s.steps[st->step].kind == StepKind::kCode) ++started[{st->step, st->epoch, st->attempt}];
        }
      }
    }
    RC_ASSERT(log->Snapshot() == started);
    // (8) The projections the engine maintained with every append equal, byte
    // for byte, a rebuild from the journal; summaries match the folds.
    Projections& projections = *(*engine)->projections();
    const auto maintained = DumpProjections((*engine)->journal());
    RC_ASSERT(projections.Rebuild({}).ok());
    RC_ASSERT(maintained == DumpProjections((*engine)->journal()));
    for (const RunId& r : runs) {
      auto summary = projections.Summary(r);
      RC_ASSERT(summary.has_value());
      RC_ASSERT(summary->status == FoldOrFail(r, Record(**engine, r).events).status);
    }
  }
  return Record(**engine, *run).events;
}

RC_GTEST_PROP(EnginePropertyTest, ReplayIsDeterministicAndResumeKeepsHistory, ()) {
  const Scenario s = *GenScenario();
  RC_CLASSIFY(IsLinear(s), "linear");
  RunScenario(s, true);
  // (7)
  RC_ASSERT(Comparable(RunScenario(s, false)) == Comparable(RunScenario(s, false)));
}

}  // namespace
}  // namespace rwd::test
