// A run's history as read from the journal: the one way the engine, the
// projections, `rewind` and `journal-inspect` read a run's events and the
// state at any point of them.
//
//   DecodeRecord   one stored event, decoded; damage named by run, seq and
//                  position
//   LoadState      the state after a seq, folded as it streams by (through the
//                  snapshots projection's table when there is one)
//   RunHistory     all of a run's events, read in one snapshot, for time
//                  travel: the state at any seq, or right after a step
//
// Thread-safety: pure functions over a read snapshot; a RunHistory is a value.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "rewind/schemas/events.h"

namespace rwd {

// Looks up the definitions an event names among the blobs of the snapshot
// `record` was read in (record.view), for Decode. Valid while `record` is.
DefinitionFinder DefinitionsOf(const EventRecord& record);

// The event stored in `record`, decoded with DefinitionsOf(record);
// Corruption naming its run, seq and position when it does not decode.
Result<Event> DecodeRecord(const EventRecord& record);

// The state of `run` after its first `seq` events (0: the empty state;
// Journal::kEnd: all of them): the newest snapshot at or before seq in
// `snapshots` (nullptr or none: from the first event), then the rest folded
// from the journal, events streamed, not kept. Errors: NotFound for an
// unknown run or one with fewer events; Corruption for an event that does
// not decode or fold, or a damaged snapshot.
Result<RunState> LoadState(const ReadView& view, const Table* snapshots, const RunId& run, std::uint64_t seq);

// A run's events from seq 1 to its last, decoded, read in one snapshot.
class RunHistory {
 public:
  // NotFound for a run with no events; Corruption as DecodeRecord and
  // Journal::ReadRun, or when the first event does not fold (it must start
  // the run).
  static Result<RunHistory> Read(const ReadView& view, const RunId& run);
  static Result<RunHistory> Read(const Journal& journal, const RunId& run);
  // A history of events read elsewhere (seq 1 first). NotFound for none;
  // Corruption when the first does not fold.
  static Result<RunHistory> Of(const RunId& run, std::vector<Event> events);
  // The events, given up by a history that is done with.
  std::vector<Event> TakeEvents() && { return std::move(events_); }

  const RunId& run() const { return run_; }
  std::span<const Event> events() const { return events_; }
  std::uint64_t size() const { return events_.size(); }
  // The definition the first event records (never null).
  const RunStarted& definition() const { return *definition_; }

  // The state after the first `seq` events (0: the empty state). NotFound
  // past the last; Corruption for an event that does not fold.
  Result<RunState> StateAt(std::uint64_t seq) const;
  // The state after every event.
  Result<RunState> State() const { return StateAt(size()); }
  // How many events to fold for the state right after `step` (an id or a
  // 1-based index, as ResolveStep reads it) last completed: SeqAtStep.
  // NotFound for no such step; FailedPrecondition if it never started.
  Result<std::uint64_t> SeqAtStep(std::string_view step) const;

 private:
  RunHistory(RunId run, std::vector<Event> events, Definition definition)
      : run_(run), events_(std::move(events)), definition_(std::move(definition)) {}

  RunId run_;
  std::vector<Event> events_;
  Definition definition_;
};

}  // namespace rwd
