// Deterministic simulation of the executor: one seed decides everything the
// world does to the engine, and the same seed reproduces the same journal,
// byte for byte.
//
// The seed decides:
//   * the script: which runs start (a DAG workflow with parallel branches, and
//     one with a sleep and an approval gate), which completed runs are forked
//     and from which step, and what the operator does about a run that stops
//     (resume a failed run from its first step not completed, approve or
//     reject a gate);
//   * every handler outcome: success, a retryable failure or a permanent one,
//     a pure function of (seed, run, step, epoch, attempt);
//   * time: a virtual clock that moves a fixed tick with each durable append
//     (longer than any backoff or sleep, so no run waits on a timer);
//   * crashes: the process "dies" after chosen appends, at the next commit:
//     before it (its events are lost) or after it (they are durable but never
//     acknowledged), through the journal's fault hook. The engine is then dropped and opened
//     again on the same journal, and recovers.
// The engine runs as in production (real journal, projections, recovery,
// decider, actors) but one run at a time, one step at a time
// (max_parallel_steps = 1) on one handler thread, with run and request ids
// from the seed: nothing is left to the scheduler.
//
// At the end the simulation checks the journal against the world: hash chains
// verify, projections equal a rebuild, each run ended as its script says (its
// workflow's output, or failed by a rejection or by exhausting the operator's
// patience), the engine's state of each run equals the fold of its events, and
// no handler execution contradicts the journal (execution_audit.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rwd::test {

struct SimulationResult {
  std::vector<std::string> problems;  // empty: every check passed
  std::string journal_digest;         // SHA-256 (hex) of every stored event with its position
  std::vector<std::string> listing;   // "<position> <run> <seq> <event described>", in order
  std::vector<std::string> appends;   // the appends as the engine acknowledged them, and the crashes
  std::uint64_t runs = 0, forks = 0, events = 0, crashes = 0, resumes = 0, approvals = 0, rejections = 0;
  std::uint64_t executions = 0;  // handler executions
};

// Simulates the world of `seed` on a new journal in `directory` (which must
// not exist yet).
SimulationResult Simulate(std::uint64_t seed, const std::string& directory);

}  // namespace rwd::test
