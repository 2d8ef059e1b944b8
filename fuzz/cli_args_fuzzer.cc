// The rewind CLI's command line (tools/rewind/cli_args.h) on arbitrary
// arguments. Input: the arguments after the program's name, each ended by a
// NUL byte (the last one need not be); at most 64 are used.
//
// ParseCommandLine must never crash or throw. Without an invocation it printed
// help (exit 0, on `out`) or a usage error (exit 2, on `err`). With one it
// printed nothing; `state` has exactly one of --at-seq and --at-step; --limit
// is within 1..1000000; and each argument converts as the engine requires:
//   * RUN and audit --run: RunId::Parse gives an id that prints back as the
//     text in lower case, or InvalidArgument;
//   * step references, against a fixed definition: ResolveStep gives a step
//     with that id or that 1-based number, or NotFound;
//   * state --at-seq / --at-step, on a fixed run (StateSeq): a seq within the
//     history whose prefix folds (--at-seq K: K itself), or InvalidArgument,
//     NotFound or FailedPrecondition;
//   * --input (InputFilePath), runs --status (ParseRunStatus): as documented;
//   * --tenant: the operator principal DefaultAuthorizer lets do everything;
//   * the text the engine records (a run's input, idempotency key and tenant,
//     a resume's reason, request id and data, approval notes, signal names
//     and payloads, pause and cancel reasons) makes events that survive Encode
//     and Decode unchanged and that Evolve accepts where the fixed run is in
//     the right state, unless the tenant is over kMaxNameBytes, which Evolve
//     refuses as the engine does.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "tools/rewind/cli_args.h"

