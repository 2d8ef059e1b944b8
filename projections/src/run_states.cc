#include "projections/src/run_states.h"

#include <memory>

#include "projections/src/keys.h"
#include "projections/src/state_codec.h"

namespace rwd::projections_internal {
namespace {

std::string At(const RunId& run, std::uint64_t seq, std::uint64_t position) {
  return "run " + run.ToString() + " seq " + std::to_string(seq) + " (position " + std::to_string(position) + ")";
}

}  // namespace

Result<Event> DecodeRecord(const EventRecord& record) {
  auto event = Decode(record.payload);
  if (!event.has_value()) return Err(event.error().WithContext(At(record.run, record.seq, record.position)));
  return event;
}

Result<Definition> DefinitionOf(const Event& first, const RunId& run) {
  if (const auto* started = std::get_if<RunStarted>(&first.body)) {
    return std::make_shared<const RunStarted>(*started);
  }
  if (const auto* forked = std::get_if<RunForked>(&first.body)) {
    return std::make_shared<const RunStarted>(forked->start);
  }
  return Err(Code::kCorruption, "run " + run.ToString() + ": the first event is neither RunStarted nor RunForked");
}

Bytes SnapshotKey(const RunId& run, std::uint64_t seq) { return KeyBuilder('s').Run(run).U64(seq).Take(); }

Result<RunState> LoadState(const ReadView& view, const Table* snapshots, const RunId& run,
                           std::uint64_t seq) {
  RunState state;
  state.run = run;
  if (seq == 0) return state;
  REWIND_ASSIGN_OR_RETURN(std::uint64_t last, view.LastSeq(run));
  if (last < seq) {
    return Err(Code::kNotFound, "run " + run.ToString() + " has " + std::to_string(last) + " events, not " +
                                    std::to_string(seq));
  }
  if (snapshots != nullptr && seq > 1) {
    REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(*snapshots));
    const Bytes want = SnapshotKey(run, seq);
    REWIND_ASSIGN_OR_RETURN(bool found, cursor.SeekAtOrBefore(want));
    // The key must be a snapshot of this run (same 17-byte prefix).
    if (found && cursor.key().size() == want.size() &&
        std::equal(want.begin(), want.begin() + 1 + RunId::kSize, cursor.key().begin())) {
      Definition definition;
      REWIND_RETURN_IF_ERROR(view.ReadRun(run, 1, 1, [&](const EventRecord& first) -> Status {
        REWIND_ASSIGN_OR_RETURN(Event event, DecodeRecord(first));
        REWIND_ASSIGN_OR_RETURN(definition, DefinitionOf(event, run));
        return Status::Ok();
      }));
      const std::string where = "snapshot of run " + run.ToString() + " in '" + snapshots->name() + "'";
      auto decoded = DecodeState(cursor.value(), run, std::move(definition));
      if (!decoded.has_value()) return Err(decoded.error().WithContext(where));
      const std::uint64_t keyed = ReadBe64(cursor.key().data() + 1 + RunId::kSize);
      if (decoded->seq != keyed) {
        return Err(Code::kCorruption, where + ": the state is at seq " + std::to_string(decoded->seq) +
                                          ", its key says " + std::to_string(keyed));
      }
      state = std::move(*decoded);
    }
  }
  REWIND_RETURN_IF_ERROR(view.ReadRun(run, state.seq + 1, seq, [&](const EventRecord& record) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event event, DecodeRecord(record));
    return Evolve(state, std::move(event)).WithContext(At(record.run, record.seq, record.position));
  }));
  return state;
}

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
