// The rewind CLI's command line: the commands and options it takes, and the
// conversions of argument text into what the engine and the journal are given.
// main.cc runs what ParseCommandLine returns; commands.cc and query_commands.cc
// convert with the functions below. None of it opens a journal, an engine or a
// file, so fuzz/cli_args_fuzzer.cc drives all of it.
//
// Text that names a run is parsed by RunId::Parse and a step reference (an id,
// or a 1-based index) by ResolveStep (run_state.h), where the command has the
// run's definition; other text (reasons, notes, payloads, keys, names) goes to
// the engine as it is, and the engine refuses what it cannot record. A
// --tenant that ValidateTenant (engine.h) refuses is a usage error.
//
// Thread-safety: free functions on values; ParseCommandLine writes only to the
// streams it is given.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/fold/run_state.h"
#include "rewind/projections/history.h"
#include "rewind/schemas/events.h"
#include "tools/common/exit_codes.h"
#include "tools/rewind/commands.h"
#include "tools/rewind/query_commands.h"

namespace rwd::cli {

enum class Command {
  kRun,
  kResume,
  kApprove,
  kReject,
  kCancel,
  kPause,
  kRecover,
  kFork,
  kSignal,
  kStatus,
  kState,
  kServe,
  kToken,
  kRuns,
  kStats,
  kAudit,
  kProjectionsStatus,
  kProjectionsRebuild,
  kMigrate,
};

// What a command line says: the command, and its arguments as given (CLI11
// converts only the numbers, and checks --limit's range). Arguments the
// command does not take keep their defaults.
struct Invocation {
  Command command = Command::kStatus;
  Context context;                      // --data, --json, --tenant
  std::string file;                     // run FILE
  std::string input;                    // run --input (InputFilePath)
  std::string idempotency_key;          // run --idempotency-key
  std::string run;                      // the RUN of every command that takes one
  std::string step;                     // --from-step, approve/reject STEP, state --at-step
  std::string reason;                   // resume, cancel, pause --reason
  std::string request_id;               // resume --request-id
  std::string resume_data;              // resume --resume-data
  bool dry_run = false;                 // resume --dry-run
  std::string note;                     // approve/reject --note
  std::optional<std::uint64_t> at_seq;  // fork, state --at-seq
  std::string name;                     // signal NAME
  std::string payload;                  // signal PAYLOAD
  RunsArgs runs;                        // runs
  std::string workflow;                 // stats --workflow
  AuditArgs audit;                      // audit
  std::vector<std::string> projections;  // projections rebuild NAME...
  bool discard_old = false;              // migrate --discard-old
  ServeArgs serve;                       // serve
  TokenArgs token;                       // token
};

// What main does next: run `invocation`, or exit with `exit_code`.
struct CommandLine {
  std::optional<Invocation> invocation;
  int exit_code = kExitOk;  // without an invocation: kExitOk after --help, else kExitUsage
};

// Parses main's arguments (argv[0] is the program's name). `default_data_dir`
// is --data's default. Help and CLI11's usage errors are printed to `out` and
// `err` as CLI11's App::exit prints them, as is "rewind state: give --at-seq K
// or --at-step STEP" for a `state` that has neither; nothing is printed when
// there is an invocation. CLI11's parse errors are caught.
// REQUIRES: argc >= 1, argv[0 .. argc) are NUL-terminated strings.
CommandLine ParseCommandLine(int argc, const char* const* argv, const std::string& default_data_dir,
                             std::ostream& out, std::ostream& err);

// `run --input`: the path of the file whose contents are the input for
// "@PATH" (the path may be empty); nullopt when the text itself is the input.
std::optional<std::string> InputFilePath(const std::string& input);

// Who the commands act as: `user` in `tenant`, with the operator role.
Principal OperatorPrincipal(const std::string& tenant, const std::string& user);

// The valid status names, for a message: "pending, running, paused, ...".
std::string RunStatusNames();

// `state --at-seq K` or `--at-step STEP`: how many of the run's events (from
// seq 1) to fold for the state asked for. With `at_seq`: K, InvalidArgument
// naming the valid range unless 1 <= K <= history.size(). Otherwise
// history.SeqAtStep(at_step): NotFound for no such step, FailedPrecondition
// if it never started.
Result<std::uint64_t> StateSeq(const RunHistory& history, std::optional<std::uint64_t> at_seq,
                               std::string_view at_step);

}  // namespace rwd::cli
