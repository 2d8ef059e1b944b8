// A run's folded state as JSON, every field of RunState: what
// `journal-inspect state --json` prints and `diff` compares.
//
//   {"run_id", "seq", "status", "epoch", "workflow", "version", "tenant",
//    "paused_step" (step id or null), "output", "error" ({code, message} or null),
//    "parent_run" (or null), "parent_seq", "started_unix_us", "updated_unix_us",
//    "steps": [{"index", "id", "kind", "status", "epoch", "attempts",
//               "total_attempts", "output", "error" ({code, message} or null),
//               "retryable", "due_unix_us", "started_unix_us"}],
//    "pending_signals": [{"name", "payload"}],
//    "resumes": [{"request_id", "from_step" (id), "epoch", "seq", "data"}]}
// Statuses and kinds are snake_case names; byte and string fields as in
// event_json.h. A state with no events yet has "workflow": null and no steps.
#pragma once

#include <nlohmann/json.hpp>

#include "rewind/fold/run_state.h"

namespace rwd::inspect {

nlohmann::json StateJson(const RunState& state);

// An error as a state shows it: {code, message}, or null when both are empty.
nlohmann::json ErrorJson(const std::string& code, const std::string& message);

}  // namespace rwd::inspect
