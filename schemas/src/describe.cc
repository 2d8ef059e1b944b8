#include "rewind/schemas/describe.h"

#include <cstdio>

namespace rwd {
namespace {

// Appends ` name=value` pairs to one line.
class Line {
 public:
  explicit Line(std::string_view type) : out_(type) {}
  Line& Num(std::string_view name, std::uint64_t v) { return Raw(name, std::to_string(v)); }
  Line& Signed(std::string_view name, std::int64_t v) { return Raw(name, std::to_string(v)); }
  Line& Flag(std::string_view name, bool v) { return Raw(name, v ? "true" : "false"); }
  Line& Text(std::string_view name, std::string_view v) {
    if (v.empty()) return *this;
    std::string quoted = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') quoted += '\\';
      if (c == '\n') {
        quoted += "\\n";
        continue;
      }
      quoted += c;
    }
    return Raw(name, quoted + "\"");
  }
  Line& Data(std::string_view name, const Bytes& v) {
    if (v.empty()) return *this;
    std::string shown;
    for (std::size_t i = 0; i < v.size() && i < 32; ++i) {
      shown += (v[i] >= 0x20 && v[i] < 0x7f) ? static_cast<char>(v[i]) : '.';
    }
    if (v.size() > 32) shown += "…";
    return Raw(name, "[" + std::to_string(v.size()) + "B \"" + shown + "\"]");
  }
  Line& Raw(std::string_view name, std::string_view value) {
    out_ += ' ';
    out_ += name;
    out_ += '=';
    out_ += value;
    return *this;
  }
  std::string str() { return std::move(out_); }

 private:
  std::string out_;
};


std::string Steps(const std::vector<StepDef>& steps) {
  std::string out = "[";
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i > 0) out += ',';
    out += steps[i].id;
    if (steps[i].kind != StepKind::kCode) out += "(" + std::string(StepKindName(steps[i].kind)) + ")";
  }
  return out + "]";
}

std::string Describe(const RunStarted& e) {
  return Line("RunStarted").Text("workflow", e.workflow).Num("version", e.version)
      .Raw("steps", Steps(e.steps)).Data("input", e.input).Text("tenant", e.tenant)
      .Text("idempotency_key", e.idempotency_key).str();
}
std::string Describe(const StepStarted& e) {
  return Line("StepStarted").Num("step", e.step).Num("attempt", e.attempt).Num("epoch", e.epoch).str();
}
std::string Describe(const StepCompleted& e) {
  return Line("StepCompleted").Num("step", e.step).Num("attempt", e.attempt).Num("epoch", e.epoch)
      .Data("output", e.output).str();
}
std::string Describe(const StepFailed& e) {
  return Line("StepFailed").Num("step", e.step).Num("attempt", e.attempt).Num("epoch", e.epoch)
      .Text("code", e.code)
      .Text("message", e.message).Flag("retryable", e.retryable).str();
}
std::string Describe(const RetryScheduled& e) {
  return Line("RetryScheduled").Num("step", e.step).Num("next_attempt", e.next_attempt)
      .Signed("due_unix_us", e.due_unix_us).str();
}
std::string Describe(const StepAbandoned& e) {
  return Line("StepAbandoned").Num("step", e.step).Num("attempt", e.attempt).Num("epoch", e.epoch).str();
}
std::string Describe(const RunPaused& e) {
  return Line("RunPaused").Num("step", e.step).Raw("reason", std::string(PauseReasonName(e.reason))).Text("message", e.message).str();
}
std::string Describe(const ApprovalDecided& e) {
  return Line("ApprovalDecided").Num("step", e.step).Flag("approved", e.approved).Data("data", e.data).str();
}
std::string Describe(const SignalReceived& e) {
  return Line("SignalReceived").Text("name", e.name).Data("payload", e.payload).str();
}
std::string Describe(const TimerScheduled& e) {
  return Line("TimerScheduled").Num("step", e.step).Signed("due_unix_us", e.due_unix_us).str();
}
std::string Describe(const TimerFired& e) { return Line("TimerFired").Num("step", e.step).str(); }
std::string Describe(const ResumeRequested& e) {
  return Line("ResumeRequested").Num("from_step", e.from_step).Text("reason", e.reason)
      .Text("request_id", e.request_id).Data("data", e.data).str();
}
std::string Describe(const RunForked& e) {
  return Line("RunForked").Raw("parent_run", e.parent_run.ToString()).Num("parent_seq", e.parent_seq)
      .Num("from_step", e.from_step).Text("workflow", e.start.workflow)
      .Num("kept", e.kept.size()).str();
}
std::string Describe(const CancelRequested& e) { return Line("CancelRequested").Text("reason", e.reason).str(); }
std::string Describe(const RunCancelled& e) { return Line("RunCancelled").Text("reason", e.reason).str(); }
std::string Describe(const RunCompleted& e) { return Line("RunCompleted").Data("output", e.output).str(); }
std::string Describe(const RunFailed& e) {
  return Line("RunFailed").Num("step", e.step).Text("code", e.code).Text("message", e.message).str();
}

}  // namespace

namespace {

template <typename E, std::size_t N>
std::string_view NameIn(const std::array<std::string_view, N>& names, E value) {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : std::string_view("unknown");
}

}  // namespace

std::string_view StepKindName(StepKind kind) { return NameIn(kStepKindNames, kind); }
std::string_view PauseReasonName(PauseReason reason) { return NameIn(kPauseReasonNames, reason); }
std::string_view ActorKindName(ActorKind kind) { return NameIn(kActorKindNames, kind); }

std::string DescribeBody(const EventBody& body) {
  return std::visit([](const auto& b) { return Describe(b); }, body);
}

std::string DescribeEvent(const Event& event) {
  if (!event.actor.has_value()) return DescribeBody(event.body);
  const Actor& a = *event.actor;
  std::string who(ActorKindName(a.kind));
  who += ':' + a.subject;
  if (!a.tenant.empty()) who += '@' + a.tenant;
  return "[" + who + "] " + DescribeBody(event.body);
}

}  // namespace rwd
