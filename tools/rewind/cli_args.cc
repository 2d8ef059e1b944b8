#include "tools/rewind/cli_args.h"

#include <CLI/CLI.hpp>

#include <ostream>
#include <utility>

#include "tools/common/data_dir.h"

namespace rwd::cli {
namespace {

// --tenant is checked as the engine checks a principal's tenant, by every
// command that takes one (those that act and those that filter).
const CLI::Validator kTenant(
    [](std::string& tenant) {
      const Status s = ValidateTenant(tenant);
      return s.ok() ? std::string() : s.message();
    },
    "TENANT");

}  // namespace

CommandLine ParseCommandLine(int argc, const char* const* argv, const std::string& default_data_dir,
                             std::ostream& out, std::ostream& err) {
  CLI::App app{"rewind: durable, resumable workflows on an embedded journal"};
  app.require_subcommand(1);
  Invocation a;
  Context& c = a.context;
  c.data_dir = default_data_dir;
  // Options every command takes, also after the command name; the commands
  // that act on runs also take the tenant they act in.
  auto data_and_json = [&](CLI::App* cmd) {
    cmd->add_option("--data", c.data_dir, kDataDirHelp);
    cmd->add_flag("--json", c.json, "machine-readable output: one JSON object on stdout");
  };
  std::vector<CLI::Option*> tenant_options;
  auto common = [&](CLI::App* cmd) {
    data_and_json(cmd);
    tenant_options.push_back(
        cmd->add_option("--tenant", c.tenant, "tenant to act in (default: default, or a --token's)")->check(kTenant));
    cmd->add_option("--server", c.server, "act through the server at http://HOST:PORT (default: the one holding --data)")
        ->envname("REWIND_SERVER");
    cmd->add_option("--token", c.token, "the bearer token for --server")->envname("REWIND_TOKEN");
    cmd->add_option("--ca-file", c.ca_file, "CA certificates (PEM) to trust for an https --server")
        ->envname("REWIND_CA_FILE");
    cmd->add_option("--actor", c.actor, "the person acting through a shared account (recorded with the user)");
  };

  CLI::App* run_cmd = app.add_subcommand("run", "run a workflow file and follow it until it stops");
  run_cmd->add_option("FILE", a.file, "workflow file (JSON)")->required();
  run_cmd->add_option("--input", a.input, "the run's input: text, or @FILE to read it from a file");
  run_cmd->add_option("--idempotency-key", a.idempotency_key, "starting again with the same key returns the same run");
  common(run_cmd);

  CLI::App* resume = app.add_subcommand("resume", "resume a failed, paused, cancelled or completed run");
  resume->add_option("RUN", a.run, "run id")->required();
  resume->add_option("--from-step", a.step, "step id or 1-based index (default: the first unfinished step)");
  resume->add_option("--reason", a.reason, "why (recorded in the journal)");
  resume->add_option("--request-id", a.request_id, "repeating a request id returns the first result");
  resume->add_option("--resume-data", a.resume_data, "data handed to the steps that run again");
  resume->add_flag("--dry-run", a.dry_run, "show what the resume would do, append nothing");
  common(resume);

  CLI::App* approve = app.add_subcommand("approve", "approve the gate a run waits at, and follow it");
  CLI::App* reject = app.add_subcommand("reject", "reject the gate a run waits at (the run fails)");
  for (CLI::App* cmd : {approve, reject}) {
    cmd->add_option("RUN", a.run, "run id")->required();
    cmd->add_option("STEP", a.step, "the approval step (id or 1-based index)")->required();
    cmd->add_option("--note", a.note, "recorded with the decision; an approval's note is the step's output");
    common(cmd);
  }

  CLI::App* cancel = app.add_subcommand("cancel", "cancel a run that has not finished");
  CLI::App* pause = app.add_subcommand("pause", "pause a running run until it is resumed");
  for (CLI::App* cmd : {cancel, pause}) {
    cmd->add_option("RUN", a.run, "run id")->required();
    cmd->add_option("--reason", a.reason, "why (recorded in the journal)");
    common(cmd);
  }

  CLI::App* recover =
      app.add_subcommand("recover", "continue a running run whose process stopped, and follow it");
  recover->add_option("RUN", a.run, "run id")->required();
  common(recover);

  CLI::App* fork = app.add_subcommand("fork", "start a new run from a past run's state, re-running from a step");
  fork->add_option("RUN", a.run, "the parent run")->required();
  fork->add_option("--from-step", a.step, "step to re-run from (id or 1-based index)")->required();
  fork->add_option("--at-seq", a.at_seq, "take the parent's state after this many events (default: now)");
  common(fork);

  CLI::App* signal = app.add_subcommand("signal", "deliver a signal to a run, and follow it");
  signal->add_option("RUN", a.run, "run id")->required();
  signal->add_option("NAME", a.name, "signal name")->required();
  signal->add_option("PAYLOAD", a.payload, "signal payload (text)");
  common(signal);

  CLI::App* status = app.add_subcommand("status", "list runs, or show one run");
  status->add_option("RUN", a.run, "run id (default: list every run of the tenant)");
  common(status);

  CLI::App* state = app.add_subcommand("state", "a run's state at an earlier point (time travel)");
  state->add_option("RUN", a.run, "run id")->required();
  auto* seq_opt = state->add_option("--at-seq", a.at_seq, "after the first K events");
  auto* step_opt = state->add_option("--at-step", a.step, "right after the step's last completion");
  seq_opt->excludes(step_opt);
  common(state);

  // Every tenant's runs: one process drives the journal, so --tenant has no place here.
  CLI::App* serve = app.add_subcommand("serve", "drive every run of the journal (every tenant's) until stopped");
  data_and_json(serve);
  ServeArgs& sa = a.serve;
  auto* listen = serve->add_option("--listen", sa.listen,
                                   "serve the HTTP API on HOST:PORT (loopback unless told otherwise; port 0: any)");
  serve->add_option("--workflows", sa.workflows, "workflow files or folders of them that clients may start");
  serve->add_option("--token-secret-file", sa.token_secret_file,
                    "accept HS256 tokens signed with this file's secret (at least 32 bytes)")
      ->needs(listen);
  serve->add_option("--token-public-key", sa.token_public_key_file,
                    "accept EdDSA or ES256 tokens verified with this PEM public key")
      ->needs(listen);
  serve->add_option("--api-keys", sa.api_keys_file, "accept the API keys this file lists (hashed)")->needs(listen);
  serve->add_option("--audience", sa.audience, "tokens must carry this \"aud\"")->needs(listen);
  auto* tls_cert = serve->add_option("--tls-cert", sa.tls_cert_file, "serve HTTPS with this certificate chain (PEM)");
  auto* tls_key = serve->add_option("--tls-key", sa.tls_key_file, "the certificate's private key (PEM)");
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);

