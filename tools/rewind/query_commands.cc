#include "tools/rewind/query_commands.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <string_view>

#include "rewind/journal/migrate.h"
#include "rewind/projections/projections.h"
#include "rewind/server/api_json.h"
#include "tools/common/json_out.h"
#include "tools/common/exit_codes.h"
#include "tools/common/journal_open.h"
#include "tools/rewind/cli_args.h"
#include "tools/rewind/render.h"

namespace rwd::cli {
namespace {

using namespace std::chrono_literals;

// A read-only journal and its projections; the projections go first.
struct Reader {
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Projections> projections;
};

Result<Reader> OpenReader(const Context& c) {
  Reader r;
  REWIND_ASSIGN_OR_RETURN(r.journal, OpenReadOnly(c));
  REWIND_ASSIGN_OR_RETURN(r.projections, Projections::Open(*r.journal));
  return r;
}

// A query that found its projection missing or not built fails with
// FailedPrecondition; make sure the message says how to build it (the
// projections name the command for some causes, not for a missing table).
int FailQuery(const Context& c, const Status& s) {
  constexpr std::string_view kHint = "rewind projections rebuild";
  if (s.code() != Code::kFailedPrecondition || s.message().find(kHint) != std::string::npos) return Fail(c, s);
  return Fail(c, Status(s.code(), s.message() + "; `" + std::string(kHint) + "` builds it"));
}

}  // namespace

int ListRuns(const Context& c, const RunsArgs& args) {
  RunQuery q;
  if (!args.status.empty()) {
    q.status = ParseRunStatus(args.status);
    if (!q.status) {
      std::cerr << "rewind runs: unknown status '" << args.status << "'; one of: " << RunStatusNames() << std::endl;
      return kExitUsage;
    }
  }
  q.tenant = args.tenant;
  if (!args.workflow.empty()) q.workflow = args.workflow;
  q.limit = args.limit;
  q.newest_first = !args.oldest_first;
  q.page = args.page;
  auto r = OpenReader(c);
  if (!r.has_value()) return Fail(c, r.error());
  auto page = r->projections->ListRuns(q);
  if (!page.has_value()) return FailQuery(c, page.error());
  std::cout << (c.json ? Dump(server::RunPageJson(*page)) + "\n" : RunPageText(*page));
  return kExitOk;
}

int ShowStats(const Context& c, const std::string& workflow) {
  auto r = OpenReader(c);
  if (!r.has_value()) return Fail(c, r.error());
  auto stats = r->projections->Stats(workflow);
  if (!stats.has_value()) return FailQuery(c, stats.error());
  std::cout << (c.json ? StepStatsJson(*stats) + "\n" : StepStatsText(*stats));
  return kExitOk;
}

// `audit --refusals`.
int ShowRefusals(const Context& c, const AuditArgs& args, std::optional<RunId> run) {
  RefusalQuery q{args.tenant, run, std::nullopt, args.limit, args.before};
  if (!args.actor.empty()) q.subject = args.actor;
  auto journal = OpenReadOnly(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto refusals = ReadRefusals(**journal, q);
  if (!refusals.has_value()) return Fail(c, refusals.error());
  std::optional<std::uint64_t> next;
  if (!refusals->empty() && refusals->size() == q.limit) next = refusals->back().number;
  std::cout << (c.json ? RefusalsJson(*refusals, next) + "\n" : RefusalsText(*refusals, next));
  return kExitOk;
}

int ShowAudit(const Context& c, const AuditArgs& args) {
  AuditQuery q;
  if (!args.run.empty()) {
    auto run = RunId::Parse(args.run);
    if (!run.has_value()) return Fail(c, run.error());
    q.run = *run;
  }
  if (args.refusals) return ShowRefusals(c, args, q.run);
  if (!args.actor.empty()) q.actor = args.actor;
  q.tenant = args.tenant;
  q.limit = args.limit;
  q.before_position = args.before;
  auto r = OpenReader(c);
  if (!r.has_value()) return Fail(c, r.error());
  auto entries = r->projections->Audit(q);
  if (!entries.has_value()) return FailQuery(c, entries.error());
  // A full page may have older entries: they are before its last (oldest) one.
  std::optional<std::uint64_t> next;
  if (!entries->empty() && entries->size() == q.limit) next = entries->back().position;
  std::cout << (c.json ? AuditJson(*entries, next) + "\n" : AuditText(*entries, next));
  return kExitOk;
}

int ShowProjections(const Context& c) {
  auto r = OpenReader(c);
  if (!r.has_value()) return Fail(c, r.error());
  const std::vector<ProjectionStatus> status = r->projections->Health();
  std::cout << (c.json ? ProjectionsJson(status) + "\n" : ProjectionsText(status));
  return kExitOk;
}

int RebuildProjections(const Context& c, const std::vector<std::string>& names) {
  // A writer creates a journal where there is none: make sure there is one,
  // so a mistyped --data is NotFound as for every other command. Once this
  // process holds the journal (its structure checked as it opened), its
  // events must verify: the projections are what this command repairs, and
  // it reads every event anyway.
  if (Status there = CheckJournalDir(c.data_dir, /*may_create=*/false); !there.ok()) return Fail(c, there);
  JournalOptions o;
  o.directory = c.data_dir;
  auto journal = Journal::Open(o);  // Unavailable while an engine holds it
  if (!journal.has_value()) return Fail(c, RefusingToWrite(journal.error(), c.data_dir));
  if (auto verified = (*journal)->VerifyAll(); !verified.has_value()) {
    return Fail(c, RefusingToWrite(verified.error(), c.data_dir));
  }
  auto projections = Projections::Open(**journal, ProjectionsOptions{.background = false});
  if (!projections.has_value()) return Fail(c, projections.error());

  const auto start = std::chrono::steady_clock::now();
  auto last_line = start;
  ProgressFn progress;
  if (!c.json) {
    progress = [&](const RebuildProgress& p) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_line < 250ms) return;  // at most ~4 lines a second
      last_line = now;
      std::cerr << RebuildProgressLine(p) << std::endl;
    };
  }
  const Status rebuilt = (*projections)->Rebuild(names, progress);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!rebuilt.ok()) return Fail(c, rebuilt);

  auto last = (*journal)->LastPosition();
  if (!last.has_value()) return Fail(c, last.error());
  RebuildFigures figures{names.empty() ? Projections::Names() : names, *last, seconds};
  const std::vector<ProjectionStatus> after = (*projections)->Health();
  std::cout << (c.json ? RebuildJson(figures, after) + "\n" : RebuildText(figures, after));
  return kExitOk;
}

