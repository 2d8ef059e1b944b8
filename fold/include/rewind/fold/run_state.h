// RunState and Evolve: what a run's history means. The one definition of it.
//
// Evolve(state, event) applies one event to a run's state; folding a run's
// events in seq order from an empty state gives the run's state after them.
// Evolve is pure: no I/O, no clock, no randomness; it never reads an event's
// timestamp to decide anything (it only records it). The same events give the
// same state on any machine, at any time. Everything that needs run state —
// the engine, projections, snapshots, time travel, journal-inspect — folds
// with this function.
//
// Evolve also checks that each event is a valid transition from the state
// before it (a step can only complete while it runs, a resume only applies to
// a stopped run, ...). An invalid event is Corruption naming the seq and why;
// the state is then unchanged. The engine's decider (decide.h) never produces
// an event that Evolve rejects.
//
// Resume semantics (DESIGN §4): a ResumeRequested from step N starts a new
// epoch of the run. Step N, every step that depends on N transitively, and
// every step not completed are reset: their epoch becomes the new epoch, their
// attempt counter restarts at 0 (a fresh retry budget) and their memoized
// output stops counting. Completed steps outside that set keep their outputs
// and are never executed again. total_attempts keeps counting for auditors.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/schemas/events.h"

namespace rwd {

enum class RunStatus : std::uint8_t {
  kPending,    // no events yet
  kRunning,    // the engine is driving it
  kPaused,     // waiting for an approval, a signal or an operator
  kFailed,
  kCompleted,
  kCancelled,
};

enum class StepStatus : std::uint8_t {
  kPending,    // not started in this epoch (or waiting for dependencies)
  kRunning,    // an attempt is in flight
  kFailed,     // the last attempt failed; the decider retries or fails the run
  kRetryWait,  // a retry is scheduled for due_unix_us
  kWaiting,    // an approval, a signal or a durable timer
  kCompleted,  // output is the memoized result
  kCancelled,  // was running or waiting when the run was cancelled
};

std::string_view RunStatusName(RunStatus status);    // "running", ...
// Every run status, in declaration order.
inline constexpr RunStatus kRunStatuses[] = {RunStatus::kPending, RunStatus::kRunning,   RunStatus::kPaused,
                                             RunStatus::kFailed,  RunStatus::kCompleted, RunStatus::kCancelled};
// The status whose RunStatusName is `name`, or nullopt.
std::optional<RunStatus> ParseRunStatus(std::string_view name);
std::string_view StepStatusName(StepStatus status);  // "retry_wait", ...

// The definition a run executes, as recorded in its first event. Shared between
// states of the same run (folding copies the pointer, not the definition).
using Definition = std::shared_ptr<const RunStarted>;

// No step: for RunPaused{kManual}, which pauses the run as a whole.
inline constexpr std::uint32_t kNoStep = 0xFFFFFFFF;

struct StepState {
  StepStatus status = StepStatus::kPending;
  std::uint32_t epoch = 0;           // the run epoch this step was last reset in
  std::uint32_t attempts = 0;        // attempts started in the current epoch
  std::uint32_t total_attempts = 0;  // attempts ever, across epochs
  Bytes output;                      // the memoized result when completed
  std::string error_code;            // of the last failed attempt
  std::string error_message;
  bool retryable = true;             // of the last failed attempt
  std::int64_t due_unix_us = 0;      // retry or timer due time (kRetryWait / sleep kWaiting)
  std::int64_t started_unix_us = 0;  // recorded time of the last StepStarted (for latency)
  friend bool operator==(const StepState&, const StepState&) = default;
};

// One resume of a run, as its ResumeRequested recorded it.
struct ResumeRecord {
  std::string request_id;
  std::uint32_t from_step = 0;
  std::uint32_t epoch = 0;  // the epoch it started
  std::uint64_t seq = 0;    // the seq of its ResumeRequested
  Bytes data;
  friend bool operator==(const ResumeRecord&, const ResumeRecord&) = default;
};

struct RunState {
  RunId run;
  std::uint64_t seq = 0;  // events folded so far
  Definition definition;  // null until the first event
  RunStatus status = RunStatus::kPending;
  std::uint32_t epoch = 0;  // number of resumes (RunForked counts as one)
  std::vector<StepState> steps;  // indexed like definition->steps
  std::uint32_t paused_step = kNoStep;  // which step a kPaused run waits on, if any
  std::vector<SignalReceived> pending_signals;  // arrived before a step waited for them
  std::vector<ResumeRecord> resumes;            // every resume, in order
  Bytes output;                                 // RunCompleted's
  std::string error_code;                       // RunFailed's or RunCancelled's cause
  std::string error_message;
  std::optional<RunId> parent;  // set for a fork
  std::uint64_t parent_seq = 0;
  std::int64_t started_unix_us = 0;  // recorded times, for people; never decided on
  std::int64_t updated_unix_us = 0;

