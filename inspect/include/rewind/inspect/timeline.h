// A run's history told for people: one entry per event, with the step it
// concerns, who acted, and what happened in words — attempts, failures with
// their errors, retries and when they were due, pauses, approvals with their
// notes, and each resume with its actor, reason and the epoch it began.
// Built by folding (Evolve), so every entry knows the state it led to.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/schemas/events.h"

namespace rwd::inspect {

struct TimelineEntry {
  std::uint64_t seq = 0;
  std::int64_t unix_us = 0;
  std::string type;                 // EventTypeName
  std::optional<std::string> step;  // the step's id, when the event concerns one
  std::optional<std::string> actor;  // "subject@tenant" for events someone caused
  std::uint32_t epoch = 0;          // the run's epoch after the event
  std::string what;                 // one line
};

// `events`: the run's events from seq 1. Corruption naming the seq when one
// does not fold.
Result<std::vector<TimelineEntry>> Timeline(const RunId& run, std::span<const Event> events);

// The entries as JSON: [{seq, unix_us, type, step, actor, epoch, what}],
// step and actor null when absent, strings as event_json.h writes them.
nlohmann::json TimelineJson(const std::vector<TimelineEntry>& entries);

}  // namespace rwd::inspect
