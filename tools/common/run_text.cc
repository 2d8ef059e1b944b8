#include "tools/common/run_text.h"

#include <cstdio>

#include "tools/common/text.h"

namespace rwd::cli {
namespace {

// Names, errors and outputs come from users and handlers: printed Printable.
std::string Text(const Bytes& b) { return Printable(AsChars(b)); }

}  // namespace


std::string RunText(const RunState& s) {
  const RunStarted& def = *s.definition;
  std::string out = "run " + s.run.ToString() + "  " + Printable(def.workflow) + " v" +
                    std::to_string(def.version) + "  tenant " + Printable(def.tenant) + "\n";
  out += "status " + std::string(RunStatusName(s.status)) + "  seq " + std::to_string(s.seq) + "  epoch " +
         std::to_string(s.epoch);
  if (s.parent) out += "  forked from " + s.parent->ToString() + " at seq " + std::to_string(s.parent_seq);
  out += "\n";
  if (!s.error_message.empty()) out += "error " + Printable(s.error_code + ": " + s.error_message) + "\n";
  if (s.status == RunStatus::kPaused && s.paused_step != kNoStep) {
    out += "waiting for " + std::string(def.steps[s.paused_step].kind == StepKind::kApproval ? "approval of '"
                                                                                             : "a signal at '") +
           Printable(def.steps[s.paused_step].id) + "'\n";
  }
  char line[512];
  std::snprintf(line, sizeof(line), "  %-3s %-20s %-10s %-11s %8s %6s  %s\n", "#", "step", "kind", "status",
                "attempts", "epoch", "output / error");
  out += line;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const StepState& st = s.steps[i];
    const std::string detail =
        Clip(st.status == StepStatus::kFailed ? st.error_code + ": " + st.error_message : std::string(AsChars(st.output)),
             60);
    const std::string attempts = std::to_string(st.attempts) + "/" + std::to_string(st.total_attempts);
    std::snprintf(line, sizeof(line), "  %-3zu %-20s %-10s %-11s %8s %6u  %s\n", i + 1,
                  Printable(def.steps[i].id).c_str(),
                  std::string(StepKindName(def.steps[i].kind)).c_str(), std::string(StepStatusName(st.status)).c_str(), attempts.c_str(),
                  st.epoch, detail.c_str());
    out += line;
  }
  if (!s.output.empty()) out += "output " + Text(s.output) + "\n";
  return out;
}

}  // namespace rwd::cli
