#include "rewind/fold/run_state.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace rwd {

std::string_view RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kPending: return "pending";
    case RunStatus::kRunning: return "running";
    case RunStatus::kPaused: return "paused";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kCompleted: return "completed";
    case RunStatus::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<RunStatus> ParseRunStatus(std::string_view name) {
  for (RunStatus s : kRunStatuses) {
    if (RunStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view StepStatusName(StepStatus status) {
  switch (status) {
    case StepStatus::kPending: return "pending";
    case StepStatus::kRunning: return "running";
    case StepStatus::kFailed: return "failed";
    case StepStatus::kRetryWait: return "retry_wait";
    case StepStatus::kWaiting: return "waiting";
    case StepStatus::kCompleted: return "completed";
    case StepStatus::kCancelled: return "cancelled";
  }
  return "unknown";
}

bool operator==(const RunState& a, const RunState& b) {
  const bool same_definition = a.definition == b.definition ||
                               (a.definition && b.definition && *a.definition == *b.definition);
  return same_definition && a.run == b.run && a.seq == b.seq && a.status == b.status &&
         a.epoch == b.epoch && a.steps == b.steps && a.paused_step == b.paused_step &&
         a.pending_signals == b.pending_signals && a.resumes == b.resumes &&
         a.output == b.output && a.error_code == b.error_code &&
         a.error_message == b.error_message && a.parent == b.parent &&
         a.parent_seq == b.parent_seq && a.started_unix_us == b.started_unix_us &&
         a.updated_unix_us == b.updated_unix_us;
}

std::optional<std::uint32_t> FindStep(const RunStarted& definition, std::string_view id) {
  for (std::size_t i = 0; i < definition.steps.size(); ++i) {
    if (definition.steps[i].id == id) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;
}

Result<std::uint32_t> ResolveStep(const RunStarted& definition, std::string_view step) {
  if (auto index = FindStep(definition, step)) return *index;
  std::uint32_t n = 0;
  const auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), n);
  if (ec == std::errc() && end == step.data() + step.size() && n >= 1 && n <= definition.steps.size()) {
    return n - 1;
  }
  return Err(Code::kNotFound, "workflow '" + definition.workflow + "' has no step '" + std::string(step) +
                                  "' (give a step id or a 1-based index up to " +
                                  std::to_string(definition.steps.size()) + ")");
}

namespace {

Status CheckNameLength(std::string_view what, std::string_view name) {
  if (name.size() <= kMaxNameBytes) return Status::Ok();
  return Status(Code::kInvalidArgument, std::string(what) + " '" + std::string(name.substr(0, 32)) + "...' has " +
                                            std::to_string(name.size()) + " bytes, over the limit of " +
                                            std::to_string(kMaxNameBytes));
}

// The step lists this thread found valid last. The runs of a definition
// decoded from the journal share one immutable list (StepDefs), so its
// checks need not be repeated for each run. Each list is held here, so none
// is freed while remembered (and another made at its address), and a list
// held twice is copied before it is changed.
class ValidLists {
 public:
  static bool Holds(const StepDefs& steps) {
    for (const StepDefs& known : lists_) {
      if (steps.SharesWith(known)) return true;
    }
    return false;
  }
  static void Add(const StepDefs& steps) {
    lists_[next_] = steps;
    next_ = (next_ + 1) % kLists;
  }

 private:
  static constexpr std::size_t kLists = 4;
  static thread_local std::array<StepDefs, kLists> lists_;
  static thread_local std::size_t next_;
};
thread_local std::array<StepDefs, ValidLists::kLists> ValidLists::lists_;
thread_local std::size_t ValidLists::next_ = 0;

// Ids, dependencies and acyclicity of a non-empty step list.
Status ValidateSteps(const StepDefs& steps);

}  // namespace

Status ValidateDefinition(const RunStarted& definition) {
  const auto& steps = definition.steps;
  REWIND_RETURN_IF_ERROR(CheckNameLength("workflow name", definition.workflow));
  REWIND_RETURN_IF_ERROR(CheckNameLength("tenant", definition.tenant));
  if (steps.empty() && definition.definition_stored) {
    return Status(Code::kInvalidArgument, "workflow '" + definition.workflow +
                                              "': the stored definition the event names was not looked up (decode it "
                                              "with a DefinitionFinder: DecodeRecord)");
  }
  if (steps.empty()) return Status(Code::kInvalidArgument, "workflow '" + definition.workflow + "' has no steps");
  if (ValidLists::Holds(steps)) return Status::Ok();
  REWIND_RETURN_IF_ERROR(ValidateSteps(steps));
  ValidLists::Add(steps);
  return Status::Ok();
}

namespace {

Status ValidateSteps(const StepDefs& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].id.empty()) {
      return Status(Code::kInvalidArgument, "step " + std::to_string(i + 1) + " has an empty id");
    }
    REWIND_RETURN_IF_ERROR(CheckNameLength("step id", steps[i].id));
    for (std::uint32_t dep : steps[i].depends_on) {
      if (dep >= steps.size() || dep == i) {
        return Status(Code::kInvalidArgument, "step '" + steps[i].id + "' depends on " +
                                                  (dep == i ? "itself" : "an unknown step"));
      }
    }
  }
  // Ids are unique: sorted, equal ones are neighbours (n log n, where
  // comparing every pair took seconds for a file of 40,000 steps).
  std::vector<std::string_view> ids;
  ids.reserve(steps.size());
  for (const StepDef& step : steps) ids.push_back(step.id);
  std::sort(ids.begin(), ids.end());
  if (auto twice = std::adjacent_find(ids.begin(), ids.end()); twice != ids.end()) {
    return Status(Code::kInvalidArgument, "step id '" + std::string(*twice) + "' is used twice");
  }
  // Kahn's algorithm: whatever cannot be ordered lies on or behind a cycle.
  // Dependents of step d are dependents[first[d] .. first[d + 1]) (one
  // allocation per array, not one per step: every fold of a run does this).
  const std::size_t n = steps.size();
  std::vector<std::size_t> first(n + 1, 0), waiting(n);
  for (const StepDef& step : steps) {
    for (std::uint32_t dep : step.depends_on) ++first[dep + 1];
  }
  for (std::size_t d = 0; d < n; ++d) first[d + 1] += first[d];
  std::vector<std::uint32_t> dependents(first[n]), ready;
  std::vector<std::size_t> fill(first.begin(), first.end() - 1);
  ready.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    waiting[i] = steps[i].depends_on.size();
    if (waiting[i] == 0) ready.push_back(static_cast<std::uint32_t>(i));
    for (std::uint32_t dep : steps[i].depends_on) dependents[fill[dep]++] = static_cast<std::uint32_t>(i);
  }
  std::size_t ordered = 0;
  while (!ready.empty()) {
    const std::uint32_t done = ready.back();
    ready.pop_back();
    ++ordered;
    for (std::size_t k = first[done]; k < first[done + 1]; ++k) {
      if (--waiting[dependents[k]] == 0) ready.push_back(dependents[k]);
    }
  }
  if (ordered == steps.size()) return Status::Ok();
  // Walk unordered dependencies: after as many hops as there are steps the
  // walk is on the cycle itself, not merely behind it.
  std::uint32_t at = 0;
  while (waiting[at] == 0) ++at;
  for (std::size_t hop = 0; hop < steps.size(); ++hop) {
    for (std::uint32_t dep : steps[at].depends_on) {
      if (waiting[dep] != 0) {
        at = dep;
        break;
      }
    }
  }
  return Status(Code::kInvalidArgument, "step '" + steps[at].id + "' is part of a dependency cycle");
}

}  // namespace

