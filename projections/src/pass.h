// Pass: applies events to projections, folding each event into its run's
// state once for all of them.
//
// Each run's state is staged in the cache (run_states.h) at one address for
// the whole pass, which is what lets a projection keep a pointer to a
// Change's state until Flush.
//
// A target is a projection with the table it writes in this pass (its active
// slot, or the slot being rebuilt) and that table's header. Events must come
// in position order without gaps; each target takes those after its own
// checkpoint, which then advances. Finish writes the moved headers, in the
// same transaction as the data.
#pragma once

#include <span>

#include "projections/src/projection.h"
#include "projections/src/run_states.h"
#include "projections/src/slot.h"

namespace rwd::projections_internal {

struct Target {
  Projection* projection = nullptr;
  Table table;
  SlotHeader header;
  bool moved = false;
};

class Pass {
 public:
  // `snapshots`: where to find snapshots of earlier states (null: none).
  // Begins a pass of every projection in `targets`.
  Pass(WriteView& txn, StateCache& cache, const Table* snapshots, std::span<Target> targets)
      : txn_(txn), cache_(cache), snapshots_(snapshots) {
    for (Target& t : targets) t.projection->Begin();
  }

  // Applies `record` to every target whose checkpoint is below its position.
  // REQUIRES: such a target's checkpoint is record.position - 1.
  Status Apply(std::span<Target> targets, const EventRecord& record);

  // Flushes every target that moved and writes its header.
  Status Finish(std::span<Target> targets);

  // After a failed Apply or Finish: the projection whose own Apply, Flush or
  // header write failed (null when the event itself could not be decoded or
  // folded, which fails them all).
  const Projection* culprit() const { return culprit_; }

  // The first snapshot found damaged. Such a run is folded from its first
  // event instead, so the pass goes on; the snapshots table needs a rebuild.
  const Status& snapshot_damage() const { return snapshot_damage_; }

 private:
  const Projection* culprit_ = nullptr;
  Status snapshot_damage_;
  WriteView& txn_;
  StateCache& cache_;
  const Table* snapshots_;
};

}  // namespace rwd::projections_internal
