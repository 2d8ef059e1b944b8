#include "tools/rewind/render.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace rwd::cli {
namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string Text(const Bytes& b) { return std::string(AsChars(b)); }

const char* KindName(StepKind kind) {
  switch (kind) {
    case StepKind::kCode: return "command";
    case StepKind::kApproval: return "approval";
    case StepKind::kSignal: return "signal";
    case StepKind::kSleep: return "sleep";
  }
  return "unknown";
}

json Error(const std::string& code, const std::string& message) {
  if (code.empty() && message.empty()) return nullptr;
  return json{{"code", code}, {"message", message}};
}

json RunObject(const RunState& s, bool with_steps) {
  const RunStarted& def = *s.definition;
  json j{{"run_id", s.run.ToString()},
         {"workflow", def.workflow},
         {"version", def.version},
         {"tenant", def.tenant},
         {"status", RunStatusName(s.status)},
         {"seq", s.seq},
         {"epoch", s.epoch},
         {"paused_step", s.paused_step == kNoStep ? json(nullptr) : json(def.steps[s.paused_step].id)},
         {"output", Text(s.output)},
         {"error", Error(s.error_code, s.error_message)},
         {"parent_run", s.parent ? json(s.parent->ToString()) : json(nullptr)},
         {"started_unix_us", s.started_unix_us},
         {"updated_unix_us", s.updated_unix_us}};
  if (!with_steps) return j;
  json steps = json::array();
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const StepState& st = s.steps[i];
    const bool failed = st.status == StepStatus::kFailed || !st.error_code.empty();
    steps.push_back(json{{"id", def.steps[i].id},
                         {"kind", KindName(def.steps[i].kind)},
                         {"status", StepStatusName(st.status)},
                         {"epoch", st.epoch},
                         {"attempts", st.attempts},
                         {"total_attempts", st.total_attempts},
                         {"output", Text(st.output)},
                         {"error", failed ? Error(st.error_code, st.error_message) : json(nullptr)}});
  }
  j["steps"] = std::move(steps);
  json resumes = json::array();
  for (const ResumeRecord& r : s.resumes) {
    resumes.push_back(json{{"request_id", r.request_id},
                           {"from_step", def.steps[r.from_step].id},
                           {"epoch", r.epoch},
                           {"seq", r.seq}});
  }
  j["resumes"] = std::move(resumes);
  return j;
}

std::string Seconds(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(us) / 1e6);
  return buf;
}

}  // namespace

std::string RunJson(const RunState& state) { return Dump(RunObject(state, true)); }

std::string ResumeJson(const RunId& run, const ResumeResult& r, bool dry_run) {
  return Dump(json{{"run_id", run.ToString()},
                   {"dry_run", dry_run},
                   {"repeated", r.repeated},
                   {"from_step", r.from_step_id},
                   {"epoch", r.epoch},
                   {"seq", r.seq},
                   {"kept", r.kept},
                   {"reset", r.reset}});
}

std::string ErrorJson(const Status& status, int exit_code) {
  return Dump(json{{"error", Error(std::string(CodeName(status.code())), status.message())},
                   {"exit_code", exit_code}});
}

std::string RunListJson(const std::vector<RunState>& runs) {
  json list = json::array();
  for (const RunState& s : runs) list.push_back(RunObject(s, false));
  return Dump(json{{"runs", std::move(list)}});
}

std::string ObjectJson(const std::vector<std::pair<std::string, std::string>>& fields) {
  json j = json::object();
  for (const auto& [k, v] : fields) j[k] = v;
  return Dump(j);
}

std::string RunText(const RunState& s) {
  const RunStarted& def = *s.definition;
  std::string out = "run " + s.run.ToString() + "  " + def.workflow + " v" + std::to_string(def.version) +
                    "  tenant " + def.tenant + "\n";
  out += "status " + std::string(RunStatusName(s.status)) + "  seq " + std::to_string(s.seq) + "  epoch " +
         std::to_string(s.epoch);
  if (s.parent) out += "  forked from " + s.parent->ToString() + " at seq " + std::to_string(s.parent_seq);
  out += "\n";
  if (!s.error_message.empty()) out += "error " + s.error_code + ": " + s.error_message + "\n";
  if (s.status == RunStatus::kPaused && s.paused_step != kNoStep) {
    out += "waiting for " + std::string(def.steps[s.paused_step].kind == StepKind::kApproval ? "approval of '"
                                                                                             : "a signal at '") +
           def.steps[s.paused_step].id + "'\n";
  }
  char line[512];
  std::snprintf(line, sizeof(line), "  %-3s %-20s %-10s %-11s %8s %6s  %s\n", "#", "step", "kind", "status",
                "attempts", "epoch", "output / error");
  out += line;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const StepState& st = s.steps[i];
    std::string detail = st.status == StepStatus::kFailed ? st.error_code + ": " + st.error_message : Text(st.output);
    for (char& c : detail) {
      if (c == '\n') c = ' ';
    }
    if (detail.size() > 60) detail = detail.substr(0, 57) + "...";
    const std::string attempts = std::to_string(st.attempts) + "/" + std::to_string(st.total_attempts);
    std::snprintf(line, sizeof(line), "  %-3zu %-20s %-10s %-11s %8s %6u  %s\n", i + 1, def.steps[i].id.c_str(),
                  KindName(def.steps[i].kind), std::string(StepStatusName(st.status)).c_str(), attempts.c_str(),
                  st.epoch, detail.c_str());
    out += line;
  }
  if (!s.output.empty()) out += "output " + Text(s.output) + "\n";
  return out;
}

