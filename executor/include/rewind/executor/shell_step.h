// Shell steps: a StepHandler that runs an external command for each attempt.
//
//   w.Step("build", ShellStep(ShellCommand::Script("make -j2 && make test")));
//   w.Step("ship", ShellStep(ShellCommand{{"./ship", "--dry-run"}, {{"REGION", "eu"}}}));
//
// Each attempt starts the command under a warden process (executor/src/
// warden.h) in a process group of its own, stdin on /dev/null, default signal
// dispositions and every descriptor above stderr closed. The warden keeps
// every process of the attempt below it (it is their subreaper), kills them
// all when the engine dies, even by SIGKILL, and holds the journal's writer
// lock (StepContext::hold_fd) until they are gone: a step's processes never
// outlive the engine that started them, and the next engine, which waits for
// that lock, never retries an attempt while its processes may still run. Its environment is the engine's, then the
// command's `env`, then what the attempt knows (these win):
//
//   REWIND_RUN_ID, REWIND_STEP (the step id), REWIND_STEP_INDEX (0-based),
//   REWIND_ATTEMPT (1-based within the epoch), REWIND_EPOCH,
//   REWIND_IDEMPOTENCY_KEY ("<run>/<step>/<epoch>": the same for every
//                       attempt of the epoch, StepContext::idempotency_key),
//   REWIND_INPUT_FILE   a file holding the run's input (always set)
//   REWIND_INPUT        the input itself, when at most 64 KiB and free of NUL
//   REWIND_OUTPUT_<D>_FILE, REWIND_OUTPUT_<D>
//                       the same for the output of each dependency D, where <D>
//                       is OutputVariableStem(D) ("ship-eu" -> "SHIP_EU")
//   REWIND_RESUME_DATA  the data of the run's last resume, when non-empty (and
//                       at most 64 KiB, free of NUL)
//
// The files live in a fresh temporary directory (under $TMPDIR, else /tmp)
// that is removed when the attempt ends.
//
// Outcome of an attempt:
//   exit status 0        -> the bytes written to stdout, verbatim (the output)
//   stdout over 1 MiB    -> InvalidArgument "step output exceeds 1 MiB" (the
//                           group is killed at once; permanent)
//   exit status N != 0   -> Unavailable "exit status N: <stderr tail>" (retryable;
//                           the tail is the last 20 lines, at most 2 KiB)
//   killed by a signal   -> Unavailable "killed by signal SIGxxx (n): <stderr tail>"
//   command not found, not executable, or spawn refused
//                        -> FailedPrecondition naming the command and reason
//                           (permanent); a script run by /bin/sh that exits
//                           with 127 or 126 (the shell's "not found" and
//                           "cannot execute") counts as this too
//   no process slots or memory to spawn, temporary directory not creatable
//                        -> Unavailable (retryable)
// stdout and stderr are read concurrently, so neither pipe can fill up and
// block the command.
//
// Stopping: when the attempt's stop_token is requested (timeout, cancel or
// engine shutdown) the whole group gets SIGTERM, then SIGKILL 2 s later if any
// of it is left; the attempt then fails with Unavailable. When the command
// itself exits, whatever it left running is killed (SIGKILL), in its group or
// not (setsid, a double fork): a step's processes do not outlive the step.
//
// Thread-safety: the returned handler may run concurrently for any number of
// attempts; it holds no state besides its (immutable) command.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rewind/executor/workflow.h"

namespace rwd {

struct ShellCommand {
  // The program and its arguments. argv[0] without a '/' is looked up in the
  // PATH of the command's environment (the step's env may set PATH).
  std::vector<std::string> argv;
  // Variables added to (or replacing) the engine's environment.
  std::map<std::string, std::string> env;

  // {"/bin/sh", "-c", script}: the script runs in a POSIX shell.
  static ShellCommand Script(std::string script, std::map<std::string, std::string> env = {});

  // True for commands made by Script() (argv is /bin/sh -c <script>).
  bool IsScript() const;

  friend bool operator==(const ShellCommand&, const ShellCommand&) = default;
};

// Outputs, input and resume data larger than this reach the command through
// their files only.
inline constexpr std::size_t kMaxEnvValueBytes = 64u << 10;
// A command writing more than this to stdout fails permanently.
inline constexpr std::size_t kMaxStepOutputBytes = 1u << 20;
// How long a stopped command has between SIGTERM and SIGKILL.
inline constexpr std::chrono::milliseconds kStopGrace{2'000};

// The handler that runs `command` for each attempt (see above). Each attempt
// fails with InvalidArgument, running nothing, when argv or argv[0] is empty,
// an env name is empty or holds '=' or NUL, a value holds NUL, or two
// dependencies have the same OutputVariableStem.
StepHandler ShellStep(ShellCommand command);

// The <D> of a dependency's REWIND_OUTPUT_<D>: the step id upper-cased (ASCII)
// with every character that is not a letter or digit replaced by '_'.
std::string OutputVariableStem(std::string_view step_id);

}  // namespace rwd
