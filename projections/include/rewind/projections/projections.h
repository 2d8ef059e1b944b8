// Projections: read models folded from the journal, kept in its own file.
//
// Built in (DESIGN §5):
//   runs        run index + run summary: list runs by tenant, status,
//               workflow and start time; where each run stands
//   step_stats  per workflow and step: counts and attempt latency percentiles
//   audit       every resume, fork, approval, rejection, cancel, signal and
//               manual pause with actor, tenant, reason and time
//   snapshots   the run state every K events of each run, so StateAt costs at
//               most K folds
//
// Each projection is named and versioned and lives in tables of the journal
// (tables.h) with a checkpoint — the last global position it applied — in
// the same transaction as its data. Every event is folded into its run's
// state once (Evolve, the engine's own fold) and handed to all projections.
// A current projection is applied inside the append's own transaction, so
// after an append is acknowledged every projection already reflects it. One
// that is behind (or being rebuilt) catches up in bounded updates between
// group commits, never holding appends for longer than one such update.
//
// Rebuild folds the whole journal into the projection's other slot and swaps
// it in with one transaction: readers see the old table or the new one, never
// a half-built one. A crash during a rebuild leaves the old one in place, and
// the rebuild continues from its own checkpoint at the next Open. Open
// rebuilds a projection whose version (or settings) changed, that is missing,
// or whose checkpoint does not name an event of this journal. A projection
// found damaged while applying events (a value or header that does not
// decode) is rebuilt once by itself, the others going on meanwhile; if that
// rebuild fails too, the projection stays kFailed until Rebuild is asked for.
// A damaged snapshot never hides a state: the run is folded from its first
// event instead.
//
// A rebuilt projection equals, byte for byte, the one maintained event by
// event: projections are deterministic functions of the journal.
//
// Thread-safety: all methods may be called concurrently. Queries run in one
// read snapshot each and never block appends.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/journal/hash.h"
#include "rewind/journal/journal.h"
#include "rewind/projections/read_models.h"

namespace rwd {

struct ProjectionsOptions {
  // Snapshot interval K: a snapshot of each run after every K of its events.
  std::uint32_t snapshot_every = 64;
  // Events per update while catching up or rebuilding (appends wait at most
  // for one such update).
  std::size_t batch_events = 4096;
  // Run states kept in memory to fold the next events of active runs.
  std::size_t cached_runs = 4096;
  // Writers only: catch up and rebuild in a background thread after Open.
  // Otherwise CatchUp does it when called.
  bool background = true;
};

enum class ProjectionHealth : std::uint8_t {
  kCurrent,     // at the journal's last position
  kBehind,      // catching up
  kRebuilding,  // a rebuild is under way (the old table still serves reads)
  kMissing,     // no table yet (a read-only open of a journal without it)
  kFailed,      // applying failed; see error
};
std::string_view ProjectionHealthName(ProjectionHealth health);

struct ProjectionStatus {
  std::string name;
  std::uint32_t version = 0;         // this build's
  std::uint32_t stored_version = 0;  // the active table's (0: none)
  std::uint64_t stored_config = 0;   // the active table's config, e.g. the snapshot interval (0: none)
  ProjectionHealth health = ProjectionHealth::kMissing;
  std::uint64_t checkpoint = 0;           // of the active table
  std::uint64_t rebuild_checkpoint = 0;   // of the table being rebuilt
  std::uint64_t journal_position = 0;     // the journal's last position
  std::string error;                      // kFailed, or kRebuilding after a failure: what failed
};

struct RebuildProgress {
  std::string name;        // the projections being rebuilt, comma-separated
  std::uint64_t done = 0;  // events applied
  std::uint64_t total = 0;
  double events_per_second = 0;
  double seconds_left = 0;
};
using ProgressFn = std::function<void(const RebuildProgress&)>;

class Projections {
 public:
  // Attaches to `journal`, which must outlive the result. A writer opens (and
  // creates) the tables, checks every projection and queues the rebuilds and
  // catch-ups it needs (done in the background, or by CatchUp), and applies
  // current projections with every append from now on. On a read-only
  // journal only the queries and Health work; missing tables read as empty.
  static Result<std::unique_ptr<Projections>> Open(Journal& journal, ProjectionsOptions options = {});
  ~Projections();  // stops background work; appends no longer maintain them

  // Brings every projection to the journal's last position, rebuilding where
  // needed. Blocks. FailedPrecondition on a read-only journal.
  Status CatchUp(const ProgressFn& progress = nullptr);

  // Rebuilds the named projections (all when empty) from the journal into
  // their other slot and swaps them in. Blocks; appends continue meanwhile.
  // NotFound for an unknown name.
  Status Rebuild(std::span<const std::string> names, const ProgressFn& progress = nullptr);

  // Where each projection stands, in Names() order (read-only: those never
  // built in this journal last, as kMissing). Reads one snapshot; never fails
  // (a projection whose header cannot be read is reported kFailed).
  std::vector<ProjectionStatus> Health() const;
  // The built-in projections: runs, step_stats, audit, snapshots.
  static std::vector<std::string> Names();
  // Whether journal table `table` (Journal::OpenTable's name) is one of a
  // projection's: derived data that a rebuild makes again.
  static bool OwnsTable(std::string_view table);

  // SHA-256 of each projection's table in use — every key and value in key
  // order, its header included — in Names() order; nullopt for a projection
  // with no table in use. Tables with equal contents have equal digests, so
  // comparing with a fresh rebuild's (on a copy: Journal::CopyTo) shows
  // whether a projection is what the journal says. Reads one snapshot.
  Result<std::vector<std::pair<std::string, std::optional<Hash>>>> Digests() const;

  // --- Queries ---
  Result<RunPage> ListRuns(const RunQuery& query) const;
  // NotFound for an unknown run.
  Result<RunSummary> Summary(const RunId& run) const;
  // How many runs of every tenant have each status (kRunStatuses order), for
  // metrics. Walks the status index: O(runs), about 50 ns a run.
  Result<std::vector<std::pair<RunStatus, std::uint64_t>>> CountRuns() const;
  // Every step of `workflow` (all workflows when empty) in runs of `tenant`
  // (every tenant when nullopt), by tenant, workflow, then step.
  Result<std::vector<StepStats>> Stats(const std::string& workflow = {},
                                       const std::optional<std::string>& tenant = std::nullopt) const;
  // Newest first.
  Result<std::vector<AuditEntry>> Audit(const AuditQuery& query) const;
  // The state of `run` after its first `seq` events (Journal::kEnd: all),
  // from the newest snapshot at or before it plus at most K folds. Equal to
  // folding the run from its first event. NotFound for an unknown run or a
  // seq past its end; InvalidArgument for seq 0.
  Result<RunState> StateAt(const RunId& run, std::uint64_t seq) const;

 private:
  class Impl;
  explicit Projections(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwd
