#include "rewind/inspect/timeline.h"

#include <algorithm>

#include "rewind/base/time.h"
#include "rewind/inspect/event_json.h"
#include "rewind/fold/run_state.h"

namespace rwd::inspect {
namespace {

// Bytes shown in a line: short text as it is, anything else by its size.
std::string Shown(const Bytes& b) {
  if (b.empty()) return "nothing";
  const bool text = b.size() <= 80 && std::all_of(b.begin(), b.end(), [](std::uint8_t c) { return c >= 0x20; });
  return text ? "\"" + std::string(b.begin(), b.end()) + "\"" : std::to_string(b.size()) + " bytes";
}

std::string Reason(const std::string& r) { return r.empty() ? std::string() : ": " + r; }

class Teller {
 public:
  Teller(const RunState& before, const RunState& after) : before_(before), after_(after) {}

  std::optional<std::uint32_t> step;

  std::string operator()(const RunStarted& b) {
    return "run started: workflow " + b.workflow + " v" + std::to_string(b.version) + ", " +
           std::to_string(b.steps.size()) + " steps, tenant " + b.tenant + ", input " + Shown(b.input) +
           (b.idempotency_key.empty() ? std::string() : ", idempotency key " + b.idempotency_key);
  }
  std::string operator()(const RunForked& b) {
    step = b.from_step;
    return "run forked from run " + b.parent_run.ToString() + " at seq " + std::to_string(b.parent_seq) +
           ", keeping " + std::to_string(b.kept.size()) + " completed steps; epoch " + std::to_string(after_.epoch);
  }
  std::string operator()(const StepStarted& b) {
    step = b.step;
    return "attempt " + std::to_string(b.attempt) + " started (epoch " + std::to_string(b.epoch) + ")";
  }
  std::string operator()(const StepCompleted& b) {
    step = b.step;
    return "attempt " + std::to_string(b.attempt) + " completed: output " + Shown(b.output);
  }
  std::string operator()(const StepFailed& b) {
    step = b.step;
    return "attempt " + std::to_string(b.attempt) + " failed (" + (b.retryable ? "retryable" : "not retryable") +
           "): " + b.code + ": " + b.message;
  }
  std::string operator()(const RetryScheduled& b) {
    step = b.step;
    return "retry: attempt " + std::to_string(b.next_attempt) + " due at " + IsoTime(b.due_unix_us);
  }
  std::string operator()(const StepAbandoned& b) {
    step = b.step;
    return "attempt " + std::to_string(b.attempt) + " abandoned: its process stopped while it ran";
  }
  std::string operator()(const RunPaused& b) {
    if (b.reason == PauseReason::kManual) return "run paused by an operator" + Reason(b.message);
    step = b.step;
    if (b.reason == PauseReason::kApprovalRequired) return "run paused: waits for approval";
    return "run paused: waits for signal '" + after_.definition->steps[b.step].handler + "'";
  }
  std::string operator()(const ApprovalDecided& b) {
    step = b.step;
    return std::string(b.approved ? "approved" : "rejected") + (b.data.empty() ? "" : ", note " + Shown(b.data));
  }
  std::string operator()(const SignalReceived& b) {
    return "signal '" + b.name + "' received, payload " + Shown(b.payload);
  }
  std::string operator()(const TimerScheduled& b) {
    step = b.step;
    return "sleeping until " + IsoTime(b.due_unix_us);
  }
  std::string operator()(const TimerFired& b) {
    step = b.step;
    return "woke up";
  }
  std::string operator()(const ResumeRequested& b) {
    step = b.from_step;
    return "RESUMED from this step" + Reason(b.reason) + "; epoch " + std::to_string(after_.epoch) +
           " begins (was " + std::string(RunStatusName(before_.status)) + ", request " + b.request_id + ")";
  }
  std::string operator()(const CancelRequested& b) { return "cancel requested" + Reason(b.reason); }
  std::string operator()(const RunCancelled& b) { return "run cancelled" + Reason(b.reason); }
  std::string operator()(const RunCompleted& b) { return "run completed: output " + Shown(b.output); }
  std::string operator()(const RunFailed& b) {
    step = b.step;
    return "run failed: " + b.code + ": " + b.message;
  }

 private:
  const RunState& before_;
  const RunState& after_;
};

}  // namespace

Result<std::vector<TimelineEntry>> Timeline(const RunId& run, std::span<const Event> events) {
  std::vector<TimelineEntry> out;
  RunState state;
  state.run = run;
  for (const Event& e : events) {
    const RunState before = state;
    REWIND_RETURN_IF_ERROR(Evolve(state, e));
    Teller tell(before, state);
    TimelineEntry entry;
    entry.seq = state.seq;
    entry.unix_us = e.unix_us;
    entry.type = std::string(EventTypeName(e.body));
    entry.what = std::visit(tell, e.body);
    if (tell.step && *tell.step < state.definition->steps.size()) entry.step = state.definition->steps[*tell.step].id;
    if (e.actor) entry.actor = e.actor->subject + (e.actor->tenant.empty() ? "" : "@" + e.actor->tenant);
    entry.epoch = state.epoch;
    out.push_back(std::move(entry));
  }
  return out;
}

nlohmann::json TimelineJson(const std::vector<TimelineEntry>& entries) {
  auto or_null = [](const std::optional<std::string>& s) { return s ? StringJson(*s) : nlohmann::json(nullptr); };
  nlohmann::json out = nlohmann::json::array();
  for (const TimelineEntry& e : entries) {
    out.push_back(nlohmann::json{{"seq", e.seq},
                                 {"unix_us", e.unix_us},
                                 {"type", e.type},
                                 {"step", or_null(e.step)},
                                 {"actor", or_null(e.actor)},
                                 {"epoch", e.epoch},
                                 {"what", StringJson(e.what)}});
  }
  return out;
}

}  // namespace rwd::inspect
