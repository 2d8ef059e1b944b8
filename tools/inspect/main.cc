// journal-inspect: the auditor's read-only view of a journal. It never writes:
// it opens the journal read-only, so it works beside a running engine and on
// a copied directory. See README "For auditors".
//
// Reading a damaged data file can crash LMDB, which trusts its pages. So the
// command runs in a child process: when the child dies of a signal, the
// parent reports that the data file is damaged and exits with
// kExitJournalCrashed instead of crashing (tools/common/fatal_signal.h says
// why rewind handles the signal in process instead).
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <system_error>

#include "rewind/journal/journal.h"
#include "tools/common/data_dir.h"
#include "tools/common/exit_codes.h"
#include "tools/common/fatal_signal.h"
#include "tools/common/json_out.h"
#include "rewind/base/time.h"
#include "tools/common/text.h"
#include "tools/inspect/commands.h"

namespace {

int Isolated(const rwd::inspect_cli::Context& c, const std::function<int()>& command) {
  // The child's temporary files (verify's copy of the journal) go into a
  // directory the parent removes, also after a crash of the child.
  struct Scratch {
    std::error_code ec;
    std::string path = (std::filesystem::temp_directory_path(ec) / "journal-inspect-XXXXXX").string();
    bool made = !ec && mkdtemp(path.data()) != nullptr;
    ~Scratch() {
      if (made) std::filesystem::remove_all(path, ec);
    }
  } scratch;
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) return command();  // cannot isolate: run in place
  if (child == 0) {
    if (scratch.made) setenv("TMPDIR", scratch.path.c_str(), 1);
    const int code = command();
    std::cout.flush();
    std::fflush(nullptr);
    _exit(code);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  const std::string message = rwd::cli::JournalCrashMessage(c.data_dir, sig);
  if (c.json) {
    std::cout << rwd::cli::ErrorJson(rwd::cli::kCrashedErrorCode, message, rwd::cli::kExitJournalCrashed) << std::endl;
  } else {
    std::cerr << "journal-inspect: " << message << std::endl;
  }
  return rwd::cli::kExitJournalCrashed;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = rwd::inspect_cli;
  // Library logs go to stderr, warnings and errors only: stdout is the answer.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("journal-inspect"));
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"journal-inspect: read-only audit and time travel over a Rewind journal"};
  app.require_subcommand(1);
  cli::Context c;
  c.data_dir = rwd::cli::DefaultDataDir();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--data", c.data_dir, rwd::cli::kDataDirHelp);
    cmd->add_flag("--json", c.json, "machine-readable output (JSON; JSONL for events)");
  };

  std::string run;
  std::uint64_t from_seq = 1, to_seq = rwd::Journal::kEnd;

  cli::RunFilter filter;
  std::string since, until;
  CLI::App* runs = app.add_subcommand("runs", "runs with their status, folded from the journal");
  runs->add_option("--tenant", filter.tenant, "only this tenant's runs");
  runs->add_option("--status", filter.status, "pending, running, paused, failed, completed or cancelled");
  runs->add_option("--workflow", filter.workflow, "only runs of this workflow");
  runs->add_option("--since", since, "started at or after (2026-11-22 or 2026-11-22T08:00:00Z, UTC)");
  runs->add_option("--until", until, "started before (same forms)");
  common(runs);
  CLI::App* stat = app.add_subcommand("stat", "counts, sizes, bytes per event, format version");
  common(stat);
  CLI::App* events = app.add_subcommand("events", "a run's events with seq, position, time, actor and body");
  events->add_option("RUN", run, "run id")->required();
  events->add_option("--from-seq", from_seq, "first seq (default 1)");
  events->add_option("--to-seq", to_seq, "last seq (default: the run's last)");
  std::string raw_dir;
  events->add_option("--raw", raw_dir, "write each event's exact stored bytes to DIR/<seq>.bin instead (and the definition a first event names, stored once, to DIR/definition.bin)");
  common(events);
  CLI::App* timeline = app.add_subcommand("timeline", "a run's history for people: attempts, failures, resumes");
  timeline->add_option("RUN", run, "run id")->required();
  common(timeline);
  std::optional<std::uint64_t> at_seq;
  std::string at_step;
  CLI::App* state = app.add_subcommand("state", "a run's state at a point of its history (time travel)");
  state->add_option("RUN", run, "run id")->required();
  auto* seq_opt = state->add_option("--at-seq", at_seq, "after this many events");
  auto* step_opt = state->add_option("--at-step", at_step, "right after this step last completed (id or 1-based index)");
  seq_opt->excludes(step_opt);
  common(state);
  std::uint64_t diff_from = 0, diff_to = 0;
  CLI::App* diff = app.add_subcommand("diff", "what changed in a run's state between two seqs");
  diff->add_option("RUN", run, "run id")->required();
  diff->add_option("--from", diff_from, "the earlier seq (0: before the first event)")->required();
  diff->add_option("--to", diff_to, "the later seq")->required();
  common(diff);
  CLI::App* heads = app.add_subcommand("heads", "every run's chain head and a digest over all of them");
  common(heads);
  CLI::App* refusals = app.add_subcommand("refusals", "the actions the engine refused, once their chain checks out");
  common(refusals);
  bool all = false;
  std::string out;
  CLI::App* export_cmd = app.add_subcommand("export", "every event of a run, or of all runs, with its hashes, as JSONL");
  auto* export_run = export_cmd->add_option("RUN", run, "one run");
  export_cmd->add_flag("--all", all, "every run, in global order")->excludes(export_run);
  export_cmd->add_option("--out", out, "the file to write")->required();
  common(export_cmd);
  std::string against;
  CLI::App* verify = app.add_subcommand("verify", "check checksums, chains, decoding and every transition");
  auto* verify_run = verify->add_option("RUN", run, "one run (default: every run and the journal as a whole)");
  verify->add_flag("--all", all, "every run and the journal as a whole (the default)")->excludes(verify_run);
  verify->add_option("--against", against, "also check heads saved earlier by `heads --json`");
  common(verify);
  std::string workflow_file;
  std::uint32_t max_parallel = 0;
  CLI::App* replay = app.add_subcommand(
      "replay-check", "replay a run through a workflow file's definition; report the first event decided otherwise");
  replay->add_option("RUN", run, "run id")->required();
  replay->add_option("--workflow", workflow_file, "the workflow file (JSON) to check against")->required();
  replay->add_option("--max-parallel", max_parallel,
                     "the engine's max parallel steps when the run was recorded (default 0, no limit, as rewind runs)");
  common(replay);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : rwd::cli::kExitUsage;
  }
  for (auto [text, bound] : {std::pair{&since, &filter.since_unix_us}, std::pair{&until, &filter.until_unix_us}}) {
    if (text->empty()) continue;
    *bound = rwd::ParseIsoTime(*text);
    if (!*bound) {
      std::cerr << "journal-inspect runs: '" << *text << "' is no time (2026-11-22 or 2026-11-22T08:00:00Z)"
                << std::endl;
      return rwd::cli::kExitUsage;
    }
  }
  if (*export_cmd && run.empty() && !all) {
    std::cerr << "journal-inspect export: give a RUN or --all" << std::endl;
    return rwd::cli::kExitUsage;
  }
  if (*state && !at_seq && at_step.empty()) {
    std::cerr << "journal-inspect state: give --at-seq K or --at-step STEP" << std::endl;
    return rwd::cli::kExitUsage;
  }
  return Isolated(c, [&] {
    if (*runs) return cli::Runs(c, filter);
    if (*stat) return cli::Stat(c);
    if (*events) return cli::Events(c, run, from_seq, to_seq, raw_dir);
    if (*export_cmd) return cli::Export(c, run, out);
    if (*state) return cli::State(c, run, at_seq, at_step);
    if (*timeline) return cli::TimelineOf(c, run);
    if (*diff) return cli::Diff(c, run, diff_from, diff_to);
    if (*verify) return cli::Verify(c, run, against);
    if (*replay) return cli::ReplayCheck(c, run, workflow_file, max_parallel);
    if (*refusals) return cli::Refusals(c);
    return cli::Heads(c);
  });
}
