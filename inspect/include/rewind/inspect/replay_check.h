// Replay check: would the decider, given a run's recorded history and a
// candidate definition (the workflow as it is now), have written the same
// history? It finds decider non-determinism (replaying with the recorded
// definition and a changed decider) and definition changes that are
// incompatible with runs already recorded (a step added, removed, reordered,
// re-wired, or its retry policy or sleep changed).
//
// How the history is replayed. The candidate's steps (and workflow, version
// and definition hash) replace those of the run's first event; everything
// else, input and tenant included, stays as recorded. Then, event by event:
//   * Decision points are where the history shows the decider at work: an
//     engine event (no actor) only the decider writes — StepStarted,
//     RetryScheduled, TimerScheduled, TimerFired, RunPaused for an approval or
//     a signal, RunCompleted, RunFailed. There Plan (decide.h) runs on the
//     candidate state at that event's recorded time (the engine stamps a
//     decision's events with the time it decided), and its events must be the
//     recorded ones that follow, in order. A plan the history stops following
//     (an outside event or the end comes first), a recorded decision the plan
//     does not contain, or an empty plan is a divergence ("decision").
//   * Before every outside event (a handler's result, a resume, an approval, a
//     signal, a cancel, a manual pause, ...) and at the end of the history, the
//     engine may have decided nothing. There the candidate must plan exactly
//     what the recorded definition plans at the same state and time (the time
//     of the event before); otherwise the candidate would act where the
//     recorded run did not, or the reverse ("decision"). With the recorded
//     definition as candidate this check cannot fail.
//   * An event the fold refuses under the candidate (a step index it does not
//     have, an attempt it would not start) is a divergence ("refused").
// The first divergence ends the replay.
//
// `max_parallel` must be the engine's EngineOptions::max_parallel_steps when
// the run was recorded (the `rewind` CLI runs with 0, no limit): it is not in
// the journal, and a different value decides differently.
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
  std::uint64_t seq = 0;         // the first recorded event that differs; events + 1 at the end
  std::string check;             // "decision" or "refused"
  std::optional<Event> recorded;  // the recorded event at `seq`; nullopt at the end of the history
  std::vector<Event> decided;    // what the candidate decides there instead (may be empty)
  std::string message;           // one line naming the steps involved
};

struct ReplayReport {
  std::uint64_t events = 0;           // events replayed (up to the divergence)
  std::uint64_t decision_points = 0;  // plans checked
  bool same_definition = false;       // the candidate's steps, workflow and version equal the recorded ones
  std::optional<ReplayDivergence> divergence;
};

// `events`: the run's recorded events from seq 1. `candidate`: a definition
// (RunStarted as Workflow::Definition makes it; input, tenant and idempotency
// key are ignored). InvalidArgument when the candidate is not a valid
// definition or names another workflow; Corruption (naming the seq) when the
// history does not fold under its own recorded definition (`verify` explains).
Result<ReplayReport> ReplayCheck(const RunId& run, std::span<const Event> events, const RunStarted& candidate,
                                 std::uint32_t max_parallel);

}  // namespace rwd::inspect
