// runs: the run summary and the run index.
//
// Keys (keys.h encodings; lp = u16-length-prefixed string, time = start
// time in µs, u64 big-endian):
//   'r' run                          → summary (read_models.fbs Summary)
//   'A' time run                     every run
//   'T' lp(tenant) time run          by tenant
//   'S' lp(tenant) status time run   by tenant and status
//   'X' status time run              by status, every tenant
//   'W' lp(tenant) lp(workflow) time run
// Index entries have empty values; a run's entries move when its status does.
#include <algorithm>
#include <array>
#include <unordered_map>

#include "projections/src/builtins.h"
#include "projections/src/keys.h"
#include "projections/src/read_model_codec.h"

namespace rwd::projections_internal {
namespace {

constexpr std::size_t kIndexSuffix = 8 + RunId::kSize;  // time, run

Bytes SummaryKey(const RunId& run) { return KeyBuilder('r').Run(run).Take(); }

// A run's index entries that name its status: they move when it changes.
std::array<Bytes, 2> StatusKeys(const RunSummary& s, RunStatus status) {
  const auto code = static_cast<std::uint8_t>(status);
  return {
      KeyBuilder('S').Str(s.tenant).U8(code).Time(s.started_unix_us).Run(s.run).Take(),
      KeyBuilder('X').U8(code).Time(s.started_unix_us).Run(s.run).Take(),
  };
}

// The others: tenant, workflow and start time never change.
std::array<Bytes, 3> FixedKeys(const RunSummary& s) {
  return {
      KeyBuilder('A').Time(s.started_unix_us).Run(s.run).Take(),
      KeyBuilder('T').Str(s.tenant).Time(s.started_unix_us).Run(s.run).Take(),
      KeyBuilder('W').Str(s.tenant).Str(s.workflow).Time(s.started_unix_us).Run(s.run).Take(),
  };
}

std::string Truncated(std::string s) {
  if (s.size() > kMaxSummaryErrorBytes) s.resize(kMaxSummaryErrorBytes);
  return s;
}

// The step a run is at: the first one in flight, failing or waiting; else the
// one a pause waits on; else the last completed one.
std::string CurrentStep(const RunState& state) {
  const auto& defs = state.definition->steps;
  for (std::size_t i = 0; i < state.steps.size(); ++i) {
    switch (state.steps[i].status) {
      case StepStatus::kRunning:
      case StepStatus::kFailed:
      case StepStatus::kRetryWait:
      case StepStatus::kWaiting: return defs[i].id;
      default: break;
    }
  }
  if (state.paused_step != kNoStep && state.paused_step < defs.size()) return defs[state.paused_step].id;
  for (std::size_t i = state.steps.size(); i-- > 0;) {
    if (state.steps[i].status == StepStatus::kCompleted) return defs[i].id;
  }
  return {};
}

// A run's summary and index entries are written once per pass, at its end,
// from the run's state then: on the append path a batch usually holds several
// events of one run, and a rebuild meets each run many times per update.
class RunsProjection final : public Projection {
 public:
  std::string_view name() const override { return kRunsName; }
  std::uint32_t version() const override { return 1; }

  void Begin() override { touched_.clear(); }

  Status Apply(WriteView& txn, const Table& table, const Change& change) override {
    if (touched_.contains(change.state.run)) return Status::Ok();
    Touched t{std::nullopt, &change.state};
    if (change.state.seq > 1) {  // the run has a stored summary: its index entries name its status
      REWIND_ASSIGN_OR_RETURN(std::optional<RunSummary> stored, ReadSummary(txn, table, change.state.run));
      if (!stored) {
        return Status(Code::kCorruption, "run " + change.state.run.ToString() + " has no summary to update");
      }
      t.stored_status = stored->status;
    }
    touched_.emplace(change.state.run, t);
    return Status::Ok();
  }

  Status Flush(WriteView& txn, const Table& table) override {
    for (const auto& [run, t] : touched_) {
      const RunSummary now = Summarize(*t.state);
      if (!t.stored_status) {
        for (const Bytes& k : FixedKeys(now)) REWIND_RETURN_IF_ERROR(txn.Put(table, k, {}));
      } else if (*t.stored_status != now.status) {
        for (const Bytes& k : StatusKeys(now, *t.stored_status)) REWIND_RETURN_IF_ERROR(txn.Delete(table, k));
      }
      if (t.stored_status != now.status) {
        for (const Bytes& k : StatusKeys(now, now.status)) REWIND_RETURN_IF_ERROR(txn.Put(table, k, {}));
      }
      REWIND_RETURN_IF_ERROR(txn.Put(table, SummaryKey(run), EncodeSummary(now)));
    }
    touched_.clear();
    return Status::Ok();
  }

