#include "rewind/projections/history.h"

#include <algorithm>
#include <memory>

#include "projections/src/keys.h"
#include "projections/src/run_states.h"
#include "projections/src/state_codec.h"

namespace rwd {
namespace {

std::string At(const RunId& run, std::uint64_t seq, std::uint64_t position) {
  return "run " + run.ToString() + " seq " + std::to_string(seq) + " (position " + std::to_string(position) + ")";
}

Result<RunState> FoldPrefix(const RunId& run, std::span<const Event> events) {
  RunState state;
  state.run = run;
  for (std::size_t i = 0; i < events.size(); ++i) {
    REWIND_RETURN_IF_ERROR(Evolve(state, events[i]).WithContext("run " + run.ToString() + " seq " +
                                                                 std::to_string(i + 1)));
  }
  return state;
}

}  // namespace

DefinitionFinder DefinitionsOf(const EventRecord& record) {
  return [&record](ByteView hash) -> Result<std::optional<ByteView>> {
    if (record.view == nullptr) {
      return Err(Code::kUnavailable, "no snapshot of the journal to read the definition the event names in");
    }
    if (hash.size() != Hash{}.size()) return std::optional<ByteView>();
    Hash key{};
    std::copy(hash.begin(), hash.end(), key.begin());
    return record.view->Blob(key);
  };
}

Result<Event> DecodeRecord(const EventRecord& record) {
  const DefinitionFinder find = DefinitionsOf(record);
  auto event = Decode(record.payload, &find);
  if (!event.has_value()) return Err(event.error().WithContext(At(record.run, record.seq, record.position)));
  return event;
}

namespace {

// Folds the event stored in `record` into `state`, naming it in an error.
Status FoldRecord(RunState& state, const EventRecord& record) {
  REWIND_ASSIGN_OR_RETURN(Event event, DecodeRecord(record));
  if (Status s = Evolve(state, std::move(event)); !s.ok()) {
    return s.WithContext(At(record.run, record.seq, record.position));
  }
  return Status::Ok();
}

}  // namespace

Result<RunState> LoadState(const ReadView& view, const Table* snapshots, const RunId& run, std::uint64_t seq) {
  RunState state;
  state.run = run;
  if (seq == 0) return state;
  REWIND_ASSIGN_OR_RETURN(const std::uint64_t last, view.LastSeq(run));
  if (last == 0) return Err(Code::kNotFound, "run " + run.ToString() + " is unknown");
  if (seq == Journal::kEnd) seq = last;
  if (last < seq) {
    return Err(Code::kNotFound, "run " + run.ToString() + " has " + std::to_string(last) + " events, not " +
                                    std::to_string(seq));
  }
  if (snapshots != nullptr && seq > 1) {
    REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(*snapshots));
    const Bytes want = projections_internal::SnapshotKey(run, seq);
    REWIND_ASSIGN_OR_RETURN(bool found, cursor.SeekAtOrBefore(want));
    // The key must be a snapshot of this run (same 17-byte prefix).
    if (found && cursor.key().size() == want.size() &&
        std::equal(want.begin(), want.begin() + 1 + RunId::kSize, cursor.key().begin())) {
      // A snapshot holds no definition: the run's first event has it.
      RunState first;
      first.run = run;
      REWIND_RETURN_IF_ERROR(view.ReadRun(run, 1, 1, [&](const EventRecord& record) -> Status {
        return FoldRecord(first, record);
      }));
      const std::string where = "snapshot of run " + run.ToString() + " in '" + snapshots->name() + "'";
      auto decoded = DecodeState(cursor.value(), run, std::move(first.definition));
      if (!decoded.has_value()) return Err(decoded.error().WithContext(where));
      const std::uint64_t keyed = projections_internal::ReadBe64(cursor.key().data() + 1 + RunId::kSize);
      if (decoded->seq != keyed) {
        return Err(Code::kCorruption, where + ": the state is at seq " + std::to_string(decoded->seq) +
                                          ", its key says " + std::to_string(keyed));
      }
      state = std::move(*decoded);
    }
  }
  REWIND_RETURN_IF_ERROR(view.ReadRun(run, state.seq + 1, seq,
                                      [&](const EventRecord& record) { return FoldRecord(state, record); }));
  return state;
}

Result<RunHistory> RunHistory::Read(const ReadView& view, const RunId& run) {
  std::vector<Event> events;
  REWIND_RETURN_IF_ERROR(view.ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& r) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
    events.push_back(std::move(e));
    return Status::Ok();
  }));
  return Of(run, std::move(events));
}

Result<RunHistory> RunHistory::Of(const RunId& run, std::vector<Event> events) {
  if (events.empty()) return Err(Code::kNotFound, "run " + run.ToString() + " is unknown");
  REWIND_ASSIGN_OR_RETURN(RunState first, FoldPrefix(run, std::span<const Event>(events).first(1)));
  return RunHistory(run, std::move(events), std::move(first.definition));
}

Result<RunHistory> RunHistory::Read(const Journal& journal, const RunId& run) {
  std::optional<RunHistory> out;
  REWIND_RETURN_IF_ERROR(journal.View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(out, Read(view, run));
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<RunState> RunHistory::StateAt(std::uint64_t seq) const {
  if (seq > events_.size()) {
    return Err(Code::kNotFound, "run " + run_.ToString() + " has " + std::to_string(events_.size()) +
                                    " events, not " + std::to_string(seq));
  }
  return FoldPrefix(run_, std::span<const Event>(events_).first(seq));
}

Result<std::uint64_t> RunHistory::SeqAtStep(std::string_view step) const {
  REWIND_ASSIGN_OR_RETURN(const std::uint32_t index, ResolveStep(*definition_, step));
  return rwd::SeqAtStep(events_, index);
}

}  // namespace rwd