std::vector<std::uint32_t> ResetSet(const RunState& state, std::uint32_t from) {
  const auto& steps = state.definition->steps;
  std::vector<bool> reset(steps.size(), false);
  reset[from] = true;
  // Dependents of reset steps are reset; iterate to a fixed point (definitions
  // are small DAGs, and any order of dependencies is allowed).
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (reset[i]) continue;
      for (std::uint32_t dep : steps[i].depends_on) {
        if (reset[dep]) {
          reset[i] = changed = true;
          break;
        }
      }
    }
  }
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (reset[i] || state.steps[i].status != StepStatus::kCompleted) {
      out.push_back(static_cast<std::uint32_t>(i));
    }
  }
  return out;
}

Status CheckLimits(const RunStarted& d) {
  const auto over = [&](const std::string& what, std::size_t limit, std::size_t is) {
    return Status(Code::kInvalidArgument, "workflow '" + d.workflow + "' has " + std::to_string(is) + " " + what +
                                              "; the limit is " + std::to_string(limit));
  };
  if (d.steps.size() > kMaxSteps) return over("steps", kMaxSteps, d.steps.size());
  std::size_t dependencies = 0, bytes = 0;
  for (const StepDef& step : d.steps) {
    if (step.config.size() > kMaxConfigBytes) {
      return Status(Code::kInvalidArgument, "step '" + step.id + "' of workflow '" + d.workflow + "' has a config of " +
                                                std::to_string(step.config.size()) + " bytes; the limit is " +
                                                std::to_string(kMaxConfigBytes));
    }
    dependencies += step.depends_on.size();
    bytes += step.id.size() + step.handler.size() + step.config.size() + 4 * step.depends_on.size();
  }
  if (dependencies > kMaxDependencies) return over("dependencies", kMaxDependencies, dependencies);
  if (bytes > kMaxDefinitionBytes) return over("bytes of step definitions", kMaxDefinitionBytes, bytes);
  return Status::Ok();
}

