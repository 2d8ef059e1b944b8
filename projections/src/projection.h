// Projection: one read model folded from the journal's global stream.
//
// The runner (pass.h) folds each event into its run's state once and hands
// the event, with the run's state after it, to every projection it applies;
// a projection turns that into writes to its own table. Projections that are
// current are applied in the append's own transaction (so every one of them
// reads its writes); one that is behind catches up in bounded updates. Apply must be a
// deterministic function of the events applied so far (no clock, no
// randomness, no process state): a table rebuilt from the journal must equal,
// byte for byte, the table maintained event by event.
//
// Each projection's table reserves keys starting with 0x00 for the runner's
// slot header (slot.h); projections write keys starting with any other byte.
#pragma once

#include <cstdint>
#include <string_view>

#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "rewind/schemas/events.h"

namespace rwd::projections_internal {

// One applied event: the stored record, its decoded event and its run's state
// right after it. `state` stays at its address, as the run's latest state,
// until the pass ends: a projection may keep a pointer to it until Flush.
struct Change {
  const EventRecord& record;
  const Event& event;
  const RunState& state;
};

class Projection {
 public:
  virtual ~Projection() = default;
  // A stable name, used in table names and by the CLI.
  virtual std::string_view name() const = 0;
  // Bumped whenever what Apply writes changes: a stored projection of another
  // version is rebuilt.
  virtual std::uint32_t version() const = 0;
  // Settings that shape the table (snapshots: K); a change rebuilds as a
  // version bump does.
  virtual std::uint64_t config() const { return 0; }
  // Applies one change to `table`. A projection may keep what it changes in
  // memory until Flush, which ends every pass that applied changes; Begin
  // starts each pass and drops whatever an abandoned pass left.
  virtual void Begin() {}
  virtual Status Apply(WriteView& txn, const Table& table, const Change& change) = 0;
  virtual Status Flush(WriteView& /*txn*/, const Table& /*table*/) { return Status::Ok(); }
};

}  // namespace rwd::projections_internal
