// What a run's journal and the executions of its handlers must agree on, for
// tests that log every handler execution (the crash harness, the simulation):
//   * no completed step is started again in the same epoch;
//   * every StepCompleted is an attempt a handler ran;
//   * no attempt runs twice, and none runs without a durable StepStarted or
//     after its step's attempt that completed (in the same epoch).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "rewind/fold/run_state.h"
#include "rewind/schemas/events.h"

namespace rwd::test {

// One execution of a handler: run (hex), step id, epoch, attempt.
using Exec = std::tuple<std::string, std::string, std::uint32_t, std::uint32_t>;
// How many times each attempt ran.
using ExecCounts = std::map<Exec, int>;

// The disagreements between `state` (the fold of `events`, the run's whole
// history) and the executions of its handlers in `exec` (which may hold other
// runs too), one line each; empty when there are none.
std::vector<std::string> AuditExecutions(const RunState& state, const std::vector<Event>& events,
                                         const ExecCounts& exec);

// The events one per line ("  seq N: <description>"), for failure messages.
std::string History(const std::vector<Event>& events);

}  // namespace rwd::test
