// Rewind events: the C++ face of schemas/events.fbs, with Encode and Decode.
//
// Every transition of a run is one Event: when it was recorded, who caused it
// (absent for the engine's own events), the schema version it was written with,
// and one body from the closed set below. The run id, run seq and hash chain are
// the journal's record header (FORMAT.md), not part of the event.
//
// Steps are named by their index in the definition a run was started with
// (RunStarted::steps, or RunForked::start.steps for a fork).
//
// These are plain values: copyable, comparable, thread-safe as any value.
// FlatBuffers never appears in this header; schemas/src/codec.cc is the only
// translation unit that includes the generated code.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"

namespace rwd {

// The schema version this build writes. Decode accepts any version up to it.
//   1  the first
//   2  a RunStarted may name its definition by hash, stored once in the
//      journal, instead of holding its steps (RunStarted::definition_stored)
inline constexpr std::uint16_t kSchemaVersion = 2;

// The version a definition's canonical encoding (EncodeDefinition) is made
// in, for good: its SHA-256 names the definition in every run and journal.
inline constexpr std::uint16_t kDefinitionSchemaVersion = 1;

// Decode refuses anything larger: no event of ours comes near it.
inline constexpr std::size_t kMaxEncodedEventBytes = 64u << 20;

// Tenants, workflow names, step ids and actor subjects are at most this long
// (in bytes): they key the read models. Definitions and actors longer than
// that are refused where they enter, and an event carrying one does not fold.
inline constexpr std::size_t kMaxNameBytes = 128;

enum class ActorKind : std::uint8_t { kSystem = 0, kEngine = 1, kUser = 2 };

struct Actor {
  ActorKind kind = ActorKind::kSystem;
  std::string subject;
  std::string tenant;
  friend bool operator==(const Actor&, const Actor&) = default;
};

enum class StepKind : std::uint8_t { kCode = 0, kApproval = 1, kSignal = 2, kSleep = 3 };

struct RetryPolicy {
  std::uint32_t max_attempts = 1;  // per epoch, the first attempt included
  std::uint32_t initial_backoff_ms = 0;
  double multiplier = 2.0;
  std::uint32_t max_backoff_ms = 0;
  double jitter = 0.0;  // 0..1
  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

// One step of a workflow definition: its id, kind (a code handler, an
// approval gate, a signal wait, a durable sleep), the steps it waits for, its
// retry policy and timeout, the handler name and opaque config recorded for
// the process that runs it, and a sleep's length.
struct StepDef {
  std::string id;
  StepKind kind = StepKind::kCode;
  std::vector<std::uint32_t> depends_on;  // indices into the definition's steps
  RetryPolicy retry;
  std::uint32_t timeout_ms = 0;  // 0: none
  std::string handler;
  std::uint64_t sleep_ms = 0;
  Bytes config;
  friend bool operator==(const StepDef&, const StepDef&) = default;
};

// A definition's steps: a value, copied in O(1). Copies share one immutable
// list until one of them is changed, which first gives it a list of its own
// (copy on write), so every run of a stored definition folds with the steps
// decoded once (codec.cc) rather than a copy each. Reading never copies;
// changing goes through push_back, emplace_back or Mutable(), which a shared
// list pays one copy for. Compared by value.
class StepDefs {
 public:
  using value_type = StepDef;
  using const_iterator = std::vector<StepDef>::const_iterator;
  using iterator = const_iterator;  // read-only: change through Mutable()

  StepDefs() = default;
  StepDefs(std::vector<StepDef> steps)  // NOLINT: implicit, as a vector's braces are
      : list_(steps.empty() ? nullptr : std::make_shared<std::vector<StepDef>>(std::move(steps))) {}
  StepDefs(std::initializer_list<StepDef> steps) : StepDefs(std::vector<StepDef>(steps)) {}