Result<ResumePlan> AdmitResume(const RunState& w, std::string_view from_step,
                               std::optional<std::uint64_t> expected_seq) {
  const RunStarted& def = *w.definition;
  if (!w.Stopped()) {
    return Err(Code::kConflict, "run " + w.run.ToString() + " is " + std::string(RunStatusName(w.status)) +
                                    "; only failed, paused, cancelled or completed runs resume");
  }
  for (std::uint32_t i = 0; i < w.steps.size(); ++i) {
    if (w.steps[i].status == StepStatus::kRunning) {
      return Err(Code::kConflict, "run " + w.run.ToString() + " is " + std::string(RunStatusName(w.status)) +
                                      " but step '" + def.steps[i].id +
                                      "' is still running; wait for it to stop, then resume");
    }
  }
  if (expected_seq && *expected_seq != w.seq) {
    return Err(Code::kConflict, "run " + w.run.ToString() + " is at seq " + std::to_string(w.seq) +
                                    ", not the expected " + std::to_string(*expected_seq));
  }
  std::uint32_t from = 0;
  if (from_step.empty()) {
    // The first unfinished step whose dependencies completed (DESIGN §4.5).
    auto ready = [&](std::uint32_t i) {
      if (w.steps[i].status == StepStatus::kCompleted) return false;
      for (std::uint32_t dep : def.steps[i].depends_on) {
        if (w.steps[dep].status != StepStatus::kCompleted) return false;
      }
      return true;
    };
    while (from < w.steps.size() && !ready(from)) ++from;
    if (from == w.steps.size()) {
      return Err(Code::kFailedPrecondition,
                 "every step of run " + w.run.ToString() + " completed; name a step to re-run");
    }
  } else {
    REWIND_ASSIGN_OR_RETURN(from, ResolveStep(def, from_step));
  }
  for (std::uint32_t dep : def.steps[from].depends_on) {
    if (w.steps[dep].status != StepStatus::kCompleted) {
      return Err(Code::kFailedPrecondition,
                 "step '" + def.steps[from].id + "' depends on step '" + def.steps[dep].id + "', which is " +
                     std::string(StepStatusName(w.steps[dep].status)) + "; resume from '" + def.steps[dep].id +
                     "' instead");
    }
  }
  return PlanResume(w, from);
}

ResumePlan PlanResume(const RunState& state, std::uint32_t from) {
  ResumePlan plan{from, {}, ResetSet(state, from), state.epoch + 1};
  for (std::uint32_t i = 0; i < state.steps.size(); ++i) {
    if (!std::binary_search(plan.reset.begin(), plan.reset.end(), i)) plan.kept.push_back(i);
  }
  return plan;
}

namespace {

// The transition rules, one Apply per event body. Each checks its
// preconditions first and returns the reason it refuses, or mutates.
class Transition {
 public:
  // `owned`, when given, is `event` itself, which the transition may move
  // its definition out of once the event is accepted.
  Transition(RunState& state, const Event& event, Event* owned = nullptr)
      : s_(state), e_(event), owned_(owned) {}