namespace {

namespace cli = rwd::cli;

const rwd::RunId kRun(rwd::RunId::Bytes{0x01, 0x8f, 0xc4, 0x2a, 0x00, 0x03});
constexpr std::int64_t kNowUs = 1'704'067'200'000'000;
constexpr std::size_t kMaxArgs = 64;

rwd::Event At(rwd::EventBody body, const std::string& tenant = "default") {
  return rwd::Event{kNowUs, rwd::Actor{rwd::ActorKind::kUser, "fuzz", tenant}, rwd::kSchemaVersion,
                    std::move(body)};
}

// build (a command, retried once), approve (a gate), wait (for signal "go"),
// ship (never started).
rwd::RunStarted MakeDefinition() {
  rwd::RunStarted d;
  d.workflow = "order";
  d.version = 1;
  d.tenant = "default";
  std::vector<rwd::StepDef>& steps = d.steps.Mutable();
  steps.resize(4);
  steps[0].id = "build";
  steps[0].handler = "shell";
  steps[0].retry = rwd::RetryPolicy{3, 0, 2.0, 0, 0.0};
  steps[1].id = "approve";
  steps[1].kind = rwd::StepKind::kApproval;
  steps[1].depends_on = {0};
  steps[2].id = "wait";
  steps[2].kind = rwd::StepKind::kSignal;
  steps[2].handler = "go";
  steps[2].depends_on = {1};
  steps[3].id = "ship";
  steps[3].handler = "shell";
  steps[3].depends_on = {2};
  return d;
}

// The run so far: build failed once and then completed, approve was
// approved, and the run waits for the signal at step 3.
std::vector<rwd::Event> MakeHistory() {
  std::vector<rwd::Event> h;
  h.push_back(At(MakeDefinition()));
  h.push_back(At(rwd::StepStarted{0, 1, 0}));
  h.push_back(At(rwd::StepFailed{0, 1, "unavailable", "try again", true, 0}));
  h.push_back(At(rwd::StepStarted{0, 2, 0}));
  h.push_back(At(rwd::StepCompleted{0, 2, rwd::ToBytes("built"), 0}));
  h.push_back(At(rwd::RunPaused{1, rwd::PauseReason::kApprovalRequired, ""}));
  h.push_back(At(rwd::ApprovalDecided{1, true, rwd::ToBytes("ok")}));
  h.push_back(At(rwd::RunPaused{2, rwd::PauseReason::kSignalWait, ""}));
  FUZZ_CHECK(rwd::Fold(kRun, h).has_value());
  return h;
}

const std::vector<rwd::Event>& History() {
  static const std::vector<rwd::Event> history = MakeHistory();
  return history;
}

const rwd::RunHistory& RunHistory() {
  static const rwd::RunHistory history = *rwd::RunHistory::Of(kRun, History());
  return history;
}

// The run's state after its first `seq` events.
rwd::RunState StateAt(std::size_t seq) {
  auto state = rwd::Fold(kRun, std::span<const rwd::Event>(History()).first(seq));
  FUZZ_CHECK(state.has_value());
  return std::move(*state);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void CheckRunId(const std::string& text) {
  const auto run = rwd::RunId::Parse(text);
  if (run.has_value()) {
    FUZZ_CHECK(run->ToString() == Lower(text));
  } else {
    FUZZ_CHECK(run.error().code() == rwd::Code::kInvalidArgument);
  }
}

// The step `text` refers to in the fixed definition, if any.
std::optional<std::uint32_t> CheckStep(const std::string& text) {
  const rwd::RunStarted& def = std::get<rwd::RunStarted>(History()[0].body);
  const auto index = rwd::ResolveStep(def, text);
  if (!index.has_value()) {
    FUZZ_CHECK(index.error().code() == rwd::Code::kNotFound);
    return std::nullopt;
  }
  FUZZ_CHECK(*index < def.steps.size());
  FUZZ_CHECK(def.steps[*index].id == text || std::to_string(*index + 1) == text);
  return *index;
}

void CheckStateSeq(const cli::Invocation& a) {
  const auto seq = cli::StateSeq(RunHistory(), a.at_seq, a.step);
  if (!seq.has_value()) {
    const rwd::Code code = seq.error().code();
    FUZZ_CHECK(code == rwd::Code::kInvalidArgument || code == rwd::Code::kNotFound ||
               code == rwd::Code::kFailedPrecondition);
    return;
  }
  FUZZ_CHECK(*seq >= 1 && *seq <= History().size());
  if (a.at_seq) FUZZ_CHECK(*seq == *a.at_seq);
  FUZZ_CHECK(rwd::Fold(kRun, std::span<const rwd::Event>(History()).first(*seq)).has_value());
}

// `body`, recorded by the principal's tenant, survives the codec, and folds
// onto the run's state after `seq` events when the tenant is short enough.
void CheckRecorded(const cli::Invocation& a, rwd::EventBody body, std::size_t seq) {
  const rwd::Event event = At(std::move(body), a.context.tenant);
  const auto decoded = rwd::Decode(rwd::Encode(event));
  FUZZ_CHECK(decoded.has_value() && *decoded == event);
  if (seq == 0) return;
  rwd::RunState state = StateAt(seq);
  FUZZ_CHECK(rwd::Evolve(state, *decoded).ok() == (a.context.tenant.size() <= rwd::kMaxNameBytes));
}

void CheckInvocation(const cli::Invocation& a) {
  CheckRunId(a.run);
  if (!a.audit.run.empty()) CheckRunId(a.audit.run);
  const std::optional<std::uint32_t> step = CheckStep(a.step);
  CheckStateSeq(a);
  FUZZ_CHECK(a.runs.limit >= 1 && a.runs.limit <= 1'000'000);
  FUZZ_CHECK(a.audit.limit >= 1 && a.audit.limit <= 1'000'000);
  if (const auto status = rwd::ParseRunStatus(a.runs.status)) FUZZ_CHECK(rwd::RunStatusName(*status) == a.runs.status);

  const std::optional<std::string> path = cli::InputFilePath(a.input);
  FUZZ_CHECK(path.has_value() == (!a.input.empty() && a.input[0] == '@'));
  if (path) FUZZ_CHECK("@" + *path == a.input);

  // A tenant that reaches a command is one the engine takes (ValidateTenant).
  FUZZ_CHECK(rwd::ValidateTenant(a.context.tenant).ok());
  const rwd::Principal me = cli::OperatorPrincipal(a.context.tenant, "fuzz");
  FUZZ_CHECK(me.tenant == a.context.tenant && me.subject == "fuzz" && me.HasRole(rwd::kOperatorRole));
  for (rwd::Action action : {rwd::Action::kStart, rwd::Action::kRead, rwd::Action::kSignal, rwd::Action::kResume,
                             rwd::Action::kApprove, rwd::Action::kPause, rwd::Action::kCancel, rwd::Action::kFork}) {
    FUZZ_CHECK(rwd::DefaultAuthorizer(me, action, nullptr).ok());
  }

  const std::size_t paused_at_gate = 6;  // seq: waiting for approve
  const std::size_t paused_at_signal = History().size();
  switch (a.command) {
    case cli::Command::kRun: {
      rwd::RunStarted started = std::get<rwd::RunStarted>(History()[0].body);
      started.input = path ? rwd::Bytes{} : rwd::ToBytes(a.input);
      started.tenant = a.context.tenant;
      started.idempotency_key = a.idempotency_key;
      CheckRecorded(a, started, 0);
      FUZZ_CHECK(rwd::ValidateDefinition(started).ok() == (started.tenant.size() <= rwd::kMaxNameBytes));
      break;
    }
    case cli::Command::kResume:
      CheckRecorded(a, rwd::ResumeRequested{step.value_or(0), a.reason, a.request_id, rwd::ToBytes(a.resume_data)},
                    paused_at_signal);
      break;
    case cli::Command::kApprove:
    case cli::Command::kReject:
      CheckRecorded(a, rwd::ApprovalDecided{1, a.command == cli::Command::kApprove, rwd::ToBytes(a.note)},
                    paused_at_gate);
      break;
    case cli::Command::kSignal:
      CheckRecorded(a, rwd::SignalReceived{a.name, rwd::ToBytes(a.payload)}, paused_at_signal);
      break;
    case cli::Command::kPause:
      CheckRecorded(a, rwd::RunPaused{rwd::kNoStep, rwd::PauseReason::kManual, a.reason}, 2);
      break;
    case cli::Command::kCancel:
      CheckRecorded(a, rwd::CancelRequested{a.reason}, paused_at_signal);
      break;
    case cli::Command::kState:
      FUZZ_CHECK(a.at_seq.has_value() != !a.step.empty());
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args;
  for (std::size_t at = 0; at < size && args.size() < kMaxArgs;) {
    const std::uint8_t* nul = static_cast<const std::uint8_t*>(std::memchr(data + at, 0, size - at));
    const std::size_t end = nul != nullptr ? static_cast<std::size_t>(nul - data) : size;
    args.emplace_back(reinterpret_cast<const char*>(data + at), end - at);
    at = end + 1;
  }
  std::vector<const char*> argv{"rewind"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());

  std::ostringstream out, err;
  const cli::CommandLine line =
      cli::ParseCommandLine(static_cast<int>(argv.size()), argv.data(), "./rewind-data", out, err);
  if (!line.invocation) {
    FUZZ_CHECK(line.exit_code == cli::kExitOk || line.exit_code == cli::kExitUsage);
    FUZZ_CHECK(!(line.exit_code == cli::kExitOk ? out : err).str().empty());
    return 0;
  }
  FUZZ_CHECK(line.exit_code == cli::kExitOk && out.str().empty() && err.str().empty());
  CheckInvocation(*line.invocation);
  return 0;
}