  std::size_t size() const { return list_ ? list_->size() : 0; }
  bool empty() const { return size() == 0; }
  const StepDef& operator[](std::size_t i) const { return (*list_)[i]; }
  const StepDef& front() const { return list_->front(); }
  const StepDef& back() const { return list_->back(); }
  const_iterator begin() const { return list_ ? list_->begin() : const_iterator(); }
  const_iterator end() const { return list_ ? list_->end() : const_iterator(); }
  const std::vector<StepDef>& list() const;  // an empty one when there are none

  // The steps to change in place, unshared first. A reference it returns (or
  // emplace_back returns) is valid until this StepDefs is copied from,
  // assigned or destroyed.
  std::vector<StepDef>& Mutable();
  void push_back(StepDef step) { Mutable().push_back(std::move(step)); }
  void clear() { list_.reset(); }
  template <typename... Args>
  StepDef& emplace_back(Args&&... args) {
    return Mutable().emplace_back(std::forward<Args>(args)...);
  }

  // Whether both hold the one list (copies, unchanged since): for tests.
  bool SharesWith(const StepDefs& other) const { return list_ != nullptr && list_ == other.list_; }

  friend bool operator==(const StepDefs& a, const StepDefs& b) {
    return a.list_ == b.list_ || a.list() == b.list();
  }

