// step_stats: per tenant, workflow and step, counts and an attempt latency
// histogram. A tenant's figures are its own: another tenant's runs of the
// same workflow are counted apart (and shown to nobody else).
//
// Keys: 'w' lp(tenant) lp(workflow) lp(step id) → StepCounters
// (read_models.fbs). Version 1 had no tenant; a version-1 table is rebuilt.
// Latency is the recorded time from an attempt's StepStarted to its
// StepCompleted or StepFailed (times are recorded data: the projection reads
// them, it never reads a clock).
#include <algorithm>
#include <map>
#include <tuple>

#include "projections/src/builtins.h"
#include "projections/src/keys.h"
#include "projections/src/read_model_codec.h"

namespace rwd::projections_internal {
namespace {

Bytes CountersKey(std::string_view tenant, std::string_view workflow, std::string_view step) {
  return KeyBuilder('w').Str(tenant).Str(workflow).Str(step).Take();
}

// What one event does to its step's counters.
struct Effect {
  std::uint32_t step = 0;
  std::uint64_t StepCounters::*counter = nullptr;
  bool retry = false;                    // an attempt after the first of its epoch
  std::optional<std::uint64_t> latency;  // of the attempt it ends
};

// Recorded times may go back (clock steps): such an attempt took 0.
std::uint64_t Latency(const Event& ended, const StepState& step) {
  if (ended.unix_us <= step.started_unix_us) return 0;
  return static_cast<std::uint64_t>(ended.unix_us) - static_cast<std::uint64_t>(step.started_unix_us);
}

std::optional<Effect> EffectOf(const Event& e, const RunState& state) {
  if (const auto* b = std::get_if<StepStarted>(&e.body)) {
    return Effect{b->step, &StepCounters::executions, b->attempt > 1, std::nullopt};
  }
  if (const auto* b = std::get_if<StepCompleted>(&e.body)) {
    return Effect{b->step, &StepCounters::completions, false, Latency(e, state.steps[b->step])};
  }
  if (const auto* b = std::get_if<StepFailed>(&e.body)) {
    return Effect{b->step, &StepCounters::failures, false, Latency(e, state.steps[b->step])};
  }
  if (const auto* b = std::get_if<StepAbandoned>(&e.body)) {
    return Effect{b->step, &StepCounters::abandoned, false, std::nullopt};
  }
  if (const auto* b = std::get_if<ResumeRequested>(&e.body)) {
    return Effect{b->from_step, &StepCounters::resumes, false, std::nullopt};
  }
  return std::nullopt;
}

// Counters change in memory during a pass and are written once at its end:
// a busy step would otherwise be decoded and encoded for every event.
class StepStatsProjection final : public Projection {
 public:
  std::string_view name() const override { return kStepStatsName; }
  std::uint32_t version() const override { return 2; }

  void Begin() override { touched_.clear(); }

  Status Apply(WriteView& txn, const Table& table, const Change& change) override {
    const RunState& state = change.state;
    const std::optional<Effect> effect = EffectOf(change.event, state);
    if (!effect) return Status::Ok();
    Bytes key = CountersKey(state.definition->tenant, state.definition->workflow,
                            state.definition->steps[effect->step].id);
    auto it = touched_.find(key);
    if (it == touched_.end()) {
      StepCounters stored_counters;
      REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> stored, txn.Get(table, key));
      if (stored) {
        REWIND_ASSIGN_OR_RETURN(stored_counters, DecodeStepCounters(*stored));
      }
      it = touched_.emplace(std::move(key), std::move(stored_counters)).first;
    }
    StepCounters& counters = it->second;
    ++(counters.*(effect->counter));
    if (effect->retry) ++counters.retries;
    if (effect->latency) counters.latency.Record(*effect->latency);
    return Status::Ok();
  }

  Status Flush(WriteView& txn, const Table& table) override {
    for (const auto& [key, counters] : touched_) REWIND_RETURN_IF_ERROR(txn.Put(table, key, EncodeStepCounters(counters)));
    touched_.clear();
    return Status::Ok();
  }

 private:
  std::map<Bytes, StepCounters> touched_;
};

// Splits a key 'w' lp lp lp into its three names.
bool SplitKey(ByteView key, std::string* tenant, std::string* workflow, std::string* step) {
  std::size_t at = 1;
  for (std::string* out : {tenant, workflow, step}) {
    if (key.size() < at + 2) return false;
    const std::size_t n = (std::size_t{key[at]} << 8) | key[at + 1];
    at += 2;
    if (key.size() < at + n) return false;
    out->assign(reinterpret_cast<const char*>(key.data() + at), n);
    at += n;
  }
  return at == key.size();
}

}  // namespace

Result<std::vector<StepStats>> ReadStepStats(const ReadView& view, const Table& table, const std::string& workflow,
                                              const std::optional<std::string>& tenant) {
  KeyBuilder prefix('w');
  if (tenant) {
    prefix.Str(*tenant);
    if (!workflow.empty()) prefix.Str(workflow);
  }
  REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(table));
  std::vector<StepStats> out;
  Result<bool> at = cursor.Seek(prefix.bytes());
  for (; at.has_value() && *at && HasPrefix(cursor.key(), prefix.bytes()); at = cursor.Next()) {
    std::string t, wf, step;
    if (!SplitKey(cursor.key(), &t, &wf, &step)) {
      return Err(Code::kCorruption, "step statistics of table '" + table.name() + "' hold a malformed key");
    }
    if (!workflow.empty() && wf != workflow) continue;  // every tenant's: the workflow is not a prefix
    REWIND_ASSIGN_OR_RETURN(StepCounters counters, DecodeStepCounters(cursor.value()));
    out.push_back(ToStepStats(std::move(t), std::move(wf), std::move(step), counters));
  }
  if (!at.has_value()) return Err(at.error());
  // Keys sort by name length first (length-prefixed); people read by name.
  std::sort(out.begin(), out.end(), [](const StepStats& a, const StepStats& b) {
    return std::tie(a.tenant, a.workflow, a.step) < std::tie(b.tenant, b.workflow, b.step);
  });
  return out;
}

std::unique_ptr<Projection> MakeStepStatsProjection() { return std::make_unique<StepStatsProjection>(); }

}  // namespace rwd::projections_internal
