// The rewind CLI's commands over the projections (projections.h): run
// listings, step statistics, the audit trail, and the projections' own health
// and rebuilds. Conventions as in commands.h: each returns the exit status,
// prints a human table (or, with `json`, one JSON object on stdout; fields in
// render.h) and prints errors through Fail.
//
// The queries open the journal read-only, so they work beside a running
// engine and on a copied directory; they never build anything. A projection
// that is missing or not built is FailedPrecondition (exit 12), with a message
// that names `rewind projections rebuild`. Rebuild opens the journal for
// writing: Unavailable (exit 16) while another process, such as an engine,
// holds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/rewind/commands.h"

namespace rwd::cli {

struct RunsArgs {
  std::optional<std::string> tenant;  // nullopt: every tenant
  std::string status;                 // a RunStatusName; empty: any
  std::string workflow;               // empty: any
  std::size_t limit = 50;             // at least 1
  bool oldest_first = false;
  std::string page;  // the token the previous page printed
};
// `rewind runs`: one page of run summaries, newest first by start time.
// An unknown status is a usage error (kExitUsage) naming the valid ones.
int ListRuns(const Context& c, const RunsArgs& args);

// `rewind stats`: per workflow (all when empty) and step, counts and latencies.
int ShowStats(const Context& c, const std::string& workflow);

struct AuditArgs {
  std::string run;                    // empty: any
  std::string actor;                  // empty: any
  std::optional<std::string> tenant;  // the run's tenant; nullopt: every tenant
  std::size_t limit = 100;            // at least 1
  std::uint64_t before = 0;           // only entries before this position (0: from the newest)
  bool refusals = false;              // the refusal log (refusals.h) instead
};
// `rewind audit`: operator actions on runs, newest first; with `refusals`,
// the actions refused (read from the journal beside a running writer), the
// tenant filter matching the actor's tenant or the run's.
int ShowAudit(const Context& c, const AuditArgs& args);

// `rewind projections status`: each projection's health and checkpoints.
int ShowProjections(const Context& c);

// `rewind projections rebuild`: rebuilds `names` (all when empty) from the
// journal, with progress lines on stderr (not with --json), then prints the
// figures and the projections' status. NotFound for an unknown name; NotFound
// when there is no journal (nothing is created).
int RebuildProjections(const Context& c, const std::vector<std::string>& names);

// `rewind migrate`: rewrites the journal in the newest format, in place
// (rewind/journal/migrate.h), keeping the old data file unless
// `discard_old`. Nothing to do for a journal in the newest format already.
int Migrate(const Context& c, bool discard_old);

}  // namespace rwd::cli
