// The API's JSON for read models and engine results, which the `rewind` CLI
// prints as well (one shape each, wherever it is shown). Run states and
// events are rewind/inspect/state_json.h's and event_json.h's.
//
//   RunSummaryJson  {run_id, tenant, workflow, version, status, current_step,
//                    started_unix_us, updated_unix_us, events, epoch, resumes,
//                    steps_total, steps_completed, attempts, error, parent_run}
//   RunPageJson     {"runs": [summaries], "next_page": token or null}
//   ResumeJson      {run_id, dry_run, repeated, from_step, epoch, seq, kept, reset}
//   WorkflowJson    {name, version, definition_hash (hex), steps: [{id, kind,
//                    depends_on}]}
//   AuditEntryJson  {position, run_id, seq, unix_us, action, actor,
//                    actor_tenant, tenant, step, detail}
//   RefusalObject   a refusal as the journal stores it (refusals.h RefusalJson)
//   StepStatsJson   {"stats": [{tenant, workflow, step, executions,
//                    completions, failures, abandoned, retries, resumes,
//                    latency_count, p50_us, p90_us, p99_us, max_us}]}
//
// Strings are event_json.h's (a string, or {"base64"} when not UTF-8).
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "rewind/executor/engine.h"
#include "rewind/executor/refusals.h"
#include "rewind/projections/read_models.h"

namespace rwd::server {

// `j` on one line, never an exception: bytes that are not UTF-8 are replaced.
std::string JsonText(const nlohmann::json& j);

nlohmann::json RunSummaryJson(const RunSummary& summary);
nlohmann::json RunPageJson(const RunPage& page);
nlohmann::json ResumeJson(const RunId& run, const ResumeResult& result, bool dry_run);
nlohmann::json WorkflowJson(const RunStarted& definition);
nlohmann::json AuditEntryJson(const AuditEntry& entry);
nlohmann::json RefusalObject(const Refusal& refusal);
nlohmann::json StepStatsJson(const std::vector<StepStats>& stats);

}  // namespace rwd::server
