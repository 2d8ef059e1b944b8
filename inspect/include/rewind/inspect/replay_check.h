// Replay check: would the decider, given a run's recorded history and a
// candidate definition (the run's workflow as it is now), have written the
// same history? It finds decider non-determinism (replaying with the recorded
// definition after the decider changed) and definition changes that runs
// already recorded would not survive: a step added, removed, renamed or moved,
// re-wired dependencies, another kind, retry budget, backoff or sleep.
// Changes the decider never reads are not divergences: a step's command,
// environment or timeout (completed steps keep their recorded outputs).
//
// How the history is replayed. The candidate's steps, version and definition
// hash replace those of the run's first event; input, tenant and idempotency
// key stay as recorded. Then, event by event:
//   * Steps are recorded by position. Every position an event names must hold
//     a step of the same id in the candidate, else "step": the history would
//     name another step (a rename or a move).
//   * Decision points are where the history shows the decider at work: an
//     engine event (no actor) only the decider writes — StepStarted,
//     RetryScheduled, TimerScheduled, TimerFired, RunPaused for an approval or
//     a signal, RunCompleted, RunFailed. There Plan (decide.h) runs on the
//     candidate's state at that event's recorded time (the engine stamps a
//     decision's events with the time it decided), and its events must be the
//     recorded ones that follow, in order, each without an actor. A plan the
//     history stops following (an outside event or the end comes first), a
//     recorded decision the plan does not contain, or an empty plan is a
//     divergence, "decision".
//   * Before every event after a point where no plan is pending (and at the
//     end), the engine may have driven the run after the event before, at its
//     time. If the recorded definition plans something there, the history shows
//     the engine did not (the next event was appended with the one before, as
//     results queued behind an append or attempts abandoned at recovery are):
//     nothing to compare. If it plans nothing but the candidate plans
//     something, that is a "decision" divergence named at the next event. This
//     check is conservative: an outside event appended together with the one
//     before (the journal does not record where appends begin) may have kept
//     the engine from deciding there at all.
//   * An event the fold refuses under the candidate (a step index it does not
//     have, an attempt it would not start) is a divergence, "refused".
// The first divergence ends the replay. With the recorded definition as
// candidate, no history the engine writes diverges (property-tested on the
// real engine and on random engine-like histories).
//
// `run` must be the run's id: retry jitter is drawn from it. `max_parallel`
// must be the engine's EngineOptions::max_parallel_steps when the run was
// recorded (the `rewind` CLI runs with 0, no limit): it is not in the
// journal, and another value decides differently.
//
// Pure: no I/O, no clock. Deterministic for equal inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/schemas/events.h"

namespace rwd::inspect {

struct ReplayDivergence {
  // The first recorded event the candidate would not have written there (for
  // a plan where the engine decided nothing: the event after that point);
  // events + 1 at the end of the history.
  std::uint64_t seq = 0;
  std::string check;              // "decision", "step" or "refused"
  std::optional<Event> recorded;  // the recorded event at `seq`; nullopt at the end of the history
  std::vector<Event> decided;     // what the candidate decides there instead (may be empty)
  std::string message;            // one line naming the steps involved
};

struct ReplayReport {
  std::uint64_t events = 0;           // events replayed (up to the divergence)
  std::uint64_t decision_points = 0;  // plans checked
  bool same_definition = false;       // the candidate's steps, workflow and version equal the recorded ones
  std::optional<ReplayDivergence> divergence;
};

// `events`: the run's recorded events from seq 1. `candidate`: a definition
// of the run's workflow (RunStarted as Workflow::Definition makes it; input,
// tenant and idempotency key are ignored). Errors: InvalidArgument when the
// candidate is not a valid definition or is of another workflow; NotFound for
// no events; Corruption (naming the seq) when the history does not fold under
// its own definition (`verify` explains); Internal when Plan fails (a bug).
Result<ReplayReport> ReplayCheck(const RunId& run, std::span<const Event> events, const RunStarted& candidate,
                                 std::uint32_t max_parallel);

}  // namespace rwd::inspect