  // A run begins with its definition: RunStarted, or RunForked for a fork.
  Status CheckFirst() const {
    if (s_.seq != 0 || std::holds_alternative<RunStarted>(e_.body) || std::holds_alternative<RunForked>(e_.body)) {
      return Status::Ok();
    }
    return Refuse("the run has no RunStarted or RunForked first");
  }

  // Names key the read models (kMaxNameBytes).
  Status CheckActor() const {
    if (!e_.actor || (e_.actor->subject.size() <= kMaxNameBytes && e_.actor->tenant.size() <= kMaxNameBytes)) {
      return Status::Ok();
    }
    return Refuse("the actor's subject or tenant is longer than " + std::to_string(kMaxNameBytes) + " bytes");
  }

  Status Apply(const RunStarted& b) {
    if (s_.seq != 0) return Refuse("RunStarted is not the run's first event");
    REWIND_RETURN_IF_ERROR(Checked(ValidateDefinition(b)));
    Start(owned_ != nullptr ? std::make_shared<const RunStarted>(std::move(std::get<RunStarted>(owned_->body)))
                            : std::make_shared<const RunStarted>(b));
    return Status::Ok();
  }

  Status Apply(const RunForked& b) {
    if (s_.seq != 0) return Refuse("RunForked is not the run's first event");
    REWIND_RETURN_IF_ERROR(Checked(ValidateDefinition(b.start)));
    if (b.from_step >= b.start.steps.size()) return Refuse("RunForked from an unknown step");
    for (const StepOutput& kept : b.kept) {
      if (kept.step >= b.start.steps.size()) return Refuse("RunForked keeps an unknown step");
    }
    Start(owned_ != nullptr ? std::make_shared<const RunStarted>(std::move(std::get<RunForked>(owned_->body).start))
                            : std::make_shared<const RunStarted>(b.start));
    s_.parent = b.parent_run;
    s_.parent_seq = b.parent_seq;
    s_.epoch = 1;
    for (StepState& step : s_.steps) step.epoch = 1;
    for (const StepOutput& kept : b.kept) {
      s_.steps[kept.step].status = StepStatus::kCompleted;
      s_.steps[kept.step].output = kept.output;
    }
    return Status::Ok();
  }

  Status Apply(const StepStarted& b) {
    REWIND_RETURN_IF_ERROR(RequireRunning("StepStarted"));
    REWIND_RETURN_IF_ERROR(RequireStep(b.step));
    StepState& step = s_.steps[b.step];
    if (step.status != StepStatus::kPending && step.status != StepStatus::kRetryWait &&
        step.status != StepStatus::kFailed) {
      return Refuse("StepStarted for step " + Name(b.step) + " which is " +
                    std::string(StepStatusName(step.status)));
    }
    if (b.epoch != step.epoch) return Refuse("StepStarted in epoch " + std::to_string(b.epoch) +
                                             " but step " + Name(b.step) + " is in epoch " +
                                             std::to_string(step.epoch));
    if (b.attempt != step.attempts + 1) {
      return Refuse("StepStarted attempt " + std::to_string(b.attempt) + " of step " + Name(b.step) +
                    " after " + std::to_string(step.attempts) + " attempts");
    }
    for (std::uint32_t dep : Def().steps[b.step].depends_on) {
      if (s_.steps[dep].status != StepStatus::kCompleted) {
        return Refuse("StepStarted for step " + Name(b.step) + " before its dependency " + Name(dep) +
                      " completed");
      }
    }
    step.status = StepStatus::kRunning;
    step.attempts = b.attempt;
    step.started_unix_us = e_.unix_us;
    ++step.total_attempts;
    return Status::Ok();
  }

  Status Apply(const StepCompleted& b) {
    REWIND_RETURN_IF_ERROR(RequireAttempt("StepCompleted", b.step, b.attempt, b.epoch));
    StepState& step = s_.steps[b.step];
    if (Def().steps[b.step].kind == StepKind::kSignal) ConsumeSignal(Def().steps[b.step].handler);
    step.status = StepStatus::kCompleted;
    step.output = b.output;
    return Status::Ok();
  }