int Migrate(const Context& c, bool discard_old) {
  // The projections are not copied but made again from the migrated events,
  // before this returns: the journal is whole, read models included.
  const auto report = MigrateJournal({.directory = c.data_dir,
                                      .keep_old = !discard_old,
                                      .copy_table = [](std::string_view t) { return !Projections::OwnsTable(t); }});
  if (!report.has_value()) return Fail(c, report.error());
  const MigrateReport& r = *report;
  if (r.from_version != r.to_version) {
    JournalOptions o;
    o.directory = c.data_dir;
    auto journal = Journal::Open(o);
    if (!journal.has_value()) return Fail(c, journal.error());
    auto projections = Projections::Open(**journal, ProjectionsOptions{.background = false});
    if (!projections.has_value()) return Fail(c, projections.error());
    if (Status built = (*projections)->CatchUp(); !built.ok()) return Fail(c, built);
  }
  if (c.json) {
    const nlohmann::json j{{"from_version", r.from_version}, {"to_version", r.to_version}, {"events", r.events},
                           {"records", r.records},           {"runs", r.runs},             {"old_bytes", r.old_bytes},
                           {"new_bytes", r.new_bytes},       {"tables_copied", r.tables},       {"kept", r.kept.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.kept)}};
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  if (r.from_version == r.to_version) {
    std::cout << "journal '" << c.data_dir << "' is in format " << r.to_version << " already: nothing to do\n";
    return kExitOk;
  }
  std::cout << "migrated '" << c.data_dir << "' from format " << r.from_version << " to " << r.to_version << ": "
            << r.events << " events of " << r.runs << " runs in " << r.records << " records; " << r.old_bytes
            << " bytes in use before, " << r.new_bytes << " now\n";
  if (!r.kept.empty()) std::cout << "the old data file is kept as " << r.kept << " (remove it when content)\n";
  std::cout << "every event keeps its position and chain hash: heads saved before still check it "
               "(journal-inspect verify --all --against FILE); the projections were built again from the events\n";
  return kExitOk;
}

}  // namespace rwd::cli
