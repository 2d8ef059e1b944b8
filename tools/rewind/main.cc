// rewind: run workflow files on an embedded journal, and travel through runs.
// See README "The rewind CLI" for commands, JSON fields and exit statuses.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "tools/common/data_dir.h"
#include "tools/common/exit_codes.h"
#include "tools/common/fatal_signal.h"
#include "tools/rewind/cli_args.h"
#include "tools/rewind/commands.h"
#include "tools/rewind/query_commands.h"

namespace {

int Execute(const rwd::cli::Invocation& a) {
  namespace cli = rwd::cli;
  const cli::Context& c = a.context;
  switch (a.command) {
    case cli::Command::kRun: return cli::RunFile(c, a.file, a.input, a.idempotency_key);
    case cli::Command::kResume:
      return cli::Resume(c, a.run, a.step, a.reason, a.request_id, a.resume_data, a.dry_run);
    case cli::Command::kApprove: return cli::DecideGate(c, a.run, a.step, true, a.note);
    case cli::Command::kReject: return cli::DecideGate(c, a.run, a.step, false, a.note);
    case cli::Command::kCancel: return cli::Cancel(c, a.run, a.reason);
    case cli::Command::kPause: return cli::Pause(c, a.run, a.reason);
    case cli::Command::kRecover: return cli::Recover(c, a.run);
    case cli::Command::kFork: return cli::Fork(c, a.run, a.step, a.at_seq);
    case cli::Command::kSignal: return cli::Signal(c, a.run, a.name, a.payload);
    case cli::Command::kStatus: return cli::ShowStatus(c, a.run);
    case cli::Command::kState: return cli::ShowState(c, a.run, a.at_seq, a.step);
    case cli::Command::kServe: return cli::Serve(c, a.serve);
    case cli::Command::kToken: return cli::MintToken(c, a.token);
    case cli::Command::kRuns: return cli::ListRuns(c, a.runs);
    case cli::Command::kStats: return cli::ShowStats(c, a.workflow);
    case cli::Command::kAudit: return cli::ShowAudit(c, a.audit);
    case cli::Command::kProjectionsStatus: return cli::ShowProjections(c);
    case cli::Command::kProjectionsRebuild: return cli::RebuildProjections(c, a.projections);
    case cli::Command::kMigrate: return cli::Migrate(c, a.discard_old);
  }
  return cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // The engine's log goes to stderr, warnings and errors only: stdout is for
  // progress and for the one JSON object of --json.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("rewind"));
  spdlog::set_level(spdlog::level::warn);
  const rwd::cli::CommandLine line =
      rwd::cli::ParseCommandLine(argc, argv, rwd::cli::DefaultDataDir(), std::cout, std::cerr);
  if (!line.invocation) return line.exit_code;
  const rwd::cli::Context& c = line.invocation->context;
  rwd::cli::ReportFatalSignals("rewind", c.data_dir, c.json);  // LMDB crashing on a damaged page: fatal_signal.h
  return Execute(*line.invocation);
}