  // Terminal or paused: the engine has nothing to do until someone acts.
  bool Stopped() const {
    return status != RunStatus::kRunning && status != RunStatus::kPending;
  }

  // Equality compares definitions by value.
  friend bool operator==(const RunState& a, const RunState& b);
};

// Applies `event`, the run's event number state.seq + 1, to `state`.
// On error (Corruption naming the seq and the rule broken) `state` is unchanged.
Status Evolve(RunState& state, const Event& event);
// The same, for an event the caller is done with: an accepted RunStarted or
// RunForked gives up its definition to the state instead of copying it (the
// event is then left valid but unspecified); a refused one is left as it was.
Status Evolve(RunState& state, Event&& event);

// Folds `events` (a run's events from seq 1) into a fresh state.
Result<RunState> Fold(const RunId& run, std::span<const Event> events);

// Checks a definition: at least one step, non-empty unique ids, dependencies
// on existing other steps, no cycle, and workflow name, tenant and step ids
// of at most kMaxNameBytes. InvalidArgument naming the offending step.
Status ValidateDefinition(const RunStarted& definition);

// What a workflow may hold for a new run to start with it. A run's cost
// grows with its steps: its state, each decision (Decide looks at every
// step) and each snapshot hold them all; the limits keep one run from
// taking an engine's memory and time. Checked when a workflow is registered
// or a workflow file is loaded (CheckLimits); a definition already recorded
// in the journal folds whatever its size.
inline constexpr std::size_t kMaxSteps = 10'000;
inline constexpr std::size_t kMaxDependencies = 100'000;   // summed over the steps
inline constexpr std::size_t kMaxConfigBytes = 64u << 10;  // one step's config (a command, its env)
inline constexpr std::size_t kMaxDefinitionBytes = 8u << 20;  // ids, handlers and configs summed
// The events of a run the engine appends by itself: a run that reaches it
// (a retry policy without end, a loop of resumes) fails with
// resource_exhausted rather than grow without bound (Decide).
inline constexpr std::uint64_t kMaxRunEvents = 1'000'000;

// InvalidArgument naming the limit `definition` is over, and by how much.
Status CheckLimits(const RunStarted& definition);

// Time travel to a step: how many of `events` (a run's events from seq 1) to
// fold for the state right after step `step` last became completed, or, if it
// never completed, right before it first left pending. FailedPrecondition if it
// never left pending; Corruption if the events do not fold.
Result<std::uint64_t> SeqAtStep(std::span<const Event> events, std::uint32_t step);

// Index of the step with id `id`, or nullopt.
std::optional<std::uint32_t> FindStep(const RunStarted& definition, std::string_view id);

// Resolves a step reference: an id, or a 1-based index in definition order.
// NotFound naming the workflow and the valid range otherwise.
Result<std::uint32_t> ResolveStep(const RunStarted& definition, std::string_view step);

// The steps a resume from `from` resets: `from`, every step depending on it
// transitively, and every step not completed. Sorted by index.
std::vector<std::uint32_t> ResetSet(const RunState& state, std::uint32_t from);

// What a resume admitted by AdmitResume does to the run.
struct ResumePlan {
  std::uint32_t from = 0;
  std::vector<std::uint32_t> kept;   // completed steps whose outputs stay memoized
  std::vector<std::uint32_t> reset;  // ResetSet(state, from): they run again with a fresh budget
  std::uint32_t epoch = 0;           // the epoch the resume starts
};

// The resume rule (DESIGN §4): whether `state` may be resumed from `from_step`
// (an id or a 1-based index; empty: the first step not completed whose
// dependencies completed), and what that resume keeps and resets.
// Conflict when the run is running or pending, a step is still running, or
// `expected_seq` is given and is not the run's seq; NotFound for an unknown
// step; FailedPrecondition when a dependency of the step is not completed
// (named), or with no step given when every step completed.
Result<ResumePlan> AdmitResume(const RunState& state, std::string_view from_step,
                               std::optional<std::uint64_t> expected_seq);
// The plan of a resume of `state` from step `from`, admitted or not.
ResumePlan PlanResume(const RunState& state, std::uint32_t from);

}  // namespace rwd
