#include "projections/src/pass.h"

#include <cassert>

#include "rewind/projections/history.h"

namespace rwd::projections_internal {

Status Pass::Apply(std::span<Target> targets, const EventRecord& record) {
  bool wanted = false;
  for (const Target& t : targets) wanted |= t.header.checkpoint < record.position;
  if (!wanted) return Status::Ok();
  REWIND_ASSIGN_OR_RETURN(Event event, DecodeRecord(record));
  RunState* state = cache_.Stage(record.run, record.seq - 1);
  if (state == nullptr) {
    auto loaded = LoadState(txn_, snapshots_, record.run, record.seq - 1);
    if (!loaded.has_value() && loaded.error().code() == Code::kCorruption && snapshots_ != nullptr) {
      auto folded = LoadState(txn_, nullptr, record.run, record.seq - 1);
      if (folded.has_value() && snapshot_damage_.ok()) snapshot_damage_ = loaded.error();
      loaded = std::move(folded);
    }
    if (!loaded.has_value()) return loaded.error();
    state = &cache_.Stage(std::move(*loaded));
  }
  if (Status s = Evolve(*state, event); !s.ok()) return s.WithContext("position " + std::to_string(record.position));
  const std::uint64_t sum = record.sum();
  const Change change{record, event, *state};
  for (Target& t : targets) {
    if (t.header.checkpoint >= record.position) continue;
    assert(t.header.checkpoint + 1 == record.position);
    if (Status s = t.projection->Apply(txn_, t.table, change); !s.ok()) {
      culprit_ = t.projection;
      return s.WithContext("projection " + std::string(t.projection->name()) + " at position " +
                           std::to_string(record.position));
    }
    t.header.checkpoint = record.position;
    t.header.checkpoint_sum = sum;
    t.moved = true;
  }
  return Status::Ok();
}

Status Pass::Finish(std::span<Target> targets) {
  for (Target& t : targets) {
    if (!t.moved) continue;
    Status s = t.projection->Flush(txn_, t.table);
    if (s.ok()) s = WriteSlotHeader(txn_, t.table, t.header);
    if (!s.ok()) {
      culprit_ = t.projection;
      return s.WithContext("projection " + std::string(t.projection->name()));
    }
    t.moved = false;
  }
  return Status::Ok();
}

}  // namespace rwd::projections_internal
