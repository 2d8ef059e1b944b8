// Decide: what a run should do next. Pure, like Evolve: its only inputs are
// the run's state and the current time, given as data.
//
// The engine alternates: fold what happened (Evolve), decide, append the
// decided events durably, then perform the effects (run the handlers of the
// steps the decision started). Decide never returns an event that Evolve
// rejects for the state it was given.
//
// Rules, for a running run (a stopped run gets an empty decision):
//   * at most `max_parallel` code steps run at once (0: no limit); with 1 the
//     run executes one step at a time, in definition order, deterministically;
//   * a failed step is retried (RetryScheduled with a deterministic backoff)
//     while its policy allows and the failure is retryable; otherwise the run
//     fails, once no other attempt is in flight (no new steps start meanwhile);
//   * a step whose dependencies all completed starts: a code step gets
//     StepStarted and is dispatched, a sleep gets TimerScheduled, a signal step
//     consumes a signal that already arrived;
//   * retries and timers whose due time has come start or fire;
//   * approval gates and signal waits pause the run (RunPaused) once nothing
//     else can make progress, so "paused" always means "waiting for someone";
//   * when every step completed, the run completes with the last step's output;
//   * a run of kMaxRunEvents events or more fails (resource_exhausted) once
//     nothing is in flight, whatever else it would do.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "rewind/fold/run_state.h"
#include "rewind/schemas/events.h"

namespace rwd {

struct Decision {
  std::vector<EventBody> events;        // to append, in order
  std::vector<std::uint32_t> dispatch;  // steps to execute once `events` are durable
  std::optional<std::int64_t> wake_unix_us;  // decide again then (earliest retry or timer)
};

// One round of decisions for `state` at `now_unix_us`.
Decision Decide(const RunState& state, std::int64_t now_unix_us, std::uint32_t max_parallel = 0);

// Decides, applies the decision to `state`, and repeats until a round decides
// nothing more: the events of all rounds, the steps to dispatch once they are
// durable, and the earliest wake-up. `state` ends as it will be once the events
// are appended. Returns Internal if Decide produced an event Evolve refused (a
// bug), leaving `state` at the last good event.
Result<Decision> Plan(RunState& state, std::int64_t now_unix_us, std::uint32_t max_parallel = 0);

// The delay before attempt `next_attempt` (>= 2) of `step`, in microseconds:
// initial * multiplier^(next_attempt - 2), capped at max, minus a jitter share
// drawn from a hash of (run, step, epoch, attempt). Deterministic.
std::int64_t BackoffMicros(const RetryPolicy& policy, const RunId& run, std::uint32_t step,
                           std::uint32_t epoch, std::uint32_t next_attempt);

// The idempotency key handed to a step's handler: "<run>/<step id>/<epoch>".
// Every attempt of the step in one epoch gets the same key, so the service a
// step calls can deduplicate a retried side effect; a resume starts a new
// epoch and so a new key (it asks for re-execution on purpose). The attempt
// number is handed separately (StepContext::attempt).
std::string IdempotencyKey(const RunId& run, const StepDef& step, std::uint32_t epoch);

}  // namespace rwd