 private:
  std::shared_ptr<const std::vector<StepDef>> list_;  // null when empty
};

// The first event of a run: the workflow's definition as it was when the run
// started (so any later process can fold and continue it), the input, the
// tenant that owns the run, and the idempotency key of a keyed start.
struct RunStarted {
  std::string workflow;
  std::uint32_t version = 0;
  Bytes definition_hash;  // empty or 32 bytes: SHA-256 of EncodeDefinition
  StepDefs steps;
  Bytes input;
  std::string tenant;
  std::string idempotency_key;
  // The encoded event names the definition by definition_hash instead of
  // holding its steps: the journal stores it once, as a blob (FORMAT.md).
  // Decode fills `steps` in from there when given a DefinitionFinder, and
  // leaves them empty otherwise. Set by the engine for a journal that holds
  // the blob; needs schema version 2.
  bool definition_stored = false;
  friend bool operator==(const RunStarted&, const RunStarted&) = default;
};

// An attempt of a code step begins (attempt: 1-based within the epoch). Its
// handler runs only after this is durable; the handler's idempotency key is
// (run, step, epoch), the same for every attempt of the epoch.
struct StepStarted {
  std::uint32_t step = 0;
  std::uint32_t attempt = 0;
  std::uint32_t epoch = 0;
  friend bool operator==(const StepStarted&, const StepStarted&) = default;
};

// The attempt succeeded: `output` is the step's memoized result, which its
// dependents read and which no later attempt replaces in this epoch.
struct StepCompleted {
  std::uint32_t step = 0;
  std::uint32_t attempt = 0;
  Bytes output;
  std::uint32_t epoch = 0;
  friend bool operator==(const StepCompleted&, const StepCompleted&) = default;
};

// The attempt failed with an error code and message; retryable or not
// (a permanent failure, or the budget spent, fails the run).
struct StepFailed {
  std::uint32_t step = 0;
  std::uint32_t attempt = 0;
  std::string code;
  std::string message;
  bool retryable = true;
  std::uint32_t epoch = 0;
  friend bool operator==(const StepFailed&, const StepFailed&) = default;
};

// The failed step runs again as `next_attempt` at `due_unix_us` (backoff
// computed deterministically from the run, step, epoch and attempt).
struct RetryScheduled {
  std::uint32_t step = 0;
  std::uint32_t next_attempt = 0;
  std::int64_t due_unix_us = 0;
  friend bool operator==(const RetryScheduled&, const RetryScheduled&) = default;
};

// An attempt was in flight when the process driving the run stopped (a crash,
// a kill, no room to record its outcome): recorded by the next driver,
// counted as a failed, retryable attempt.
struct StepAbandoned {
  std::uint32_t step = 0;
  std::uint32_t attempt = 0;
  std::uint32_t epoch = 0;
  friend bool operator==(const StepAbandoned&, const StepAbandoned&) = default;
};

enum class PauseReason : std::uint8_t { kApprovalRequired = 0, kManual = 1, kSignalWait = 2 };

// The run waits for someone: an approval at a gate, a signal at a signal
// step (step: that step), or an operator's manual pause (step: kNoStep).
struct RunPaused {
  std::uint32_t step = 0;
  PauseReason reason = PauseReason::kApprovalRequired;
  std::string message;
  friend bool operator==(const RunPaused&, const RunPaused&) = default;
};

// An operator approved or rejected the gate the run waits at; an approval's
// data is the gate's output, a rejection fails the run.
struct ApprovalDecided {
  std::uint32_t step = 0;
  bool approved = false;
  Bytes data;
  friend bool operator==(const ApprovalDecided&, const ApprovalDecided&) = default;
};

// A named signal arrived with a payload: it completes the signal step that
// waits for it, or is kept until one does.
struct SignalReceived {
  std::string name;
  Bytes payload;
  friend bool operator==(const SignalReceived&, const SignalReceived&) = default;
};

// A sleep step began: it completes at `due_unix_us`, across restarts.
struct TimerScheduled {
  std::uint32_t step = 0;
  std::int64_t due_unix_us = 0;
  friend bool operator==(const TimerScheduled&, const TimerScheduled&) = default;
};

// A sleep step's time came: the step completed.
struct TimerFired {
  std::uint32_t step = 0;
  friend bool operator==(const TimerFired&, const TimerFired&) = default;
};

// An operator resumed the run from a step (DESIGN §4): a new epoch begins for
// that step, its dependents and every step not completed, with a fresh retry
// budget; completed steps outside that set keep their outputs. Carries who
// asked (the event's actor), why, the request id that makes it idempotent,
// and data handed to the steps that run again.
struct ResumeRequested {
  std::uint32_t from_step = 0;
  std::string reason;
  std::string request_id;
  Bytes data;
  friend bool operator==(const ResumeRequested&, const ResumeRequested&) = default;
};

// A completed step's output, as a fork copies it from its parent.
struct StepOutput {
  std::uint32_t step = 0;
  Bytes output;
  friend bool operator==(const StepOutput&, const StepOutput&) = default;
};

// The first event of a fork: a new run whose state is its parent's at
// `parent_seq`, with the parent's definition and input and the outputs it
// keeps, re-running from `from_step`. The parent is not touched.
struct RunForked {
  RunId parent_run;
  std::uint64_t parent_seq = 0;
  std::uint32_t from_step = 0;
  RunStarted start;  // the parent's definition and input
  std::vector<StepOutput> kept;
  friend bool operator==(const RunForked&, const RunForked&) = default;
};

// An operator asked to cancel the run (who: the event's actor; why).
struct CancelRequested {
  std::string reason;
  friend bool operator==(const CancelRequested&, const CancelRequested&) = default;
};

// The run ended cancelled: attempts in flight stop and their outcomes are not
// recorded. It can be resumed.
struct RunCancelled {
  std::string reason;
  friend bool operator==(const RunCancelled&, const RunCancelled&) = default;
};

// The run ended with every step completed; its output is the last step's.
struct RunCompleted {
  Bytes output;
  friend bool operator==(const RunCompleted&, const RunCompleted&) = default;
};

// The run ended failed: a step failed for good (step: that one), or the run
// reached the limit of events (step: kNoStep). It can be resumed.
struct RunFailed {
  std::uint32_t step = 0;
  std::string code;
  std::string message;
  friend bool operator==(const RunFailed&, const RunFailed&) = default;
};

// The alternatives are in the schema's union order; keep them so (append only).
using EventBody =
    std::variant<RunStarted, StepStarted, StepCompleted, StepFailed, RetryScheduled,
                 StepAbandoned, RunPaused, ApprovalDecided, SignalReceived, TimerScheduled,
                 TimerFired, ResumeRequested, RunForked, CancelRequested, RunCancelled,
                 RunCompleted, RunFailed>;

struct Event {
  std::int64_t unix_us = 0;     // recorded data; the fold never decides on it
  std::optional<Actor> actor;   // absent: the engine's own event
  std::uint16_t schema_version = kSchemaVersion;
  EventBody body;
  friend bool operator==(const Event&, const Event&) = default;
};

// The schema's name of a body type: "RunStarted", "StepFailed", ...
std::string_view EventTypeName(const EventBody& body);

// The schema's vocabulary: one name for each value of its enums, the names
// every tool, JSON document and text uses. A value beyond the list (a newer
// schema's) is "unknown".
inline constexpr std::array<std::string_view, 4> kStepKindNames = {"code", "approval", "signal", "sleep"};
inline constexpr std::array<std::string_view, 3> kPauseReasonNames = {"approval_required", "manual", "signal_wait"};
inline constexpr std::array<std::string_view, 3> kActorKindNames = {"system", "engine", "user"};
std::string_view StepKindName(StepKind kind);
std::string_view PauseReasonName(PauseReason reason);
std::string_view ActorKindName(ActorKind kind);

// Encodes `event` as a FlatBuffer (schemas/events.fbs, root Event). Encoding is
// deterministic: equal events give identical bytes, whatever the compiler. Child
// objects are built in field order before the table that holds them; a child is
// built inside the argument list of its table's Create call only where it is
// that call's one child, so the unspecified order of argument evaluation never
// matters. Every string, vector and table is written once, never shared between
// references (only FlatBuffers' vtables are); Decode's size bound relies on
// this. Always writes the current schema version.
// REQUIRES: a valid event, as Decode checks it (non-empty step ids, dependency
// indices in range, a 32-byte or empty definition hash, finite retry values,
// known enum values, fork step indices in range); the engine builds only such
// events.
// Thread-safe. Each thread reuses one builder; one that grew beyond 1 MiB for a
// big event is freed after it.
Bytes Encode(const Event& event);

// The canonical encoding of a definition: an Event of schema version
// kDefinitionSchemaVersion at time 0, without actor, whose RunStarted holds
// only `definition`'s workflow, version and steps. Its SHA-256 is the
// definition hash; a journal keeps it as a blob under that hash.
Bytes EncodeDefinition(const RunStarted& definition);

// Looks up a stored definition by its hash (32 bytes): the bytes stored
// under it, which hash to it, or nullopt when there are none. Its errors
// are returned by Decode as they are.
using DefinitionFinder = std::function<Result<std::optional<ByteView>>(ByteView hash)>;

// Decodes bytes produced by Encode of this or an earlier schema version.
// Runs the FlatBuffers Verifier with explicit limits (nesting depth 16, at most
// bytes.size() / 4 + 16 tables), then semantic checks (required fields, id
// sizes, step indices of a definition, a fork's from_step and kept steps
// within its definition). Memory is bounded by the input, whatever it is: the
// strings and vectors of the result together hold at most bytes.size() bytes,
// and it holds at most one StepDef per 16 and one StepOutput per 8 input bytes.
// A buffer that names one sub-object from several places (valid FlatBuffers,
// never written by Encode) is refused when its copies would exceed that.
// Errors:
//   Corruption          bytes that are not a valid event (named what failed),
//                       including a body type unknown to the event's own
//                       schema version and an event that "expands beyond its
//                       encoded size (shared sub-objects)"
//   FailedPrecondition  an event of a newer schema version than kSchemaVersion
// A RunStarted (also a fork's) that names a stored definition gets its steps
// from `definitions`: the blob found is decoded (once per process: a cache
// keyed by the hash keeps it) and must be a definition of the same workflow
// and version; Corruption naming the definition otherwise, or when there is
// none. Without `definitions` its steps stay empty (and a fork's step
// indices are not checked against them).
// Never reads out of bounds, whatever the input; `bytes` need no alignment.
// Thread-safe. A misaligned input is copied to a per-thread buffer, which is
// freed after the call when it grew beyond 1 MiB.
Result<Event> Decode(ByteView bytes, const DefinitionFinder* definitions = nullptr);

}  // namespace rwd
