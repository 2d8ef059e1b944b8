// Workflow files (rewind/executor/workflow_file.h) on arbitrary text, as
// `rewind run FILE` reads them. ParseWorkflowFile must never crash or throw
// (and stays within libFuzzer's time and memory limits). It answers
// InvalidArgument with a message "fuzz.json:<line>:<column>: <what>" whose
// position lies within the text (the same again for the same text), or a
// workflow that
//   * parses again to the same definition (parsing is deterministic);
//   * is a valid definition (Workflow::Definition, so ValidateDefinition, with
//     its DefinitionHash), with a handler exactly for each command step;
//   * starts a run as the engine records it: a RunStarted with a tenant, an
//     input and an idempotency key that survives Encode and Decode unchanged,
//     validates, and folds as the run's first event;
//   * rebuilds from that record (WorkflowFromDefinition, what recovery and
//     ShellWorkflowResolver do) to the same definition, hash included;
//   * runs to completion under the decider (Plan) when each command step fails
//     its first attempt retryably (if its policy allows a second) and succeeds
//     on the next, every approval is granted, every signal delivered and every
//     timer waited for: no event it decides is refused by Evolve, and nothing
//     gets stuck.
// Text that is not a workflow is also tried as the recorded config of a
// command step: WorkflowFromDefinition answers InvalidArgument, or a workflow
// whose definition records exactly the given steps.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "fuzz/fuzz_check.h"
#include "rewind/fold/decide.h"
#include "rewind/fold/run_state.h"
#include "rewind/executor/workflow_file.h"

namespace {

constexpr std::string_view kSource = "fuzz.json";
// A plausible clock: 2024-01-01, in microseconds since the epoch.
constexpr std::int64_t kStartUs = 1'704'067'200'000'000;
const rwd::RunId kRun(rwd::RunId::Bytes{0x01, 0x8f, 0xc4, 0x2a, 0x00, 0x02});

// Reads a decimal number at `*at` (advancing it); 0 when there is none.
std::size_t ReadNumber(std::string_view s, std::size_t* at) {
  std::size_t n = 0;
  const std::size_t start = *at;
  while (*at < s.size() && std::isdigit(static_cast<unsigned char>(s[*at])) && *at - start < 12) {
    n = n * 10 + static_cast<std::size_t>(s[(*at)++] - '0');
  }
  return *at > start ? n : 0;
}

// "fuzz.json:<line>:<column>: <what>", the position within `text` (the column
// may point one past the end of its line, where the parser found the end).
void CheckErrorMessage(std::string_view text, const std::string& message) {
  const std::string prefix = std::string(kSource) + ":";
  FUZZ_CHECK(message.compare(0, prefix.size(), prefix) == 0);
  std::size_t at = prefix.size();
  const std::size_t line = ReadNumber(message, &at);
  FUZZ_CHECK(at < message.size() && message[at] == ':');
  ++at;
  const std::size_t column = ReadNumber(message, &at);
  FUZZ_CHECK(message.compare(at, 2, ": ") == 0 && message.size() > at + 2);
  FUZZ_CHECK(line >= 1 && column >= 1);
  std::size_t line_start = 0;
  for (std::size_t l = 1; l < line; ++l) {
    line_start = text.find('\n', line_start);
    FUZZ_CHECK(line_start != std::string_view::npos);
    ++line_start;
  }
  const std::size_t line_end = std::min(text.find('\n', line_start), text.size());
  FUZZ_CHECK(column <= line_end - line_start + 1);
}

rwd::Event At(std::int64_t unix_us, rwd::EventBody body, bool by_user = false) {
  rwd::Event e{unix_us, std::nullopt, rwd::kSchemaVersion, std::move(body)};
  if (by_user) e.actor = rwd::Actor{rwd::ActorKind::kUser, "fuzz", "default"};
  return e;
}

// Drives the run the way a cooperative world would (see the file comment).
void RunToCompletion(rwd::RunState state) {
  const rwd::RunStarted& def = *state.definition;
  std::int64_t now = kStartUs;
  // Each step needs a few rounds: start, fail, retry, complete; a gate or a
  // signal pauses the run once.
  const std::size_t max_rounds = 8 * def.steps.size() + 8;
  for (std::size_t round = 0; round < max_rounds; ++round) {
    auto plan = rwd::Plan(state, now);
    FUZZ_CHECK(plan.has_value());
    if (state.status == rwd::RunStatus::kCompleted) return;
    bool acted = false;
    for (std::uint32_t i = 0; i < state.steps.size(); ++i) {
      const rwd::StepState& step = state.steps[i];
      if (step.status != rwd::StepStatus::kRunning) continue;
      const rwd::RetryPolicy& retry = def.steps[i].retry;
      rwd::EventBody outcome;
      if (step.attempts == 1 && retry.max_attempts >= 2) {
        outcome = rwd::StepFailed{i, step.attempts, "unavailable", "try again", true, step.epoch};
      } else {
        outcome = rwd::StepCompleted{i, step.attempts, rwd::ToBytes("out"), step.epoch};
      }
      FUZZ_CHECK(rwd::Evolve(state, At(now, std::move(outcome))).ok());
      acted = true;
    }
    if (state.status == rwd::RunStatus::kPaused) {
      FUZZ_CHECK(!acted && state.paused_step < def.steps.size());
      const rwd::StepDef& gate = def.steps[state.paused_step];
      rwd::EventBody answer = rwd::ApprovalDecided{state.paused_step, true, rwd::ToBytes("ok")};
      if (gate.kind == rwd::StepKind::kSignal) answer = rwd::SignalReceived{gate.handler, rwd::ToBytes("sig")};
      FUZZ_CHECK(gate.kind == rwd::StepKind::kApproval || gate.kind == rwd::StepKind::kSignal);
      FUZZ_CHECK(rwd::Evolve(state, At(now, std::move(answer), /*by_user=*/true)).ok());
      acted = true;
    }
    if (acted) continue;
    // Only retries and timers are left: wait for the earliest.
    FUZZ_CHECK(state.status == rwd::RunStatus::kRunning && plan->wake_unix_us.has_value());
    FUZZ_CHECK(*plan->wake_unix_us > now);
    now = *plan->wake_unix_us;
  }
  FUZZ_CHECK(state.status == rwd::RunStatus::kCompleted);  // within the rounds its steps need
}

void CheckAccepted(std::string_view text, const rwd::Workflow& workflow) {
  const rwd::Result<rwd::RunStarted> definition = workflow.Definition();
  FUZZ_CHECK(definition.has_value());
  FUZZ_CHECK(rwd::ValidateDefinition(*definition).ok());
  const rwd::Hash hash = rwd::DefinitionHash(*definition);
  FUZZ_CHECK(definition->definition_hash == rwd::Bytes(hash.begin(), hash.end()));
  for (std::size_t i = 0; i < definition->steps.size(); ++i) {
    FUZZ_CHECK((workflow.handler(i) != nullptr) == (definition->steps[i].kind == rwd::StepKind::kCode));
  }

  const auto again = rwd::ParseWorkflowFile(text, kSource);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->Definition() == definition);