  Status Apply(const StepFailed& b) {
    REWIND_RETURN_IF_ERROR(RequireAttempt("StepFailed", b.step, b.attempt, b.epoch));
    Fail(s_.steps[b.step], b.code, b.message, b.retryable);
    return Status::Ok();
  }

  Status Apply(const StepAbandoned& b) {
    REWIND_RETURN_IF_ERROR(RequireAttempt("StepAbandoned", b.step, b.attempt, b.epoch));
    Fail(s_.steps[b.step], "abandoned", "the attempt was in flight when the engine stopped", true);
    return Status::Ok();
  }

  Status Apply(const RetryScheduled& b) {
    REWIND_RETURN_IF_ERROR(RequireRunning("RetryScheduled"));
    REWIND_RETURN_IF_ERROR(RequireStep(b.step));
    StepState& step = s_.steps[b.step];
    if (step.status != StepStatus::kFailed || !step.retryable) {
      return Refuse("RetryScheduled for step " + Name(b.step) + " which has no retryable failure");
    }
    if (b.next_attempt != step.attempts + 1) return Refuse("RetryScheduled skips attempts");
    step.status = StepStatus::kRetryWait;
    step.due_unix_us = b.due_unix_us;
    return Status::Ok();
  }

  Status Apply(const RunPaused& b) {
    if (s_.status != RunStatus::kRunning) return Refuse("RunPaused for a run that is not running");
    if (b.reason == PauseReason::kManual) {
      s_.paused_step = kNoStep;
    } else {
      REWIND_RETURN_IF_ERROR(RequireStep(b.step));
      const StepKind want =
          b.reason == PauseReason::kApprovalRequired ? StepKind::kApproval : StepKind::kSignal;
      if (Def().steps[b.step].kind != want || s_.steps[b.step].status != StepStatus::kPending) {
        return Refuse("RunPaused at step " + Name(b.step) + " which is not a pending gate of that kind");
      }
      s_.steps[b.step].status = StepStatus::kWaiting;
      s_.paused_step = b.step;
    }
    s_.status = RunStatus::kPaused;
    return Status::Ok();
  }

  Status Apply(const ApprovalDecided& b) {
    REWIND_RETURN_IF_ERROR(RequireStep(b.step));
    StepState& step = s_.steps[b.step];
    if (s_.status != RunStatus::kPaused || s_.paused_step != b.step ||
        Def().steps[b.step].kind != StepKind::kApproval) {
      return Refuse("ApprovalDecided for step " + Name(b.step) + " which awaits no approval");
    }
    if (b.approved) {
      step.status = StepStatus::kCompleted;
      step.output = b.data;
    } else {
      Fail(step, "rejected", "the approval was rejected", false);
    }
    CountAttempt(step);
    Unpause();
    return Status::Ok();
  }

  Status Apply(const SignalReceived& b) {
    if (s_.status == RunStatus::kPaused && s_.paused_step != kNoStep &&
        Def().steps[s_.paused_step].kind == StepKind::kSignal &&
        Def().steps[s_.paused_step].handler == b.name) {
      StepState& step = s_.steps[s_.paused_step];
      step.status = StepStatus::kCompleted;
      step.output = b.payload;
      CountAttempt(step);
      Unpause();
      return Status::Ok();
    }
    if (IsTerminal()) return Refuse("SignalReceived for a finished run");
    s_.pending_signals.push_back(b);  // for a signal step that has not started waiting yet
    return Status::Ok();
  }

  Status Apply(const TimerScheduled& b) {
    REWIND_RETURN_IF_ERROR(RequireRunning("TimerScheduled"));
    REWIND_RETURN_IF_ERROR(RequireStep(b.step));
    if (Def().steps[b.step].kind != StepKind::kSleep || s_.steps[b.step].status != StepStatus::kPending) {
      return Refuse("TimerScheduled for step " + Name(b.step) + " which is not a pending sleep");
    }
    s_.steps[b.step].status = StepStatus::kWaiting;
    s_.steps[b.step].due_unix_us = b.due_unix_us;
    return Status::Ok();
  }

