// rewind: run workflow files on an embedded journal, and travel through runs.
// See README "The rewind CLI" for commands, JSON fields and exit statuses.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tools/rewind/commands.h"
#include "tools/common/data_dir.h"
#include "tools/common/exit_codes.h"
#include "tools/rewind/query_commands.h"

int main(int argc, char** argv) {
  namespace cli = rwd::cli;
  // The engine's log goes to stderr, warnings and errors only: stdout is for
  // progress and for the one JSON object of --json.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("rewind"));
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"rewind: durable, resumable workflows on an embedded journal"};
  app.require_subcommand(1);
  cli::Context c;
  c.data_dir = cli::DefaultDataDir();
  // Options every command takes, also after the command name; the commands
  // that act on runs also take the tenant they act in.
  auto data_and_json = [&](CLI::App* cmd) {
    cmd->add_option("--data", c.data_dir, cli::kDataDirHelp);
    cmd->add_flag("--json", c.json, "machine-readable output: one JSON object on stdout");
  };
  auto common = [&](CLI::App* cmd) {
    data_and_json(cmd);
    cmd->add_option("--tenant", c.tenant, "tenant to act in (default: default)");
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

  // Queries over the projections (read-only; they filter by tenant only when asked).
  cli::RunsArgs runs_args;
  CLI::App* runs = app.add_subcommand("runs", "list runs from the run index, newest first");
  auto* runs_tenant = runs->add_option("--tenant", runs_args.tenant, "only this tenant's runs (default: every tenant)");
  bool all_tenants = false;  // the default; the flag says so explicitly
  runs->add_flag("--all-tenants", all_tenants, "every tenant's runs (the default)")->excludes(runs_tenant);
  runs->add_option("--status", runs_args.status, "pending, running, paused, failed, completed or cancelled");
  runs->add_option("--workflow", runs_args.workflow, "only runs of this workflow");
  runs->add_option("--limit", runs_args.limit, "at most N runs (default 50)")->check(CLI::Range(1, 1000000));
  runs->add_flag("--oldest-first", runs_args.oldest_first, "oldest first by start time");
  runs->add_option("--page", runs_args.page, "continue a listing: the token its previous page printed");
  data_and_json(runs);

  CLI::App* stats = app.add_subcommand("stats", "per workflow and step: executions, failures, retries, latencies");
  std::string workflow;
  stats->add_option("--workflow", workflow, "only this workflow's steps");
  data_and_json(stats);

  cli::AuditArgs audit_args;
  CLI::App* audit = app.add_subcommand("audit", "who resumed, forked, approved, rejected, cancelled, signalled, paused");
  audit->add_option("--run", audit_args.run, "only this run's entries");
  audit->add_option("--actor", audit_args.actor, "only entries of this actor (user name)");
  audit->add_option("--tenant", audit_args.tenant, "only entries on this tenant's runs (default: every tenant)");
  audit->add_option("--limit", audit_args.limit, "at most N entries (default 100)")->check(CLI::Range(1, 1000000));
  audit->add_option("--before", audit_args.before, "only entries before this journal position (the next page)");
  data_and_json(audit);

  CLI::App* projections = app.add_subcommand("projections", "the read models behind runs, stats and audit");
  projections->require_subcommand(1);
  CLI::App* projections_status = projections->add_subcommand("status", "each projection's health and checkpoint");
  data_and_json(projections_status);
  std::vector<std::string> names;
  CLI::App* rebuild = projections->add_subcommand(
      "rebuild", "rebuild projections from the journal (needs the journal to itself: stop the engine first)");
  rebuild->add_option("NAME", names, "runs, step_stats, audit or snapshots (default: all)");
  data_and_json(rebuild);

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
  if (*runs) return cli::ListRuns(c, runs_args);
  if (*stats) return cli::ShowStats(c, workflow);
  if (*audit) return cli::ShowAudit(c, audit_args);
  if (*projections_status) return cli::ShowProjections(c);
  if (*rebuild) return cli::RebuildProjections(c, names);
  return cli::kExitUsage;
}
