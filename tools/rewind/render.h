// How the rewind CLI shows runs: human text and stable JSON.
//
// JSON fields (documented in README "rewind --json"): a run object has
//   run_id, workflow, version, tenant, status, seq, epoch, paused_step (or
//   null), output, error {code, message} (or null), parent_run (or null),
//   started_unix_us, updated_unix_us, steps [{id, kind, status, epoch,
//   attempts, total_attempts, output, error}], resumes [{request_id,
//   from_step, epoch, seq}].
// Byte fields (outputs) are strings; bytes that are not UTF-8 are replaced.
#pragma once

#include <string>
#include <vector>

#include "rewind/executor/engine.h"

namespace rwd::cli {

// One JSON object, on one line.
std::string RunJson(const RunState& state);
// A JSON object for a resume's result (dry run or done).
std::string ResumeJson(const RunId& run, const ResumeResult& result, bool dry_run);
// {"error": {"code": ..., "message": ...}, "exit_code": N}
std::string ErrorJson(const Status& status, int exit_code);
// {"runs": [run objects without steps]} for a listing.
std::string RunListJson(const std::vector<RunState>& runs);
// Any flat object of string fields, e.g. {"run_id": ..., "status": ...}.
std::string ObjectJson(const std::vector<std::pair<std::string, std::string>>& fields);

// A multi-line human description of a run and its steps.
std::string RunText(const RunState& state);
// One line per run for a listing.
std::string RunListText(const std::vector<RunState>& runs);
// Progress lines for events just appended to a run (empty for events not worth a line).
std::vector<std::string> ProgressLines(const RunState& after, const std::vector<Event>& appended,
                                       std::int64_t now_unix_us);

}  // namespace rwd::cli
