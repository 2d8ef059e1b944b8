// Run states for projections: the snapshots' keys, and a cache of recent
// states so that following events cost one Evolve each (history.h loads a
// state at any seq).
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

#include "rewind/base/bytes.h"
#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "rewind/schemas/events.h"

namespace rwd::projections_internal {

// Snapshot keys: 's' ‖ run id ‖ seq (u64 big-endian).
Bytes SnapshotKey(const RunId& run, std::uint64_t seq);

// Recent run states, each the state after some seq of its run. Entries are
// facts about committed events: changes made while a transaction is open are
// staged and kept only if it commits. Not thread-safe (the writer thread
// owns it).
class StateCache {
 public:
  explicit StateCache(std::size_t capacity) : capacity_(capacity) {}

  // The state of `run` after `seq` events, for changing: a staged state, or
  // the committed one, moved to the staged ones (no copy per transaction;
  // after a Discard the run is simply not cached). Nullptr when neither is at
  // that seq.
  RunState* Stage(const RunId& run, std::uint64_t seq);
  // Stages `state` (replacing any staged state of its run); returns it.
  RunState& Stage(RunState state);
  void Commit();   // the transaction committed: staged states become entries
  void Discard();  // it did not: staged states are dropped

 private:
  std::size_t capacity_;
  std::unordered_map<RunId, RunState> staged_;
  std::list<RunState> lru_;  // most recent first
  std::unordered_map<RunId, std::list<RunState>::iterator> index_;
};

}  // namespace rwd::projections_internal
