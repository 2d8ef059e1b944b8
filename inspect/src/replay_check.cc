#include "rewind/inspect/replay_check.h"

#include <memory>

#include "rewind/executor/decide.h"
#include "rewind/executor/run_state.h"
#include "rewind/schemas/describe.h"

namespace rwd::inspect {
namespace {

// An engine event only the decider writes (see the header).
bool IsDecision(const Event& e) {
  if (e.actor) return false;
  return std::visit(
      [](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, RunPaused>) return b.reason != PauseReason::kManual;
        return std::is_same_v<T, StepStarted> || std::is_same_v<T, RetryScheduled> ||
               std::is_same_v<T, TimerScheduled> || std::is_same_v<T, TimerFired> ||
               std::is_same_v<T, RunCompleted> || std::is_same_v<T, RunFailed>;
      },
      e.body);
}

std::optional<std::uint32_t> StepOf(const EventBody& body) {
  return std::visit(
      [](const auto& b) -> std::optional<std::uint32_t> {
        if constexpr (requires { b.step; }) return b.step;
        return std::nullopt;
      },
      body);
}

// "StepStarted step=2 attempt=1 epoch=0 (step 'charge')": the body, and the
// step it concerns as `definition` names it.
std::string Named(const Definition& definition, const EventBody& body) {
  std::string text = DescribeBody(body);
  const auto step = StepOf(body);
  if (step && definition && *step < definition->steps.size()) text += " (step '" + definition->steps[*step].id + "')";
  return text;
}

std::string Listed(const Definition& definition, const std::vector<Event>& events) {
  if (events.empty()) return "nothing";
  std::string text;
  for (const Event& e : events) text += (text.empty() ? "" : ", ") + Named(definition, e.body);
  return text;
}

bool SameSteps(const RunStarted& a, const RunStarted& b) {
  return a.workflow == b.workflow && a.version == b.version && a.steps == b.steps;
}

// The run's first event with the candidate's definition in place of the recorded one.
Result<Event> WithCandidate(Event first, const RunStarted& candidate, bool& same) {
  RunStarted* start = std::get_if<RunStarted>(&first.body);
  if (RunForked* fork = std::get_if<RunForked>(&first.body)) start = &fork->start;
  if (start == nullptr) {
    return Err(Code::kCorruption, "seq 1: " + DescribeBody(first.body) + " is not a run's first event");
  }
  if (start->workflow != candidate.workflow) {
    return Err(Code::kInvalidArgument, "the definition checked is of workflow '" + candidate.workflow +
                                           "', the run of workflow '" + start->workflow + "'");
  }
  same = SameSteps(*start, candidate);
  start->version = candidate.version;
  start->definition_hash = candidate.definition_hash;
  start->steps = candidate.steps;
  return first;
}

class Replay {
 public:
  Replay(const RunId& run, std::uint32_t max_parallel) : max_parallel_(max_parallel) {
    recorded_.run = candidate_.run = run;
  }

  ReplayReport report;

  // Replays `events`; the first divergence ends it.
  Status Run(std::span<const Event> events, const Event& first) {
    for (std::size_t i = 0; i < events.size() && !report.divergence; ++i) {
      REWIND_RETURN_IF_ERROR(Next(events[i], i == 0 ? first : events[i], i + 1));
    }
    if (report.divergence) return Status::Ok();
    const std::int64_t last_time = events.empty() ? 0 : events.back().unix_us;
    if (!plan_.empty()) {
      return Diverge(events.size() + 1, std::nullopt, "decision",
                     "the history ends; the candidate would go on with " + Listed(candidate_.definition, plan_));
    }
    return CheckIdle(events.size() + 1, std::nullopt, last_time);
  }