std::string RunListText(const std::vector<RunState>& runs) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-32s  %-16s  %-10s  %6s  %s\n", "run", "workflow", "status", "events",
                "tenant");
  out += line;
  for (const RunState& s : runs) {
    std::snprintf(line, sizeof(line), "%-32s  %-16s  %-10s  %6llu  %s\n", s.run.ToString().c_str(),
                  s.definition->workflow.c_str(), std::string(RunStatusName(s.status)).c_str(),
                  static_cast<unsigned long long>(s.seq), s.definition->tenant.c_str());
    out += line;
  }
  return out;
}

std::vector<std::string> ProgressLines(const RunState& after, const std::vector<Event>& appended,
                                       std::int64_t now_unix_us) {
  const RunStarted& def = *after.definition;
  const std::string run = after.run.ToString().substr(0, 12);
  auto step = [&](std::uint32_t i) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%-16s", def.steps[i].id.c_str());
    return std::string(buf);
  };
  std::vector<std::string> lines;
  for (const Event& e : appended) {
    std::string line = std::visit(
        [&](const auto& b) -> std::string {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, RunStarted>) {
            return "started " + def.workflow + " (" + std::to_string(def.steps.size()) + " steps)";
          } else if constexpr (std::is_same_v<T, RunForked>) {
            return "forked from run " + b.parent_run.ToString() + " at seq " + std::to_string(b.parent_seq);
          } else if constexpr (std::is_same_v<T, StepStarted>) {
            return "  " + step(b.step) + " started (attempt " + std::to_string(b.attempt) + ")";
          } else if constexpr (std::is_same_v<T, StepCompleted>) {
            return "  " + step(b.step) + " completed";
          } else if constexpr (std::is_same_v<T, StepFailed>) {
            return "  " + step(b.step) + " failed (attempt " + std::to_string(b.attempt) + "): " + b.message;
          } else if constexpr (std::is_same_v<T, StepAbandoned>) {
            return "  " + step(b.step) + " attempt " + std::to_string(b.attempt) + " abandoned by a crash";
          } else if constexpr (std::is_same_v<T, RetryScheduled>) {
            return "  " + step(b.step) + " retry in " + Seconds(std::max<std::int64_t>(0, b.due_unix_us - now_unix_us));
          } else if constexpr (std::is_same_v<T, RunPaused>) {
            if (b.reason == PauseReason::kManual) return "paused by an operator";
            if (b.reason == PauseReason::kApprovalRequired) {
              return "  " + step(b.step) + " waiting for approval: rewind approve " + after.run.ToString() + " " +
                     def.steps[b.step].id;
            }
            return "  " + step(b.step) + " waiting for signal '" + def.steps[b.step].handler +
                   "': rewind signal " + after.run.ToString() + " " + def.steps[b.step].handler;
          } else if constexpr (std::is_same_v<T, ApprovalDecided>) {
            return "  " + step(b.step) + (b.approved ? " approved" : " rejected") +
                   (e.actor ? " by " + e.actor->subject : std::string());
          } else if constexpr (std::is_same_v<T, SignalReceived>) {
            return "signal '" + b.name + "' received";
          } else if constexpr (std::is_same_v<T, TimerScheduled>) {
            return "  " + step(b.step) + " sleeping " + Seconds(std::max<std::int64_t>(0, b.due_unix_us - now_unix_us));
          } else if constexpr (std::is_same_v<T, TimerFired>) {
            return "  " + step(b.step) + " woke up";
          } else if constexpr (std::is_same_v<T, ResumeRequested>) {
            return "resumed from '" + def.steps[b.from_step].id + "'" +
                   (e.actor ? " by " + e.actor->subject : std::string()) +
                   (b.reason.empty() ? std::string() : ": " + b.reason);
          } else if constexpr (std::is_same_v<T, CancelRequested>) {
            return std::string();
          } else if constexpr (std::is_same_v<T, RunCancelled>) {
            return "cancelled" + (b.reason.empty() ? std::string() : ": " + b.reason);
          } else if constexpr (std::is_same_v<T, RunCompleted>) {
            return "completed";
          } else {
            static_assert(std::is_same_v<T, RunFailed>);
            return "failed: " + b.message;
          }
        },
        e.body);
    if (!line.empty()) lines.push_back("run " + run + "  " + line);
  }
  return lines;
}

}  // namespace rwd::cli
