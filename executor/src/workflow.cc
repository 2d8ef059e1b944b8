#include "rewind/executor/workflow.h"

#include <map>
#include <string_view>

#include "rewind/fold/run_state.h"

namespace rwd {

bool IsPermanentFailure(Code code) {
  return code == Code::kInvalidArgument || code == Code::kFailedPrecondition ||
         code == Code::kPermissionDenied || code == Code::kNotFound;
}

StepBuilder& StepBuilder::After(std::initializer_list<std::string_view> ids) {
  return After(std::vector<std::string>(ids.begin(), ids.end()));
}

StepBuilder& StepBuilder::After(const std::vector<std::string>& ids) {
  auto& entry = workflow_->steps_[index_];
  entry.after = ids;
  entry.explicit_after = true;
  return *this;
}

StepBuilder& StepBuilder::Retry(const RetryPolicy& policy) {
  workflow_->steps_[index_].def.retry = policy;
  return *this;
}

StepBuilder& StepBuilder::Timeout(std::chrono::milliseconds timeout) {
  workflow_->steps_[index_].def.timeout_ms = static_cast<std::uint32_t>(timeout.count());
  return *this;
}

StepBuilder& StepBuilder::Handler(std::string name) {
  workflow_->steps_[index_].def.handler = std::move(name);
  return *this;
}

StepBuilder& StepBuilder::Config(Bytes config) {
  workflow_->steps_[index_].def.config = std::move(config);
  return *this;
}

Workflow::Workflow(std::string name, std::uint32_t version)
    : name_(std::move(name)), version_(version) {}

StepBuilder Workflow::Add(StepDef def, StepHandler handler) {
  steps_.push_back(Entry{std::move(def), std::move(handler), {}, false});
  return StepBuilder(this, steps_.size() - 1);
}

StepBuilder Workflow::Step(std::string id, StepHandler handler) {
  StepDef def;
  def.id = std::move(id);
  def.kind = StepKind::kCode;
  def.retry = kDefaultRetry;
  return Add(std::move(def), std::move(handler));
}

StepBuilder Workflow::Approval(std::string id) {
  StepDef def;
  def.id = std::move(id);
  def.kind = StepKind::kApproval;
  return Add(std::move(def), nullptr);
}

StepBuilder Workflow::Signal(std::string id, std::string signal_name) {
  StepDef def;
  def.id = std::move(id);
  def.kind = StepKind::kSignal;
  def.handler = std::move(signal_name);
  return Add(std::move(def), nullptr);
}

StepBuilder Workflow::Sleep(std::string id, std::chrono::milliseconds duration) {
  StepDef def;
  def.id = std::move(id);
  def.kind = StepKind::kSleep;
  def.sleep_ms = static_cast<std::uint64_t>(duration.count());
  return Add(std::move(def), nullptr);
}

Result<RunStarted> Workflow::Definition() const {
  RunStarted out;
  out.workflow = name_;
  out.version = version_;
  if (name_.empty()) return Err(Code::kInvalidArgument, "workflow has no name");
  // Each id's index (the last step of that id; a repeated id is refused below).
  std::map<std::string_view, std::uint32_t> by_id;
  for (std::size_t j = 0; j < steps_.size(); ++j) {
    by_id.insert_or_assign(steps_[j].def.id, static_cast<std::uint32_t>(j));
  }
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Entry& entry = steps_[i];
    StepDef def = entry.def;
    if (def.kind == StepKind::kCode && !entry.handler) {
      return Err(Code::kInvalidArgument, "step '" + def.id + "' has no handler");
    }
    if (!entry.explicit_after) {
      if (i > 0) def.depends_on = {static_cast<std::uint32_t>(i - 1)};
    } else {
      for (const std::string& id : entry.after) {
        const auto dep = by_id.find(id);
        if (dep == by_id.end()) {
          return Err(Code::kInvalidArgument,
                     "step '" + def.id + "' depends on unknown step '" + id + "'");
        }
        def.depends_on.push_back(dep->second);
      }
    }
    out.steps.push_back(std::move(def));
  }
  REWIND_RETURN_IF_ERROR(ValidateDefinition(out).WithContext("workflow '" + name_ + "'"));
  REWIND_RETURN_IF_ERROR(CheckLimits(out));
  const Hash hash = DefinitionHash(out);
  out.definition_hash.assign(hash.begin(), hash.end());
  return out;
}

const StepHandler* Workflow::handler(std::size_t index) const {
  if (index >= steps_.size() || !steps_[index].handler) return nullptr;
  return &steps_[index].handler;
}

Hash DefinitionHash(const RunStarted& definition) { return Sha256(EncodeDefinition(definition)); }

}  // namespace rwd
