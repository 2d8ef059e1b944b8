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

// Which runs `runs` lists; empty or nullopt fields do not filter.
struct RunFilter {
  std::string tenant, status, workflow;
  std::optional<std::int64_t> since_unix_us, until_unix_us;  // started in [since, until)
};

// Every run of the journal that passes `filter`, newest first by start time,
// each folded from its events (no projections needed). A run whose events do
// not fold, or that a lookup cannot find (a damaged run index), has status
// "damaged" (folded as far as it goes). JSON: {"runs":
// [{run_id, tenant, workflow, version, status, seq, epoch, started_unix_us,
// updated_unix_us, parent_run, damage (null, or what stopped the fold)}]}.
int Runs(const Context& c, const RunFilter& filter);

// Counts (runs, events, events by type), sizes, bytes per event, the
// format version and the journal's identity.
int Stat(const Context& c);

// The run's events from `from_seq` to `to_seq`: seq, position, time, actor,
// type and body (JSONL: one event object per line, event_json.h, with
// run_id, seq, position, prev_hash and hash).
// With `raw_dir` not empty, writes each event's exact stored payload (a
// FlatBuffer of schemas/events.fbs, root Event) to RAW_DIR/<seq>.bin instead,
// and lists the files.
int Events(const Context& c, const std::string& run, std::uint64_t from_seq, std::uint64_t to_seq,
           const std::string& raw_dir);

// Writes the events of one run (`run` not empty) or of every run, in global
// order, to `out` as JSONL: one line per event as `events --json` prints it.
// Prints how many events went out (JSON: {"events", "runs", "out"}).
int Export(const Context& c, const std::string& run, const std::string& out);

// The run's history for people (timeline.h): time, seq, epoch, step, who,
// and what happened. JSON: {"run_id", "entries": [{seq, unix_us, type, step,
// actor, epoch, what}]} (step and actor null when none).
int TimelineOf(const Context& c, const std::string& run);

// Time travel: the run's folded state after its first `at_seq` events, or
// (`at_step` given) right after that step last completed (before it first
// started, if it never completed). JSON: {"at_seq", "state"} (state_json.h).
int State(const Context& c, const std::string& run, std::optional<std::uint64_t> at_seq, const std::string& at_step);

// What changed in the run's state between seq `from` and seq `to`: the
// events between them and every changed field. JSON: {"run_id", "from", "to",
// "events": [event objects], "changes": RFC 6902 JSON Patch from the state at
// `from` to the state at `to`}.
int Diff(const Context& c, const std::string& run, std::uint64_t from, std::uint64_t to);

// Exit status of a verify that found problems, or of a replay-check that
// found a divergence (README "For auditors").
inline constexpr int kExitProblemsFound = 20;

// Checks one run (`run` not empty) or the whole journal (verify.h), and with
// `against` not empty also the heads saved in that file. Exit 0 when clean,
// kExitProblemsFound with the report otherwise. The whole journal's check
// takes in the refusal log's chain (refusals.h). JSON: {"clean", "runs",
// "events", "refusals", "problems": [{"run_id" (or null), "seq", "check",
// "message"}]}.
int Verify(const Context& c, const std::string& run, const std::string& against);

// Replays the run's history through the definition in `workflow_file` (a
// workflow file as `rewind` runs it) with the engine's `max_parallel`
// (replay_check.h). Exit 0 when the definition decides as recorded,
// kExitProblemsFound naming the first event that differs otherwise. JSON:
// {"run_id", "workflow", "recorded_version", "candidate_version",
// "same_definition", "max_parallel", "events", "decision_points",
// "divergence": null or {"seq", "check", "message", "recorded" (an event
// object, or null at the end of the history), "decided": [event objects]}}.
int ReplayCheck(const Context& c, const std::string& run, const std::string& workflow_file,
                std::uint32_t max_parallel);

// Every run's chain head (last seq and its record's chain hash) and a digest
// over all of them, read in one snapshot.
int Heads(const Context& c);

// The refusal log (refusals.h), oldest first, once its chain checks out
// (kExitProblemsFound naming the entry that breaks it otherwise). JSONL:
// one refusal per line as the journal stores it.
int Refusals(const Context& c);

}  // namespace rwd::inspect_cli
