// snapshots: the state of each run after every K of its events.
//
// Keys: 's' run seq (run_states.h SnapshotKey) → EncodeState(state), the
// state without its definition (state_codec.h). K is the projection's config:
// another K rebuilds it. LoadState reads these to fold at most K-1 events.
#include "projections/src/builtins.h"
#include "projections/src/run_states.h"
#include "projections/src/state_codec.h"

namespace rwd::projections_internal {
namespace {

class SnapshotsProjection final : public Projection {
 public:
  explicit SnapshotsProjection(std::uint32_t every) : every_(every) {}
  std::string_view name() const override { return kSnapshotsName; }
  // 2: an approval, a signal or a timer counts in its step's attempts of the
  // epoch too (the fold changed: older snapshots hold 0 there).
  std::uint32_t version() const override { return 2; }
  std::uint64_t config() const override { return every_; }

  Status Apply(WriteView& txn, const Table& table, const Change& change) override {
    const RunState& state = change.state;
    if (state.seq % every_ != 0) return Status::Ok();
    return txn.Put(table, SnapshotKey(state.run, state.seq), EncodeState(state));
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