  Status Apply(const TimerFired& b) {
    REWIND_RETURN_IF_ERROR(RequireStep(b.step));
    StepState& step = s_.steps[b.step];
    if (Def().steps[b.step].kind != StepKind::kSleep || step.status != StepStatus::kWaiting) {
      return Refuse("TimerFired for step " + Name(b.step) + " which is not sleeping");
    }
    step.status = StepStatus::kCompleted;
    CountAttempt(step);
    return Status::Ok();
  }

  Status Apply(const ResumeRequested& b) {
    if (s_.status == RunStatus::kRunning || s_.status == RunStatus::kPending) {
      return Refuse("ResumeRequested for a run that is " + std::string(RunStatusName(s_.status)));
    }
    REWIND_RETURN_IF_ERROR(RequireStep(b.from_step));
    ++s_.epoch;
    for (std::uint32_t i : ResetSet(s_, b.from_step)) {
      StepState& step = s_.steps[i];
      step.status = StepStatus::kPending;
      step.epoch = s_.epoch;
      step.attempts = 0;
      step.output.clear();
      step.due_unix_us = 0;
    }
    s_.resumes.push_back(ResumeRecord{b.request_id, b.from_step, s_.epoch, s_.seq + 1, b.data});
    s_.status = RunStatus::kRunning;
    s_.paused_step = kNoStep;
    s_.output.clear();
    s_.error_code.clear();
    s_.error_message.clear();
    return Status::Ok();
  }

  Status Apply(const CancelRequested&) {
    if (IsTerminal()) return Refuse("CancelRequested for a finished run");
    return Status::Ok();  // RunCancelled, in the same append, changes the state
  }

  Status Apply(const RunCancelled& b) {
    if (IsTerminal()) return Refuse("RunCancelled for a finished run");
    for (StepState& step : s_.steps) {
      if (step.status == StepStatus::kRunning || step.status == StepStatus::kWaiting ||
          step.status == StepStatus::kRetryWait) {
        step.status = StepStatus::kCancelled;
      }
    }
    s_.status = RunStatus::kCancelled;
    s_.paused_step = kNoStep;
    s_.error_code = "cancelled";
    s_.error_message = b.reason;
    return Status::Ok();
  }

  Status Apply(const RunCompleted& b) {
    REWIND_RETURN_IF_ERROR(RequireRunning("RunCompleted"));
    for (std::uint32_t i = 0; i < s_.steps.size(); ++i) {
      if (s_.steps[i].status != StepStatus::kCompleted) {
        return Refuse("RunCompleted while step " + Name(i) + " is " +
                      std::string(StepStatusName(s_.steps[i].status)));
      }
    }
    s_.status = RunStatus::kCompleted;
    s_.output = b.output;
    return Status::Ok();
  }

  Status Apply(const RunFailed& b) {
    REWIND_RETURN_IF_ERROR(RequireRunning("RunFailed"));
    s_.status = RunStatus::kFailed;
    s_.error_code = b.code;
    s_.error_message = b.message;
    return Status::Ok();
  }

 private:
  const RunStarted& Def() const { return *s_.definition; }
  std::string Name(std::uint32_t step) const { return "'" + Def().steps[step].id + "'"; }
  bool IsTerminal() const {
    return s_.status == RunStatus::kCompleted || s_.status == RunStatus::kFailed ||
           s_.status == RunStatus::kCancelled;
  }

  Status Checked(const Status& definition) const {
    return definition.ok() ? definition : Refuse("invalid definition: " + definition.message());
  }

  Status Refuse(const std::string& why) const {
    return Status(Code::kCorruption, "run " + s_.run.ToString() + " seq " + std::to_string(s_.seq + 1) +
                                         ": " + why);
  }

  void Start(Definition definition) {
    s_.definition = std::move(definition);
    s_.steps.assign(s_.definition->steps.size(), StepState{});
    s_.status = RunStatus::kRunning;
    s_.started_unix_us = e_.unix_us;
  }

