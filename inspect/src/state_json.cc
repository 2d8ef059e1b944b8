#include "rewind/inspect/state_json.h"

#include "rewind/inspect/event_json.h"

namespace rwd::inspect {
using nlohmann::json;

json ErrorJson(const std::string& code, const std::string& message) {
  if (code.empty() && message.empty()) return nullptr;
  return json{{"code", StringJson(code)}, {"message", StringJson(message)}};
}

json StateJson(const RunState& s) {
  const RunStarted* def = s.definition.get();
  auto step_id = [&](std::uint32_t i) -> json {
    if (def == nullptr || i >= def->steps.size()) return nullptr;
    return StringJson(def->steps[i].id);
  };
  json out{{"run_id", s.run.ToString()},
           {"seq", s.seq},
           {"status", std::string(RunStatusName(s.status))},
           {"epoch", s.epoch},
           {"workflow", def ? StringJson(def->workflow) : json(nullptr)},
           {"version", def ? def->version : 0},
           {"tenant", def ? StringJson(def->tenant) : json(nullptr)},
           {"paused_step", step_id(s.paused_step)},
           {"output", BytesJson(s.output)},
           {"error", ErrorJson(s.error_code, s.error_message)},
           {"parent_run", s.parent ? json(s.parent->ToString()) : json(nullptr)},
           {"parent_seq", s.parent_seq},
           {"started_unix_us", s.started_unix_us},
           {"updated_unix_us", s.updated_unix_us}};
  json steps = json::array();
  for (std::uint32_t i = 0; i < s.steps.size(); ++i) {
    const StepState& st = s.steps[i];
    json depends_on = json::array();
    if (def) {
      for (const std::uint32_t d : def->steps[i].depends_on) depends_on.push_back(step_id(d));
    }
    steps.push_back(json{{"index", i},
                         {"id", step_id(i)},
                         {"kind", def ? std::string(StepKindName(def->steps[i].kind)) : std::string()},
                         {"depends_on", std::move(depends_on)},
                         {"status", std::string(StepStatusName(st.status))},
                         {"epoch", st.epoch},
                         {"attempts", st.attempts},
                         {"total_attempts", st.total_attempts},
                         {"output", BytesJson(st.output)},
                         {"error", ErrorJson(st.error_code, st.error_message)},
                         {"retryable", st.retryable},
                         {"due_unix_us", st.due_unix_us},
                         {"started_unix_us", st.started_unix_us}});
  }
  out["steps"] = std::move(steps);
  json signals = json::array();
  for (const SignalReceived& sig : s.pending_signals) {
    signals.push_back(json{{"name", StringJson(sig.name)}, {"payload", BytesJson(sig.payload)}});
  }
  out["pending_signals"] = std::move(signals);
  json resumes = json::array();
  for (const ResumeRecord& r : s.resumes) {
    resumes.push_back(json{{"request_id", StringJson(r.request_id)},
                           {"from_step", step_id(r.from_step)},
                           {"epoch", r.epoch},
                           {"seq", r.seq},
                           {"data", BytesJson(r.data)}});
  }
  out["resumes"] = std::move(resumes);
  return out;
}

}  // namespace rwd::inspect
