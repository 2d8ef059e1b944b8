// What journal-inspect's commands share: opening the journal read-only,
// naming who acted, and reporting an error (to stderr, or as JSON on
// stdout with --json) with the exit status of its code.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/projections/history.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"
#include "tools/inspect/commands.h"

namespace rwd::inspect_cli {

// Reports `s` and returns its exit status. Damage (Corruption) is named
// with c.data_dir (NameJournal).
int Fail(const Context& c, const Status& s);

// The journal in c.data_dir, opened read-only (journal_open.h's OpenReadOnly).
Result<std::unique_ptr<Journal>> Open(const Context& c);

// "subject@tenant", "subject", or "-" for the engine's own events.
std::string Who(const std::optional<Actor>& actor);

// A run named on the command line: nullopt for "" (every run).
Result<std::optional<RunId>> OptionalRun(const std::string& text);

}  // namespace rwd::inspect_cli
