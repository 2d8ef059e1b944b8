// How the rewind CLI shows runs: human text and stable JSON.
//
// JSON fields (documented in README "rewind --json"): a run object is the
// run's state as rewind/inspect/state_json.h writes it, the one shape of a
// run state everywhere (journal-inspect state, the server); a listing leaves
// out its lists (steps, pending_signals, resumes).
//
// `resume --dry-run` prints the server's ResumeJson. The projection commands
// (runs, stats, audit, projections) print read models
// (read_models.h) as tables with columns sized to their contents, and as JSON:
//   runs         the server's RunPageJson (rewind/server/api_json.h)
//   stats        {"stats": [{workflow, step, executions, completions, failures,
//                abandoned, retries, resumes, latency_count, p50_us, p90_us,
//                p99_us, max_us}]}
//   audit        {"entries": [{position, run_id, seq, unix_us, action, actor,
//                actor_tenant, tenant, step, detail}], "next_before"}
//   audit --refusals  {"refusals": [as refusals.h RefusalJson stores them],
//                "next_before"}
//   projections  {"projections": [{name, health, version, stored_version,
//                checkpoint, rebuild_checkpoint, journal_position, error}]}
//   rebuild      {"rebuilt": [names], events, seconds, events_per_second,
//                "projections": [as above]}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rewind/executor/engine.h"
#include "rewind/executor/refusals.h"
#include "rewind/projections/projections.h"

namespace rwd::cli {

// Who drives a run that is not stopped: the process that holds its journal
// for writing (Journal::WriterProcess), or none.
struct Driver {
  std::optional<int> pid;
};

// One JSON object, on one line; with `driver`, also "driver": {"pid": N} or
// null when nothing drives the run.
std::string RunJson(const RunState& state, std::optional<Driver> driver = std::nullopt);
// The line `rewind status RUN` adds for a run that is not stopped: who
// drives it, or how to continue it when nothing does.
std::string DriverText(const RunState& state, const Driver& driver);
// One JSON object for an event just appended to a run as its `seq` (`serve
// --json`): {"run_id", "seq", "event", "status"}, status the run's after the
// append.
std::string EventLineJson(const RunState& after, const Event& event, std::uint64_t seq);
// {"runs": [run objects without steps]} for a listing.
std::string RunListJson(const std::vector<RunState>& runs);
// Any flat object of string fields, e.g. {"run_id": ..., "status": ...}.
std::string ObjectJson(const std::vector<std::pair<std::string, std::string>>& fields);

// One line per run for a listing.
std::string RunListText(const std::vector<RunState>& runs);
// Progress lines for events just appended to a run (empty for events not worth a line).
std::vector<std::string> ProgressLines(const RunState& after, const std::vector<Event>& appended,
                                       std::int64_t now_unix_us);

// --- Read models (the projection commands) ---

// A table of the page, then how to ask for the next page, if any.
std::string RunPageText(const RunPage& page);

std::string StepStatsJson(const std::vector<StepStats>& stats);
// A table, latencies in human units (850us, 1.2ms, 3.0s).
std::string StepStatsText(const std::vector<StepStats>& stats);

// `next_before`: the --before position of the next (older) page, if any.
std::string AuditJson(const std::vector<AuditEntry>& entries, std::optional<std::uint64_t> next_before);
std::string AuditText(const std::vector<AuditEntry>& entries, std::optional<std::uint64_t> next_before);
std::string RefusalsJson(const std::vector<Refusal>& refusals, std::optional<std::uint64_t> next_before);
std::string RefusalsText(const std::vector<Refusal>& refusals, std::optional<std::uint64_t> next_before);

std::string ProjectionsJson(const std::vector<ProjectionStatus>& status);
std::string ProjectionsText(const std::vector<ProjectionStatus>& status);

// What a rebuild did: which projections were asked for, and how fast.
struct RebuildFigures {
  std::vector<std::string> names;
  std::uint64_t events = 0;  // the journal's events, each folded once
  double seconds = 0;
  double events_per_second() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};
std::string RebuildJson(const RebuildFigures& figures, const std::vector<ProjectionStatus>& after);
std::string RebuildText(const RebuildFigures& figures, const std::vector<ProjectionStatus>& after);
// "rebuilding runs,step_stats: 412,000 / 1,000,000 events (41%), 850,000 events/s, 0.7 s left"
std::string RebuildProgressLine(const RebuildProgress& progress);

}  // namespace rwd::cli
