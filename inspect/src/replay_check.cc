#include "rewind/inspect/replay_check.h"


#include "rewind/fold/decide.h"
#include "rewind/fold/run_state.h"
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

// Every step an event names by position.
std::vector<std::uint32_t> StepsNamed(const EventBody& body) {
  std::vector<std::uint32_t> steps;
  if (const auto step = StepOf(body)) steps.push_back(*step);
  if (const auto* resume = std::get_if<ResumeRequested>(&body)) steps.push_back(resume->from_step);
  if (const auto* fork = std::get_if<RunForked>(&body)) {
    steps.push_back(fork->from_step);
    for (const StepOutput& kept : fork->kept) steps.push_back(kept.step);
  }
  return steps;
}

const RunStarted& DefinitionIn(const Event& first) {
  if (const auto* fork = std::get_if<RunForked>(&first.body)) return fork->start;
  return std::get<RunStarted>(first.body);
}

bool SameSteps(const RunStarted& a, const RunStarted& b) {
  return a.workflow == b.workflow && a.version == b.version && a.steps == b.steps;
}

// The run's first event with the candidate's definition in place of the
// recorded one. REQUIRES: `first` is RunStarted or RunForked (the history folds).
Result<Event> WithCandidate(Event first, const RunStarted& candidate) {
  RunStarted* start = std::get_if<RunStarted>(&first.body);
  if (RunForked* fork = std::get_if<RunForked>(&first.body)) start = &fork->start;
  if (start->workflow != candidate.workflow) {
    return Err(Code::kInvalidArgument, "the definition checked is of workflow '" + candidate.workflow +
                                           "', the run of workflow '" + start->workflow + "'");
  }
  start->version = candidate.version;
  start->definition_hash = candidate.definition_hash;
  start->steps = candidate.steps;
  return first;
}

class Replay {
 public:
  Replay(const RunId& run, const RunStarted& recorded, const RunStarted& candidate, std::uint32_t max_parallel)
      : recorded_def_(recorded), candidate_def_(candidate), max_parallel_(max_parallel) {
    recorded_.run = candidate_.run = run;
    report.same_definition = SameSteps(recorded, candidate);
  }

  ReplayReport report;

  // Replays `events` (`first`: the first with the candidate's definition);
  // the first divergence ends it.
  Status Run(std::span<const Event> events, const Event& first) {
    for (std::size_t i = 0; i < events.size() && !report.divergence; ++i) {
      REWIND_RETURN_IF_ERROR(Next(events[i], i == 0 ? first : events[i], i + 1));
    }
    if (report.divergence) return Status::Ok();
    if (!plan_.empty()) {
      return Diverge(events.size() + 1, std::nullopt, "decision",
                     "the history ends; the candidate would go on with " + Listed(candidate_.definition, plan_));
    }
    return CheckIdle(events.size() + 1, std::nullopt);
  }

 private:
  // `recorded`: the event as the journal has it; `replayed`: the same event
  // with the candidate's definition for the first one.
  Status Next(const Event& recorded, const Event& replayed, std::uint64_t seq) {
    for (std::uint32_t step : StepsNamed(recorded.body)) {
      if (step >= recorded_def_.steps.size() || step >= candidate_def_.steps.size()) continue;
      const std::string& was = recorded_def_.steps[step].id;
      const std::string& is = candidate_def_.steps[step].id;
      if (was != is) {
        return Diverge(seq, recorded, "step",
                       "the history names step " + std::to_string(step + 1) + ", '" + was +
                           "', which is '" + is + "' in the candidate: steps are recorded by position, so a step "
                           "renamed or moved makes the history name another step");
      }
    }
    if (plan_.empty() && seq > 1) {
      // Whether the engine decided after the event before, then whether it decides here.
      REWIND_RETURN_IF_ERROR(CheckIdle(seq, recorded));
      if (report.divergence) return Status::Ok();
      if (IsDecision(recorded)) {
        ++report.decision_points;
        RunState working = candidate_;
        auto plan = Plan(working, recorded.unix_us, max_parallel_);
        if (!plan.has_value()) return plan.error();
        plan_ = Stamped(std::move(plan->events), recorded.unix_us);
        if (plan_.empty()) {
          return Diverge(seq, recorded, "decision",
                         "the history records a decision, " + Named(recorded_.definition, recorded.body) +
                             "; the candidate decides nothing here");
        }
      }
    }
    if (!plan_.empty()) {
      if (recorded.actor || plan_.front().body != recorded.body) {
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

  // Before event `seq` (or at the end): had the engine driven the run after
  // the event before, at that event's time, what would each definition plan?
  // When the recorded one plans something, the history shows the engine did
  // not drive the run there (the next event came with the same append):
  // nothing to compare. When it plans nothing, the candidate must plan nothing.
  Status CheckIdle(std::uint64_t seq, const std::optional<Event>& recorded) {
    RunState recorded_state = recorded_;
    auto by_recorded = Plan(recorded_state, last_time_, max_parallel_);
    if (!by_recorded.has_value()) return by_recorded.error();
    if (!by_recorded->events.empty()) return Status::Ok();
    RunState candidate_state = candidate_;
    auto by_candidate = Plan(candidate_state, last_time_, max_parallel_);
    if (!by_candidate.has_value()) return by_candidate.error();
    if (by_candidate->events.empty()) return Status::Ok();
    plan_ = Stamped(std::move(by_candidate->events), last_time_);
    const std::string where = recorded ? "before " + Named(recorded_.definition, recorded->body) : "at the end of the history";
    return Diverge(seq, recorded, "decision",
                   where + ", where the recorded definition decides nothing, the candidate decides " +
                       Listed(candidate_.definition, plan_));
  }

  static std::vector<Event> Stamped(std::vector<EventBody> bodies, std::int64_t unix_us) {
    std::vector<Event> events;
    events.reserve(bodies.size());
    for (EventBody& body : bodies) events.push_back(Event{unix_us, std::nullopt, kSchemaVersion, std::move(body)});
    return events;
  }

  // Records the divergence (what the candidate decided there: the rest of
  // plan_) and ends the replay. Always Ok: a divergence is a finding.
  Status Diverge(std::uint64_t seq, const std::optional<Event>& recorded, std::string check, std::string message) {
    report.divergence = ReplayDivergence{seq, std::move(check), recorded, std::move(plan_), std::move(message)};
    plan_.clear();
    return Status::Ok();
  }

  const RunStarted& recorded_def_;
  const RunStarted& candidate_def_;
  std::uint32_t max_parallel_;
  RunState recorded_;   // the history under its own definition
  RunState candidate_;  // the same events under the candidate's
  std::vector<Event> plan_;  // what the candidate decided and the history has yet to show
  std::int64_t last_time_ = 0;  // of the last event replayed
};

}  // namespace

Result<ReplayReport> ReplayCheck(const RunId& run, std::span<const Event> events, const RunStarted& candidate,
                                 std::uint32_t max_parallel) {
  REWIND_RETURN_IF_ERROR(ValidateDefinition(candidate).WithContext("the candidate definition"));
  if (events.empty()) return Err(Code::kNotFound, "run " + run.ToString() + " has no events");
  REWIND_RETURN_IF_ERROR(Fold(run, events));  // Corruption naming the seq
  REWIND_ASSIGN_OR_RETURN(Event first, WithCandidate(events.front(), candidate));
  Replay replay(run, DefinitionIn(events.front()), candidate, max_parallel);
  REWIND_RETURN_IF_ERROR(replay.Run(events, first));
  return std::move(replay.report);
}

}  // namespace rwd::inspect
