#include "tests/support/random_history.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <variant>

#include "rewind/fold/run_state.h"

namespace rwd::test {
namespace {

std::map<RunId, std::vector<Event>> EventsByRun(const std::vector<HistoryAppend>& history) {
  std::map<RunId, std::vector<Event>> out;
  for (const HistoryAppend& a : history) {
    auto& events = out[a.run];
    events.insert(events.end(), a.events.begin(), a.events.end());
  }
  return out;
}

// The same history for the same random source, at the nominal size.
std::vector<HistoryAppend> Sample(std::uint64_t seed, HistoryOptions options = {}) {
  return GenHistory(std::move(options))(rc::Random(seed), rc::kNominalSize).value();
}

// Events only an operator causes: they carry the operator as actor.
bool IsOperatorEvent(const EventBody& body) {
  if (const auto* paused = std::get_if<RunPaused>(&body)) return paused->reason == PauseReason::kManual;
  return std::holds_alternative<RunStarted>(body) || std::holds_alternative<RunForked>(body) ||
         std::holds_alternative<ApprovalDecided>(body) || std::holds_alternative<SignalReceived>(body) ||
         std::holds_alternative<ResumeRequested>(body) || std::holds_alternative<CancelRequested>(body);
}

RC_GTEST_PROP(RandomHistory, EveryRunFoldsWithoutRefusal, ()) {
  const std::vector<HistoryAppend> history = *GenHistory();
  for (const auto& [run, events] : EventsByRun(history)) {
    const Result<RunState> state = Fold(run, events);
    RC_ASSERT(state.has_value());
    RC_TAG(std::string(RunStatusName(state->status)));
  }
  RC_CLASSIFY(history.size() >= 40, "40+ appends");
}

RC_GTEST_PROP(RandomHistory, ExpectedSeqChainsAreDense, ()) {
  std::map<RunId, std::uint64_t> seq;
  for (const HistoryAppend& a : *GenHistory()) {
    RC_ASSERT(!a.events.empty());
    RC_ASSERT(a.expected_seq == seq[a.run]);
    seq[a.run] += a.events.size();
  }
}

RC_GTEST_PROP(RandomHistory, ARunBeginsWithItsStartAndForksBeginAtAPrefixOfAnEarlierRun, ()) {
  std::map<RunId, std::uint64_t> seq;
  for (const HistoryAppend& a : *GenHistory()) {
    if (a.expected_seq == 0) {
      const EventBody& first = a.events.front().body;
      RC_ASSERT(std::holds_alternative<RunStarted>(first) || std::holds_alternative<RunForked>(first));
      if (const auto* fork = std::get_if<RunForked>(&first)) {
        RC_ASSERT(seq.count(fork->parent_run) == 1);
        RC_ASSERT(fork->parent_seq >= 1);
        RC_ASSERT(fork->parent_seq <= seq[fork->parent_run]);
      }
    }
    seq[a.run] += a.events.size();
  }
}

RC_GTEST_PROP(RandomHistory, TimeNeverGoesBackAndOnlyOperatorEventsHaveAnActor, ()) {
  std::int64_t last = 0;
  std::map<RunId, std::string> tenant;
  for (const HistoryAppend& a : *GenHistory()) {
    for (const Event& e : a.events) {
      RC_ASSERT(e.unix_us >= last);
      last = e.unix_us;
      if (const auto* started = std::get_if<RunStarted>(&e.body)) tenant[a.run] = started->tenant;
      if (const auto* forked = std::get_if<RunForked>(&e.body)) tenant[a.run] = forked->start.tenant;
      RC_ASSERT(e.actor.has_value() == IsOperatorEvent(e.body));
      if (e.actor) {
        RC_ASSERT(e.actor->kind == ActorKind::kUser);
        RC_ASSERT(!e.actor->subject.empty());
        RC_ASSERT(e.actor->tenant == tenant[a.run]);
      }
    }
  }
}

RC_GTEST_PROP(RandomHistory, RespectsItsOptions, ()) {
  const HistoryOptions options{3, 2, 20, {"initech"}, {"payroll"}};
  const std::vector<HistoryAppend> history = *GenHistory(options);
  RC_ASSERT(history.size() <= options.max_appends);
  const auto runs = EventsByRun(history);
  RC_ASSERT(runs.size() <= options.max_runs);
  for (const auto& [run, events] : runs) {
    const Result<RunState> state = Fold(run, events);
    RC_ASSERT(state.has_value());
    const RunStarted& def = *state->definition;
    RC_ASSERT(def.steps.size() >= 1u);
    RC_ASSERT(def.steps.size() <= options.max_steps);
    RC_ASSERT(def.tenant == "initech");
    RC_ASSERT(def.workflow == "payroll");
    RC_ASSERT(def.version == 1u || def.version == 2u);
    RC_ASSERT(def.definition_hash.empty());
    RC_ASSERT(ValidateDefinition(def).ok());
  }
}

RC_GTEST_PROP(RandomHistory, EveryEventRoundTripsThroughTheCodec, ()) {
  for (const HistoryAppend& a : *GenHistory()) {
    for (const Event& e : a.events) {
      const Result<Event> decoded = Decode(Encode(e));
      RC_ASSERT(decoded.has_value());
      RC_ASSERT(*decoded == e);
    }
  }
}

TEST(RandomHistory, SameRandomSourceGivesTheSameHistory) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) EXPECT_EQ(Sample(seed), Sample(seed));
  EXPECT_NE(Sample(1), Sample(2));
}

TEST(RandomHistory, EveryKindOfActionAppearsOver200Histories) {
  std::map<std::string, int> seen;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    for (const HistoryAppend& a : Sample(seed)) {
      for (const Event& e : a.events) {
        const EventBody& b = e.body;
        if (const auto* d = std::get_if<ApprovalDecided>(&b)) ++seen[d->approved ? "approve" : "reject"];
        if (const auto* p = std::get_if<RunPaused>(&b); p && p->reason == PauseReason::kManual)
          ++seen["pause"];
        if (const auto* f = std::get_if<StepFailed>(&b))
          ++seen[f->retryable ? "failure" : "permanent failure"];
        if (std::holds_alternative<StepCompleted>(b)) ++seen["completion"];
        if (std::holds_alternative<RetryScheduled>(b)) ++seen["retry"];
        if (std::holds_alternative<ResumeRequested>(b)) ++seen["resume"];
        if (std::holds_alternative<RunForked>(b)) ++seen["fork"];
        if (std::holds_alternative<SignalReceived>(b)) ++seen["signal"];
        if (std::holds_alternative<CancelRequested>(b)) ++seen["cancel"];
        if (std::holds_alternative<StepAbandoned>(b)) ++seen["abandon"];
        if (std::holds_alternative<TimerFired>(b)) ++seen["timer"];
        if (std::holds_alternative<RunCompleted>(b)) ++seen["run completed"];
        if (std::holds_alternative<RunFailed>(b)) ++seen["run failed"];
      }
    }
  }
  for (const char* kind :
       {"approve", "reject", "pause", "failure", "permanent failure", "completion", "retry", "resume", "fork",
        "signal", "cancel", "abandon", "timer", "run completed", "run failed"}) {
    EXPECT_GT(seen[kind], 0) << kind;
  }
}

}  // namespace
}  // namespace rwd::test
