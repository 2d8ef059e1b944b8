#include "bench/engine_util.h"

#include <limits>

#include "bench/bench_util.h"

namespace rwd::bench {

Workflow NoopWorkflow(const std::string& name, int steps) {
  Workflow workflow(name);
  for (int i = 1; i <= steps; ++i) {
    workflow.Step("step" + std::to_string(i), [](const StepContext&) -> Result<Bytes> { return Bytes(); });
  }
  return workflow;
}

Principal BenchPrincipal() {
  Principal who;
  who.subject = "bench";
  who.roles = {std::string(kOperatorRole)};
  return who;
}

Status ProjectionsHealthy(Engine& engine) {
  if (engine.projections() == nullptr) return Status::Ok();
  for (const ProjectionStatus& st : engine.projections()->Health()) {
    if (st.health == ProjectionHealth::kFailed) {
      return Status(Code::kInternal, "projection " + st.name + " failed during the bench: " + st.error);
    }
  }
  return Status::Ok();
}

Status ProjectionsMatchRebuild(Projections& projections) {
  REWIND_RETURN_IF_ERROR(projections.CatchUp().WithContext("catch-up"));
  REWIND_ASSIGN_OR_RETURN(const auto maintained, projections.Digests());
  REWIND_RETURN_IF_ERROR(projections.Rebuild({}).WithContext("rebuild"));
  REWIND_ASSIGN_OR_RETURN(const auto rebuilt, projections.Digests());
  std::string differ;
  for (std::size_t i = 0; i < maintained.size(); ++i) {
    if (i < rebuilt.size() && maintained[i] == rebuilt[i]) continue;
    differ += (differ.empty() ? "" : ", ") + maintained[i].first;
  }
  if (!differ.empty()) return Status(Code::kInternal, "projections differ from their rebuild: " + differ);
  return Status::Ok();
}

Status CommitFloor::Sample() {
  const Bytes payload = Encode(Event{0, std::nullopt, kSchemaVersion, Next()});
  const Clock::time_point sent = Clock::now();
  REWIND_ASSIGN_OR_RETURN(AppendResult result, journal_.Append(run_, seq_, {payload}));
  commit_ms_.push_back(Millis(Clock::now() - sent));
  seq_ = result.head.seq;
  return Status::Ok();
}

Status CommitFloor::Sample(unsigned n) {
  for (unsigned i = 0; i < n; ++i) REWIND_RETURN_IF_ERROR(Sample().WithContext("floor"));
  return Status::Ok();
}

double CommitFloor::P50() const {
  std::vector<double> samples = commit_ms_;
  return Percentile(samples, 0.5);
}

double CommitFloor::P99() const {
  std::vector<double> samples = commit_ms_;
  return Percentile(samples, 0.99);
}

EventBody CommitFloor::Next() const {
  if (seq_ == 0) {
    StepDef step;
    step.id = "retried";
    step.retry.max_attempts = std::numeric_limits<std::uint32_t>::max();
    RunStarted start;
    start.workflow = "bench-floor";
    start.version = 1;
    start.steps = {step};
    start.tenant = "default";
    return start;
  }
  const auto attempt = static_cast<std::uint32_t>((seq_ - 1) / 3 + 1);
  switch ((seq_ - 1) % 3) {
    case 0: return StepStarted{0, attempt, 0};
    case 1: return StepFailed{0, attempt, "floor", "a floor append", true, 0};
    default: return RetryScheduled{0, attempt + 1, 0};
  }
}

}  // namespace rwd::bench
