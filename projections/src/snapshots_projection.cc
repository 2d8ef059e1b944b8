// snapshots: the state of each run after some of its events, so that
// LoadState folds few events after the newest one at or before a seq.
//
// Keys: 's' run seq (run_states.h SnapshotKey) → EncodeState(state), the
// state without its definition (state_codec.h). K, the projection's config
// (another K rebuilds it), is the least spacing: a snapshot may be taken at
// a seq that is a multiple of K. It is taken there once the events since the
// run's previous snapshot pay for it, that is when they are at least that
// snapshot's size less kSnapshotFreeBytes over kSnapshotBytesPerEvent (before
// the first, an estimate of kEstimatedBytesPerStep per step): a small state
// is snapshotted every K events. A state holds every step and every
// output, so a run of many steps or large outputs is snapshotted less often
// and its snapshots cost about kSnapshotBytesPerEvent per event, the bytes
// growing with what changed, not with the state times the events (a
// 10,000-step run stored a 35 KB snapshot per event's worth); folding from a
// snapshot then costs about as many events as the state has steps, as
// decoding it does. Each decision reads only the run's previous snapshot key
// (at a multiple of K), so an incremental build and a rebuild, which meet a
// run's events in the same order, take the same snapshots.
#include <algorithm>

#include "projections/src/builtins.h"
#include "projections/src/keys.h"
#include "projections/src/run_states.h"
#include "projections/src/state_codec.h"

namespace rwd::projections_internal {
namespace {

// What snapshots cost, amortized over a run's events (see above); a state of
// up to kSnapshotFreeBytes is snapshotted at every multiple of K.
constexpr std::uint64_t kSnapshotBytesPerEvent = 16;
constexpr std::uint64_t kSnapshotFreeBytes = 4096;
constexpr std::uint64_t kEstimatedBytesPerStep = 48;

class SnapshotsProjection final : public Projection {
 public:
  explicit SnapshotsProjection(std::uint32_t every) : every_(every) {}
  std::string_view name() const override { return kSnapshotsName; }
  // 2: an approval, a signal or a timer counts in its step's attempts of the
  // epoch too (the fold changed: older snapshots hold 0 there); snapshots
  // are spaced by their size.
  std::uint32_t version() const override { return 2; }
  std::uint64_t config() const override { return every_; }

  Status Apply(WriteView& txn, const Table& table, const Change& change) override {
    const RunState& state = change.state;
    if (state.seq % every_ != 0) return Status::Ok();
    // The run's previous snapshot: its seq and size.
    const Bytes key = SnapshotKey(state.run, state.seq);
    std::uint64_t previous_seq = 0, previous_bytes = kEstimatedBytesPerStep * state.steps.size();
    {  // the cursor is closed before the table is written
      REWIND_ASSIGN_OR_RETURN(TableCursor cursor, txn.Cursor(table));
      REWIND_ASSIGN_OR_RETURN(const bool found, cursor.SeekAtOrBefore(key));
      if (found && cursor.key().size() == key.size() &&
          std::equal(key.begin(), key.begin() + 1 + RunId::kSize, cursor.key().begin())) {
        previous_seq = ReadBe64(cursor.key().data() + 1 + RunId::kSize);
        previous_bytes = cursor.value().size();
      }
    }
    if ((state.seq - previous_seq) * kSnapshotBytesPerEvent + kSnapshotFreeBytes < previous_bytes) {
      return Status::Ok();
    }
    return txn.Put(table, key, EncodeState(state));
  }

 private:
  std::uint32_t every_;
};

}  // namespace

std::unique_ptr<Projection> MakeRunsProjection();
std::unique_ptr<Projection> MakeStepStatsProjection();
std::unique_ptr<Projection> MakeAuditProjection();

std::vector<std::unique_ptr<Projection>> BuiltinProjections(const ProjectionsOptions& options) {
  std::vector<std::unique_ptr<Projection>> out;
  out.push_back(MakeRunsProjection());
  out.push_back(MakeStepStatsProjection());
  out.push_back(MakeAuditProjection());
  out.push_back(std::make_unique<SnapshotsProjection>(options.snapshot_every));
  return out;
}

}  // namespace rwd::projections_internal