 private:
  struct Touched {
    std::optional<RunStatus> stored_status;  // as the table has it; none for a new run
    const RunState* state;                   // the run's latest (Change)
  };
  std::unordered_map<RunId, Touched> touched_;
};

}  // namespace

RunSummary Summarize(const RunState& state) {
  RunSummary s;
  s.run = state.run;
  s.status = state.status;
  s.started_unix_us = state.started_unix_us;
  s.updated_unix_us = state.updated_unix_us;
  s.events = state.seq;
  s.epoch = state.epoch;
  s.resumes = static_cast<std::uint32_t>(state.resumes.size());
  s.parent = state.parent;
  if (!state.definition) return s;
  const RunStarted& def = *state.definition;
  s.tenant = def.tenant;
  s.workflow = def.workflow;
  s.workflow_version = def.version;
  s.current_step = CurrentStep(state);
  s.steps_total = static_cast<std::uint32_t>(state.steps.size());
  for (const StepState& step : state.steps) {
    s.steps_completed += step.status == StepStatus::kCompleted ? 1 : 0;
    s.attempts += step.total_attempts;
  }
  if (!state.error_code.empty() || !state.error_message.empty()) {
    s.error_code = state.error_code;
    s.error_message = Truncated(state.error_message);
  } else if (auto idx = FindStep(def, s.current_step); idx && !state.steps[*idx].error_code.empty()) {
    s.error_code = state.steps[*idx].error_code;
    s.error_message = Truncated(state.steps[*idx].error_message);
  }
  return s;
}

Result<std::optional<RunSummary>> ReadSummary(const ReadView& view, const Table& table, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> bytes, view.Get(table, SummaryKey(run)));
  if (!bytes) return std::optional<RunSummary>();
  REWIND_ASSIGN_OR_RETURN(RunSummary s, DecodeSummary(*bytes));
  return std::optional<RunSummary>(std::move(s));
}

Result<RunPage> ReadRunPage(const ReadView& view, const Table& table, const RunQuery& query) {
  if (query.limit == 0) return Err(Code::kInvalidArgument, "a run listing needs a limit of at least 1");
  // The narrowest index the query names; the summary filters the rest.
  std::optional<std::uint8_t> status;
  if (query.status) status = static_cast<std::uint8_t>(*query.status);
  KeyBuilder prefix('A');
  if (query.tenant && status) {
    prefix = KeyBuilder('S');
    prefix.Str(*query.tenant).U8(*status);
  } else if (query.tenant && query.workflow) {
    prefix = KeyBuilder('W');
    prefix.Str(*query.tenant).Str(*query.workflow);
  } else if (query.tenant) {
    prefix = KeyBuilder('T');
    prefix.Str(*query.tenant);
  } else if (status) {
    prefix = KeyBuilder('X');
    prefix.U8(*status);
  }
  const Bytes& p = prefix.bytes();
  Bytes start;
  if (!query.page.empty()) {
    start.resize(p.size() + kIndexSuffix);
    if (query.page.size() != 2 * start.size() || !HexDecode(query.page, start) || !HasPrefix(start, p)) {
      return Err(Code::kInvalidArgument, "the page token '" + query.page + "' does not belong to this query");
    }
  }
  REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(table));
  Result<bool> at = false;
  if (query.newest_first) {
    at = cursor.SeekAtOrBefore(start.empty() ? PrefixEnd(p, kIndexSuffix) : start);
    if (at.has_value() && *at && !start.empty() && std::ranges::equal(cursor.key(), start)) at = cursor.Prev();
  } else {
    at = cursor.Seek(start.empty() ? p : start);
    if (at.has_value() && *at && !start.empty() && std::ranges::equal(cursor.key(), start)) at = cursor.Next();
  }
  RunPage page;
  Bytes last_key;
  for (; at.has_value() && *at && HasPrefix(cursor.key(), p);
       at = query.newest_first ? cursor.Prev() : cursor.Next()) {
    if (cursor.key().size() != p.size() + kIndexSuffix) {
      return Err(Code::kCorruption, "run index of table '" + table.name() + "' holds a malformed key");
    }
    if (page.runs.size() == query.limit) {
      page.next = HexEncode(last_key);
      break;
    }
    RunId::Bytes id{};
    std::copy(cursor.key().end() - RunId::kSize, cursor.key().end(), id.begin());
    last_key.assign(cursor.key().begin(), cursor.key().end());
    REWIND_ASSIGN_OR_RETURN(std::optional<RunSummary> s, ReadSummary(view, table, RunId(id)));
    if (!s) return Err(Code::kCorruption, "run index names run " + RunId(id).ToString() + " without a summary");
    if (query.status && s->status != *query.status) continue;
    if (query.workflow && s->workflow != *query.workflow) continue;
    page.runs.push_back(std::move(*s));
  }
  if (!at.has_value()) return Err(at.error());
  return page;
}

Result<std::vector<std::pair<RunStatus, std::uint64_t>>> CountRuns(const ReadView& view, const Table& table) {
  std::vector<std::pair<RunStatus, std::uint64_t>> out;
  REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(table));
  for (RunStatus status : kRunStatuses) {
    KeyBuilder prefix('X');
    prefix.U8(static_cast<std::uint8_t>(status));
    const Bytes& p = prefix.bytes();
    std::uint64_t n = 0;
    Result<bool> at = cursor.Seek(p);
    for (; at.has_value() && *at && HasPrefix(cursor.key(), p); at = cursor.Next()) ++n;
    if (!at.has_value()) return Err(at.error());
    out.emplace_back(status, n);
  }
  return out;
}

std::unique_ptr<Projection> MakeRunsProjection() { return std::make_unique<RunsProjection>(); }

}  // namespace rwd::projections_internal