  // What Engine::Start records.
  rwd::RunStarted started = *definition;
  started.input = rwd::ToBytes("{\"qty\": 1}");
  started.tenant = "default";
  started.idempotency_key = "fuzz-key";
  const rwd::Event first = At(kStartUs, started, /*by_user=*/true);
  const auto decoded = rwd::Decode(rwd::Encode(first));
  FUZZ_CHECK(decoded.has_value());
  FUZZ_CHECK(*decoded == first);
  const auto& recorded = std::get<rwd::RunStarted>(decoded->body);
  FUZZ_CHECK(rwd::ValidateDefinition(recorded).ok());
  auto state = rwd::Fold(kRun, std::span<const rwd::Event>(&*decoded, 1));
  FUZZ_CHECK(state.has_value());
  FUZZ_CHECK(state->status == rwd::RunStatus::kRunning);

  const auto rebuilt = rwd::WorkflowFromDefinition(recorded);
  FUZZ_CHECK(rebuilt.has_value());
  FUZZ_CHECK(rebuilt->Definition() == definition);

  RunToCompletion(std::move(*state));
}

// `text` as the config a command step (handler "shell") or an http step
// (handler "http") recorded.
void CheckAsConfig(std::string_view text, std::string_view handler) {
  rwd::RunStarted recorded;
  recorded.workflow = "fuzz";
  recorded.version = 1;
  rwd::StepDef step;
  step.id = "step";
  step.handler = std::string(handler);
  step.retry = rwd::kDefaultRetry;
  step.config = rwd::ToBytes(text);
  recorded.steps.push_back(step);
  const auto rebuilt = rwd::WorkflowFromDefinition(recorded);
  if (!rebuilt.has_value()) {
    FUZZ_CHECK(rebuilt.error().code() == rwd::Code::kInvalidArgument);
    FUZZ_CHECK(!rebuilt.error().message().empty());
    return;
  }
  const auto definition = rebuilt->Definition();
  FUZZ_CHECK(definition.has_value());
  FUZZ_CHECK(definition->steps == recorded.steps);
  FUZZ_CHECK(rebuilt->handler(0) != nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const rwd::Result<rwd::Workflow> workflow = rwd::ParseWorkflowFile(text, kSource);
  if (workflow.has_value()) {
    CheckAccepted(text, *workflow);
    return 0;
  }
  FUZZ_CHECK(workflow.error().code() == rwd::Code::kInvalidArgument);
  CheckErrorMessage(text, workflow.error().message());
  const auto again = rwd::ParseWorkflowFile(text, kSource);
  FUZZ_CHECK(!again.has_value() && again.error() == workflow.error());
  CheckAsConfig(text, "shell");
  CheckAsConfig(text, "http");
  return 0;
}
