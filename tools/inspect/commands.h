// journal-inspect's commands. Each opens the journal read-only (beside a
// running engine or on a copied directory), writes its answer to stdout —
// a table for people, or with --json one JSON object (JSONL for `events`) —
// and returns the exit status (tools/common/exit_codes.h). See README
// "For auditors" for the commands and their JSON fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace rwd::inspect_cli {

struct Context {
  std::string data_dir;
  bool json = false;
};

// Counts (runs, events, events by type), sizes, bytes per event, the
// format version and the journal's identity.
int Stat(const Context& c);

// The run's events from `from_seq` to `to_seq`: seq, position, time, actor,
// type and body (JSONL: one event object per line, event_json.h, with
// run_id, seq, position, prev_hash and hash).
int Events(const Context& c, const std::string& run, std::uint64_t from_seq, std::uint64_t to_seq);

// Every run's chain head (last seq and its record's chain hash) and a digest
// over all of them, read in one snapshot.
int Heads(const Context& c);

}  // namespace rwd::inspect_cli