  TokenArgs& ta = a.token;
  CLI::App* token = app.add_subcommand("token", "mint a signed token for a server's API (for development)");
  auto* secret_opt = token->add_option("--secret-file", ta.secret_file, "sign HS256 with this file's secret");
  auto* key_opt = token->add_option("--private-key", ta.private_key_file, "sign EdDSA or ES256 with this PEM key");
  secret_opt->excludes(key_opt);
  token->add_option("--subject", ta.subject, "who the token names (\"sub\")")->required();
  token->add_option("--tenant", ta.tenant, "the tenant it acts in")->check(kTenant);
  token->add_option("--roles", ta.roles, "comma-separated; the default authorizer lets \"operator\" act, any role read")->delimiter(',');
  token->add_option("--ttl", ta.ttl_seconds, "seconds until it expires")->check(CLI::Range(1, 366 * 86400));
  token->add_option("--audience", ta.audience, "its \"aud\"");
  token->add_flag("--json", a.context.json, "print {\"token\": ...}");

  // Queries over the projections (read-only; they filter by tenant only when asked).
  RunsArgs& runs_args = a.runs;
  CLI::App* runs = app.add_subcommand("runs", "list runs from the run index, newest first");
  auto* runs_tenant =
      runs->add_option("--tenant", runs_args.tenant, "only this tenant's runs (default: every tenant)")->check(kTenant);
  bool all_tenants = false;  // the default; the flag says so explicitly
  runs->add_flag("--all-tenants", all_tenants, "every tenant's runs (the default)")->excludes(runs_tenant);
  runs->add_option("--status", runs_args.status, "pending, running, paused, failed, completed or cancelled");
  runs->add_option("--workflow", runs_args.workflow, "only runs of this workflow");
  runs->add_option("--limit", runs_args.limit, "at most N runs (default 50)")->check(CLI::Range(1, 1000000));
  runs->add_flag("--oldest-first", runs_args.oldest_first, "oldest first by start time");
  runs->add_option("--page", runs_args.page, "continue a listing: the token its previous page printed");
  data_and_json(runs);

  CLI::App* stats = app.add_subcommand("stats", "per workflow and step: executions, failures, retries, latencies");
  stats->add_option("--workflow", a.workflow, "only this workflow's steps");
  data_and_json(stats);