  Status RequireDefinition() const {
    return s_.definition ? Status::Ok() : Refuse("the run has no RunStarted or RunForked first");
  }
  Status RequireRunning(const char* what) const {
    REWIND_RETURN_IF_ERROR(RequireDefinition());
    if (s_.status != RunStatus::kRunning) {
      return Refuse(std::string(what) + " for a run that is " + std::string(RunStatusName(s_.status)));
    }
    return Status::Ok();
  }
  Status RequireStep(std::uint32_t step) const {
    REWIND_RETURN_IF_ERROR(RequireDefinition());
    if (step >= s_.steps.size()) return Refuse("unknown step index " + std::to_string(step));
    return Status::Ok();
  }
  // The outcome of an attempt is accepted only for the attempt in flight, in
  // the step's current epoch, and never after the run was cancelled.
  Status RequireAttempt(const char* what, std::uint32_t step, std::uint32_t attempt,
                        std::uint32_t epoch) const {
    REWIND_RETURN_IF_ERROR(RequireStep(step));
    const StepState& s = s_.steps[step];
    if (s.status != StepStatus::kRunning || s.attempts != attempt || s.epoch != epoch) {
      return Refuse(std::string(what) + " for attempt " + std::to_string(attempt) + " (epoch " +
                    std::to_string(epoch) + ") of step " + Name(step) + ", which is " +
                    std::string(StepStatusName(s.status)) + " at attempt " +
                    std::to_string(s.attempts) + " (epoch " + std::to_string(s.epoch) + ")");
    }
    return Status::Ok();
  }

  static void Fail(StepState& step, const std::string& code, const std::string& message, bool retryable) {
    step.status = StepStatus::kFailed;
    step.error_code = code;
    step.error_message = message;
    step.retryable = retryable;
  }

  // A gate's decision, a signal's arrival, a timer's firing: the step's one
  // attempt in its epoch, counted in both counts as a handler's attempt is.
  static void CountAttempt(StepState& step) {
    ++step.attempts;
    ++step.total_attempts;
  }

  void Unpause() {
    s_.status = RunStatus::kRunning;
    s_.paused_step = kNoStep;
  }

  void ConsumeSignal(const std::string& name) {
    auto it = std::find_if(s_.pending_signals.begin(), s_.pending_signals.end(),
                           [&](const SignalReceived& sig) { return sig.name == name; });
    if (it != s_.pending_signals.end()) s_.pending_signals.erase(it);
  }

  RunState& s_;
  const Event& e_;
  Event* owned_;
};

}  // namespace

namespace {

Status EvolveWith(RunState& state, const Event& event, Event* owned) {
  // Every rule checks all its preconditions before it changes anything, so a
  // refused event leaves `state` as it was without copying it.
  Transition transition(state, event, owned);
  REWIND_RETURN_IF_ERROR(transition.CheckFirst());
  REWIND_RETURN_IF_ERROR(transition.CheckActor());
  REWIND_RETURN_IF_ERROR(std::visit([&](const auto& body) { return transition.Apply(body); }, event.body));
  ++state.seq;
  state.updated_unix_us = event.unix_us;
  return Status::Ok();
}

}  // namespace

Status Evolve(RunState& state, const Event& event) { return EvolveWith(state, event, nullptr); }

Status Evolve(RunState& state, Event&& event) { return EvolveWith(state, event, &event); }

Result<std::uint64_t> SeqAtStep(std::span<const Event> events, std::uint32_t step) {
  // Folding tells what each event did to the step, whatever kind of event
  // completed it (a handler, an approval, a signal, a timer, a fork's copy).
  RunState state;
  std::uint64_t last_completion = 0, first_start = 0;
  StepStatus before = StepStatus::kPending;
  for (std::uint64_t i = 0; i < events.size(); ++i) {
    REWIND_RETURN_IF_ERROR(Evolve(state, events[i]));
    if (step >= state.steps.size()) return Err(Code::kNotFound, "no step index " + std::to_string(step));
    const StepStatus now = state.steps[step].status;
    if (now == StepStatus::kCompleted && before != StepStatus::kCompleted) last_completion = i + 1;
    if (now != StepStatus::kPending && first_start == 0) first_start = i + 1;
    before = now;
  }
  if (last_completion != 0) return last_completion;
  if (first_start != 0) return first_start - 1;
  return Err(Code::kFailedPrecondition, "step '" + state.definition->steps[step].id + "' never started");
}

Result<RunState> Fold(const RunId& run, std::span<const Event> events) {
  RunState state;
  state.run = run;
  for (const Event& event : events) REWIND_RETURN_IF_ERROR(Evolve(state, event));
  return state;
}

}  // namespace rwd
