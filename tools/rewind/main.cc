// rewind: run workflow files on an embedded journal, and travel through runs.
// See README "The rewind CLI" for commands, JSON fields and exit statuses.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "tools/rewind/commands.h"
#include "tools/rewind/exit_codes.h"

int main(int argc, char** argv) {
  namespace cli = rwd::cli;
  // The engine's log goes to stderr, warnings and errors only: stdout is for
  // progress and for the one JSON object of --json.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("rewind"));
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"rewind: durable, resumable workflows on an embedded journal"};
  app.require_subcommand(1);
  cli::Context c;
  const char* env_data = std::getenv("REWIND_DATA");
  c.data_dir = env_data != nullptr && *env_data != '\0' ? env_data : "./rewind-data";
  // Options every command takes, also after the command name.
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--data", c.data_dir, "journal directory (default $REWIND_DATA or ./rewind-data)");
    cmd->add_option("--tenant", c.tenant, "tenant to act in (default: default)");
    cmd->add_flag("--json", c.json, "machine-readable output: one JSON object on stdout");
  };

  std::string file, input, key, run, step, reason, request_id, resume_data, name, payload, note;
  std::optional<std::uint64_t> at_seq;
  bool dry_run = false;

  CLI::App* run_cmd = app.add_subcommand("run", "run a workflow file and follow it until it stops");
  run_cmd->add_option("FILE", file, "workflow file (JSON)")->required();
  run_cmd->add_option("--input", input, "the run's input: text, or @FILE to read it from a file");
  run_cmd->add_option("--idempotency-key", key, "starting again with the same key returns the same run");
  common(run_cmd);

  CLI::App* resume = app.add_subcommand("resume", "resume a failed, paused, cancelled or completed run");
  resume->add_option("RUN", run, "run id")->required();
  resume->add_option("--from-step", step, "step id or 1-based index (default: the first unfinished step)");
  resume->add_option("--reason", reason, "why (recorded in the journal)");
  resume->add_option("--request-id", request_id, "repeating a request id returns the first result");
  resume->add_option("--resume-data", resume_data, "data handed to the steps that run again");
  resume->add_flag("--dry-run", dry_run, "show what the resume would do, append nothing");
  common(resume);

  CLI::App* approve = app.add_subcommand("approve", "approve the gate a run waits at, and follow it");
  CLI::App* reject = app.add_subcommand("reject", "reject the gate a run waits at (the run fails)");
  for (CLI::App* cmd : {approve, reject}) {
    cmd->add_option("RUN", run, "run id")->required();
    cmd->add_option("STEP", step, "the approval step (id or 1-based index)")->required();
    cmd->add_option("--note", note, "recorded with the decision; an approval's note is the step's output");
    common(cmd);
  }

  CLI::App* cancel = app.add_subcommand("cancel", "cancel a run that has not finished");
  CLI::App* pause = app.add_subcommand("pause", "pause a running run until it is resumed");
  for (CLI::App* cmd : {cancel, pause}) {
    cmd->add_option("RUN", run, "run id")->required();
    cmd->add_option("--reason", reason, "why (recorded in the journal)");
    common(cmd);
  }

  CLI::App* fork = app.add_subcommand("fork", "start a new run from a past run's state, re-running from a step");
  fork->add_option("RUN", run, "the parent run")->required();
  fork->add_option("--from-step", step, "step to re-run from (id or 1-based index)")->required();
  fork->add_option("--at-seq", at_seq, "take the parent's state after this many events (default: now)");
  common(fork);

  CLI::App* signal = app.add_subcommand("signal", "deliver a signal to a run, and follow it");
  signal->add_option("RUN", run, "run id")->required();
  signal->add_option("NAME", name, "signal name")->required();
  signal->add_option("PAYLOAD", payload, "signal payload (text)");
  common(signal);

  CLI::App* status = app.add_subcommand("status", "list runs, or show one run");
  status->add_option("RUN", run, "run id (default: list every run of the tenant)");
  common(status);

  CLI::App* state = app.add_subcommand("state", "a run's state at an earlier point (time travel)");
  state->add_option("RUN", run, "run id")->required();
  auto* seq_opt = state->add_option("--at-seq", at_seq, "after the first K events");
  auto* step_opt = state->add_option("--at-step", step, "right after the step's last completion");
  seq_opt->excludes(step_opt);
  common(state);

  CLI::App* serve = app.add_subcommand("serve", "drive every run of the journal until stopped");
  common(serve);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : cli::kExitUsage;
  }
  if (*run_cmd) return cli::RunFile(c, file, input, key);
  if (*resume) return cli::Resume(c, run, step, reason, request_id, resume_data, dry_run);
  if (*approve) return cli::Decide(c, run, step, true, note);
  if (*reject) return cli::Decide(c, run, step, false, note);
  if (*cancel) return cli::Cancel(c, run, reason);
  if (*pause) return cli::Pause(c, run, reason);
  if (*fork) return cli::Fork(c, run, step, at_seq);
  if (*signal) return cli::Signal(c, run, name, payload);
  if (*status) return cli::ShowStatus(c, run);
  if (*state) {
    if (!at_seq && step.empty()) {
      std::cerr << "rewind state: give --at-seq K or --at-step STEP" << std::endl;
      return cli::kExitUsage;
    }
    return cli::ShowState(c, run, at_seq, step);
  }
  if (*serve) return cli::Serve(c);
  return cli::kExitUsage;
}
