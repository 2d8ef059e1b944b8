#include "projections/src/run_states.h"

#include "projections/src/keys.h"

namespace rwd::projections_internal {

Bytes SnapshotKey(const RunId& run, std::uint64_t seq) { return KeyBuilder('s').Run(run).U64(seq).Take(); }

RunState* StateCache::Stage(const RunId& run, std::uint64_t seq) {
  if (auto it = staged_.find(run); it != staged_.end()) {
    return it->second.seq == seq ? &it->second : nullptr;
  }
  auto it = index_.find(run);
  if (it == index_.end() || it->second->seq != seq) return nullptr;
  // Moved, not copied: Commit puts it back. After a Discard the run is not
  // cached until it is loaded again, which the cache only ever saves.
  RunState& staged = staged_.emplace(run, std::move(*it->second)).first->second;
  lru_.erase(it->second);
  index_.erase(it);
  return &staged;
}

RunState& StateCache::Stage(RunState state) {
  const RunId run = state.run;
  return staged_.insert_or_assign(run, std::move(state)).first->second;
}

void StateCache::Commit() {
  for (auto& [run, state] : staged_) {
    if (auto it = index_.find(run); it != index_.end()) {
      // A catch-up may fold an older state than the one kept: keep the newer.
      if (state.seq >= it->second->seq) *it->second = std::move(state);
      lru_.splice(lru_.begin(), lru_, it->second);
      continue;
    }
    lru_.push_front(std::move(state));
    index_.emplace(run, lru_.begin());
    if (lru_.size() > capacity_) {
      index_.erase(lru_.back().run);
      lru_.pop_back();
    }
  }
  staged_.clear();
}

void StateCache::Discard() { staged_.clear(); }

}  // namespace rwd::projections_internal