  AuditArgs& audit_args = a.audit;
  CLI::App* audit =
      app.add_subcommand("audit", "who resumed, forked, approved, rejected, cancelled, signalled, paused");
  audit->add_option("--run", audit_args.run, "only this run's entries");
  audit->add_option("--actor", audit_args.actor, "only entries of this actor (user name)");
  audit->add_option("--tenant", audit_args.tenant,
                    "only entries on this tenant's runs, or refusals of its people (default: every tenant)")
      ->check(kTenant);
  audit->add_option("--limit", audit_args.limit, "at most N entries (default 100)")->check(CLI::Range(1, 1000000));
  audit->add_option("--before", audit_args.before,
                    "only entries before this journal position (refusals: this number), the next page");
  audit->add_flag("--refusals", audit_args.refusals,
                  "the actions refused instead: who asked, as which tenant, what, and why it was refused");
  data_and_json(audit);

  CLI::App* projections = app.add_subcommand("projections", "the read models behind runs, stats and audit");
  projections->require_subcommand(1);
  CLI::App* projections_status = projections->add_subcommand("status", "each projection's health and checkpoint");
  data_and_json(projections_status);
  CLI::App* rebuild = projections->add_subcommand(
      "rebuild", "rebuild projections from the journal (needs the journal to itself: stop the engine first)");
  rebuild->add_option("NAME", a.projections, "runs, step_stats, audit or snapshots (default: all)");
  data_and_json(rebuild);

  CLI::App* migrate = app.add_subcommand(
      "migrate", "rewrite the journal in the newest format, in place (needs the journal to itself: stop the engine first)");
  migrate->add_flag("--discard-old", a.discard_old, "do not keep the old data file as data.mdb.format<N>");
  data_and_json(migrate);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return CommandLine{std::nullopt, code == 0 ? kExitOk : kExitUsage};
  }
  for (const CLI::Option* t : tenant_options) c.tenant_given = c.tenant_given || t->count() > 0;
  const std::pair<const CLI::App*, Command> commands[] = {
      {run_cmd, Command::kRun},
      {resume, Command::kResume},
      {approve, Command::kApprove},
      {reject, Command::kReject},
      {cancel, Command::kCancel},
      {pause, Command::kPause},
      {recover, Command::kRecover},
      {fork, Command::kFork},
      {signal, Command::kSignal},
      {status, Command::kStatus},
      {state, Command::kState},
      {serve, Command::kServe},
      {token, Command::kToken},
      {runs, Command::kRuns},
      {stats, Command::kStats},
      {audit, Command::kAudit},
      {projections_status, Command::kProjectionsStatus},
      {rebuild, Command::kProjectionsRebuild},
      {migrate, Command::kMigrate},
  };
  for (const auto& [cmd, command] : commands) {
    if (!*cmd) continue;
    if (command == Command::kToken && a.token.secret_file.empty() && a.token.private_key_file.empty()) {
      err << "rewind token: give --secret-file or --private-key" << std::endl;
      return CommandLine{std::nullopt, kExitUsage};
    }
    if (command == Command::kState && !a.at_seq && a.step.empty()) {
      err << "rewind state: give --at-seq K or --at-step STEP" << std::endl;
      return CommandLine{std::nullopt, kExitUsage};
    }
    a.command = command;
    return CommandLine{std::move(a), kExitOk};
  }
  return CommandLine{std::nullopt, kExitUsage};
}

std::optional<std::string> InputFilePath(const std::string& input) {
  if (input.empty() || input[0] != '@') return std::nullopt;
  return input.substr(1);
}

Principal OperatorPrincipal(const std::string& tenant, const std::string& user) {
  return Principal{tenant, user, {std::string(kOperatorRole)}};
}

std::string RunStatusNames() {
  std::string out;
  for (RunStatus s : kRunStatuses) out += (out.empty() ? "" : ", ") + std::string(RunStatusName(s));
  return out;
}

Result<std::uint64_t> StateSeq(const RunHistory& history, std::optional<std::uint64_t> at_seq,
                               std::string_view at_step) {
  if (!at_seq) return history.SeqAtStep(at_step);
  if (*at_seq == 0 || *at_seq > history.size()) {
    return Err(Code::kInvalidArgument, "run " + history.run().ToString() + " has " + std::to_string(history.size()) +
                                           " events; --at-seq takes 1.." + std::to_string(history.size()));
  }
  return *at_seq;
}

}  // namespace rwd::cli