 private:
  // `recorded`: the event as the journal has it; `replayed`: the same event
  // with the candidate's definition for the first one.
  Status Next(const Event& recorded, const Event& replayed, std::uint64_t seq) {
    if (plan_.empty() && seq > 1) {
      if (IsDecision(recorded)) {
        ++report.decision_points;
        RunState working = candidate_;
        auto plan = Plan(working, recorded.unix_us, max_parallel_);
        if (!plan.has_value()) return plan.error();
        for (EventBody& body : plan->events) plan_.push_back(Event{recorded.unix_us, std::nullopt, kSchemaVersion, std::move(body)});
        if (plan_.empty()) {
          return Diverge(seq, recorded, "decision",
                         "the history records a decision, " + Named(recorded_.definition, recorded.body) +
                             "; the candidate decides nothing here");
        }
      } else {
        REWIND_RETURN_IF_ERROR(CheckIdle(seq, recorded, last_time_));
        if (report.divergence) return Status::Ok();
      }
    }
    if (!plan_.empty()) {
      if (plan_.front().body != recorded.body) {
        return Diverge(seq, recorded, "decision",
                       "recorded " + Named(recorded_.definition, recorded.body) + "; the candidate decides " +
                           Listed(candidate_.definition, plan_));
      }
      plan_.erase(plan_.begin());
    }
    if (Status s = Evolve(candidate_, replayed); !s.ok()) {
      plan_.clear();
      return Diverge(seq, recorded, "refused", "the candidate's fold refuses it: " + s.message());
    }
    // The history folded as a whole before the replay began.
    if (Status s = Evolve(recorded_, recorded); !s.ok()) return Status(Code::kInternal, s.message());
    last_time_ = recorded.unix_us;
    report.events = seq;
    return Status::Ok();
  }

  // A point where the engine may have decided nothing: the candidate must plan
  // what the recorded definition plans.
  Status CheckIdle(std::uint64_t seq, const std::optional<Event>& recorded, std::int64_t now) {
    if (seq == 1) return Status::Ok();
    RunState recorded_state = recorded_;
    RunState candidate_state = candidate_;
    auto by_recorded = Plan(recorded_state, now, max_parallel_);
    if (!by_recorded.has_value()) return by_recorded.error();
    auto by_candidate = Plan(candidate_state, now, max_parallel_);
    if (!by_candidate.has_value()) return by_candidate.error();
    if (by_recorded->events == by_candidate->events) return Status::Ok();
    plan_.clear();
    for (EventBody& body : by_candidate->events) plan_.push_back(Event{now, std::nullopt, kSchemaVersion, std::move(body)});
    std::vector<Event> by_recorded_events;
    for (EventBody& body : by_recorded->events) by_recorded_events.push_back(Event{now, std::nullopt, kSchemaVersion, std::move(body)});
    const std::string where = recorded ? "before " + Named(recorded_.definition, recorded->body) : "at the end of the history";
    return Diverge(seq, recorded, "decision",
                   where + ", the candidate decides " + Listed(candidate_.definition, plan_) +
                       " where the recorded definition decides " + Listed(recorded_.definition, by_recorded_events));
  }

  // Records the divergence (what the candidate decided there: the rest of
  // plan_) and ends the replay. Always Ok: a divergence is a finding.
  Status Diverge(std::uint64_t seq, const std::optional<Event>& recorded, std::string check, std::string message) {
    report.divergence = ReplayDivergence{seq, std::move(check), recorded, std::move(plan_), std::move(message)};
    plan_.clear();
    return Status::Ok();
  }

  std::uint32_t max_parallel_;
  RunState recorded_;   // the history under its own definition
  RunState candidate_;  // the same events under the candidate's
  std::vector<Event> plan_;  // what the candidate decided and the history has yet to show
  std::int64_t last_time_ = 0;
};

}  // namespace

Result<ReplayReport> ReplayCheck(const RunId& run, std::span<const Event> events, const RunStarted& candidate,
                                 std::uint32_t max_parallel) {
  REWIND_RETURN_IF_ERROR(ValidateDefinition(candidate).WithContext("the candidate definition"));
  if (events.empty()) return Err(Code::kNotFound, "run " + run.ToString() + " has no events");
  REWIND_RETURN_IF_ERROR(Fold(run, events));  // Corruption naming the seq
  bool same = false;
  REWIND_ASSIGN_OR_RETURN(Event first, WithCandidate(events.front(), candidate, same));
  Replay replay(run, max_parallel);
  replay.report.same_definition = same;
  REWIND_RETURN_IF_ERROR(replay.Run(events, first));
  return std::move(replay.report);
}

}  // namespace rwd::inspect
