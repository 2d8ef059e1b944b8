// The workflows of the engine crash harness, shared by the child process that
// is killed and by the test that recovers its journal.
//
// Every handler first appends "exec <run> <step> <epoch> <attempt>" to the file
// descriptor `exec_log` (O_APPEND), then sleeps 0-3 ms. A step's output is
// "<id>(<outputs of its dependencies>)". A fixed hash of (run, step, attempt)
// decides everything else, so both processes agree on it:
//
// "crash": a -> {b, c} -> d -> e. Any step fails retryably on its first two
//   attempts when the hash says so. Step d of one run in four fails
//   permanently in epoch 0 (the run fails; a resume from d completes it).
//   A completed run's output is kCrashOutput.
// "gated": a -> approval gate "ok" -> z. The run pauses at "ok"; approved with
//   data kApprovalData it completes with kGatedOutput.
#pragma once

#include <string_view>

#include "rewind/executor/engine.h"
#include "rewind/executor/workflow.h"

namespace rwd::test {

inline constexpr std::string_view kCrashOutput = "e(d(b(a()),c(a())))";
inline constexpr std::string_view kApprovalData = "yes";
inline constexpr std::string_view kGatedOutput = "z(yes)";
inline constexpr std::string_view kGateStep = "ok";
inline constexpr std::string_view kFailingStep = "d";

Workflow EngineCrashWorkflow(int exec_log);
Workflow EngineGatedWorkflow(int exec_log);

// The operator both processes act as (tenant "default").
Principal CrashOperator();

// What the operator does about a failed run of either workflow: resume it
// from its first step not completed — d after its planned failure, or a step
// whose budget the kills used up (abandoned attempts count).
ResumeRequest ResumeFailed(const RunState& failed);

}  // namespace rwd::test
