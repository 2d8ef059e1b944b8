#include "bench/load_ledger.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <optional>
#include <utility>
#include <variant>

#include "bench/bench_util.h"
#include "rewind/projections/history.h"

namespace rwd::bench {
namespace {

constexpr std::size_t kMaxExamples = 10;

// The digest of a run's events 1..seq, extended by event `seq` of `type`
// (the body's index in EventBody): order matters.
std::uint64_t Chain(std::uint64_t digest, std::uint64_t seq, std::size_t type) {
  return Mix64(digest ^ Mix64(seq << 8 | type));
}

std::size_t Index(Call call) { return static_cast<std::size_t>(call); }

// The call whose return acknowledges `body`, if any (RunStarted aside).
std::optional<Call> CallOf(const EventBody& body) {
  if (std::holds_alternative<ResumeRequested>(body)) return Call::kResume;
  if (const auto* a = std::get_if<ApprovalDecided>(&body)) return a->approved ? Call::kApprove : Call::kReject;
  if (std::holds_alternative<SignalReceived>(body)) return Call::kSignal;
  if (const auto* p = std::get_if<RunPaused>(&body); p != nullptr && p->reason == PauseReason::kManual) {
    return Call::kPause;
  }
  if (std::holds_alternative<CancelRequested>(body)) return Call::kCancel;
  return std::nullopt;
}

// How the fold says the run ended.
RunEnd EndOf(const RunState& state) {
  switch (state.status) {
    case RunStatus::kCompleted: return RunEnd::kCompleted;
    case RunStatus::kCancelled: return RunEnd::kCancelled;
    case RunStatus::kFailed:
      for (std::size_t i = 0; i < state.steps.size(); ++i) {
        if (state.definition->steps[i].kind == StepKind::kApproval && state.steps[i].status == StepStatus::kFailed) {
          return RunEnd::kRejected;
        }
      }
      return RunEnd::kGivenUp;
    default: return RunEnd::kLive;
  }
}

void Example(CheckFigures& figures, std::string what) {
  if (figures.examples.size() < kMaxExamples) figures.examples.push_back(std::move(what));
}

}  // namespace

std::string_view CallName(Call call) {
  switch (call) {
    case Call::kResume: return "resume";
    case Call::kApprove: return "approve";
    case Call::kReject: return "reject";
    case Call::kSignal: return "signal";
    case Call::kPause: return "pause";
    case Call::kCancel: return "cancel";
  }
  return "unknown";
}

std::string_view RunEndName(RunEnd end) {
  switch (end) {
    case RunEnd::kLive: return "live";
    case RunEnd::kCompleted: return "completed";
    case RunEnd::kCancelled: return "cancelled";
    case RunEnd::kRejected: return "rejected";
    case RunEnd::kGivenUp: return "given up";
  }
  return "unknown";
}

Result<std::unique_ptr<Ledger>> Ledger::Create(const std::filesystem::path& spill_path) {
  std::FILE* spill = std::fopen(spill_path.c_str(), "w+b");
  if (spill == nullptr) {
    return Err(Code::kUnavailable, "cannot create '" + spill_path.string() + "': " + std::strerror(errno));
  }
  return std::unique_ptr<Ledger>(new Ledger(spill, spill_path));
}

Ledger::~Ledger() { std::fclose(spill_); }

Ledger::Shard& Ledger::ShardOf(const RunId& run) { return shards_[std::hash<RunId>()(run) % kShards]; }

void Ledger::Gap(std::string what) {
  ++ack_gaps_;
  std::lock_guard<std::mutex> lock(examples_mu_);
  if (gap_examples_.size() < kMaxExamples) gap_examples_.push_back(std::move(what));
}

void Ledger::Observed(const RunState& state, const std::vector<Event>& appended) {
  if (appended.empty()) return;
  const std::uint64_t first = state.seq - appended.size() + 1;
  Shard& shard = ShardOf(state.run);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.runs.find(state.run);
  if (it == shard.runs.end()) {
    if (first != 1) {
      return Gap("run " + state.run.ToString() + ": seqs " + std::to_string(first) + ".." +
                 std::to_string(state.seq) + " observed after the run ended");
    }
    it = shard.runs.emplace(state.run, Live{}).first;
    it->second.record.run = state.run;
  }
  Record& r = it->second.record;
  if (r.seq + 1 != first) {
    Gap("run " + state.run.ToString() + ": seqs " + std::to_string(first) + ".." + std::to_string(state.seq) +
        " observed after seq " + std::to_string(r.seq));
  }
  for (std::size_t i = 0; i < appended.size(); ++i) r.digest = Chain(r.digest, first + i, appended[i].body.index());
  r.seq = state.seq;
}

void Ledger::StartReturned(const RunId& run) {
  Shard& shard = ShardOf(run);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.runs.find(run);
  // The observer records a run before Start returns (it is called before the
  // append is acknowledged), so a missing run is one the observer never saw.
  if (it == shard.runs.end()) return Gap("run " + run.ToString() + ": Start returned, RunStarted never observed");
  it->second.record.start_returned = true;
  MaybeSpill(shard, it);
}

bool Ledger::Finish(const RunId& run, RunEnd end) {
  Shard& shard = ShardOf(run);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.runs.find(run);
  if (it == shard.runs.end() || it->second.record.end != RunEnd::kLive) return false;
  it->second.record.end = end;
  MaybeSpill(shard, it);
  return true;
}

bool Ledger::Begin(const RunId& run, Call call) {
  Shard& shard = ShardOf(run);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.runs.find(run);
  if (it == shard.runs.end()) return false;
  if (call == Call::kSignal) {
    if (it->second.signal_outstanding) return false;
    it->second.signal_outstanding = true;
  }
  ++it->second.outstanding;
  return true;
}

void Ledger::End(const RunId& run, Call call, bool acked, std::uint64_t seq) {
  Shard& shard = ShardOf(run);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.runs.find(run);
  if (it == shard.runs.end()) return;  // not so: the call Begin counted keeps the run in memory
  Live& live = it->second;
  if (acked) {
    ++live.record.calls[Index(call)];
    if (call == Call::kResume) live.record.resume_seqs += Mix64(seq);
  }
  if (call == Call::kSignal) live.signal_outstanding = false;
  --live.outstanding;
  MaybeSpill(shard, it);
}

std::size_t Ledger::live() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.runs.size();
  }
  return n;
}

void Ledger::MaybeSpill(Shard& shard, std::unordered_map<RunId, Live>::iterator it) {
  const Live& live = it->second;
  if (live.record.end == RunEnd::kLive || !live.record.start_returned || live.outstanding > 0) return;
  {
    std::lock_guard<std::mutex> lock(spill_mu_);
    if (std::fwrite(&live.record, sizeof(Record), 1, spill_) != 1 && spill_status_.ok()) {
      spill_status_ =
          Status(Code::kUnavailable, "cannot write '" + spill_path_.string() + "': " + std::strerror(errno));
    }
  }
  ++spilled_;
  shard.runs.erase(it);
}

Result<bool> Ledger::CheckRun(const Journal& journal, const Record& r, CheckFigures& f) {
  ++f.runs;
  f.acked_events += r.seq;
  f.acked_calls += std::accumulate(r.calls.begin(), r.calls.end(), std::uint64_t{0}) + (r.start_returned ? 1 : 0);
  const std::string name = "run " + r.run.ToString();

  std::uint64_t seq = 0, digest = 0, resume_seqs = 0;
  std::array<std::uint32_t, kCallKinds> calls{};
  bool starts_right = false;
  RunState state;
  state.run = r.run;
  Status folded;
  const Status read = journal.ReadRun(r.run, 1, Journal::kEnd, [&](const EventRecord& rec) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(rec));
    seq = rec.seq;
    if (seq <= r.seq) digest = Chain(digest, seq, e.body.index());
    if (seq == 1) starts_right = std::holds_alternative<RunStarted>(e.body);
    if (const std::optional<Call> call = CallOf(e.body)) {
      ++calls[Index(*call)];
      if (*call == Call::kResume) resume_seqs += Mix64(seq);
    }
    if (folded.ok()) folded = Evolve(state, std::move(e)).WithContext(name);
    return Status::Ok();
  });
  if (!read.ok() && read.code() != Code::kNotFound) return Err(read.WithContext("check"));

  if (seq < r.seq) {
    f.lost_events += r.seq - seq;
    Example(f, name + ": " + std::to_string(r.seq) + " events acknowledged, " + std::to_string(seq) +
                   " in the journal");
  } else {
    f.unacked_tail += seq - r.seq;
    if (digest != r.digest) {
      ++f.mismatched_runs;
      Example(f, name + ": the types of its first " + std::to_string(r.seq) + " events differ from those acknowledged");
    }
  }
  if (r.start_returned && !starts_right) {
    ++f.lost_calls;
    Example(f, name + ": Start returned, but the journal has no RunStarted at seq 1");
  }
  for (std::size_t k = 0; k < kCallKinds; ++k) {
    if (calls[k] == r.calls[k]) continue;
    const std::string counts = std::to_string(r.calls[k]) + " " + std::string(CallName(static_cast<Call>(k))) +
                               " calls acknowledged, " + std::to_string(calls[k]) + " events in the journal";
    if (calls[k] < r.calls[k]) {
      f.lost_calls += r.calls[k] - calls[k];
    } else {
      f.unacked_calls += calls[k] - r.calls[k];
    }
    Example(f, name + ": " + counts);
  }
  if (calls[Index(Call::kResume)] == r.calls[Index(Call::kResume)] && resume_seqs != r.resume_seqs) {
    ++f.lost_calls;
    Example(f, name + ": a resume was acknowledged at a seq that holds no ResumeRequested");
  }

  if (!folded.ok()) {
    ++f.fold_errors;
    Example(f, folded.ToString());
    return seq > 0;
  }
  const RunEnd end = EndOf(state);
  switch (end) {
    case RunEnd::kCompleted: ++(state.resumes.empty() ? f.completed : f.resumed_completed); break;
    case RunEnd::kCancelled: ++f.cancelled; break;
    case RunEnd::kRejected: ++f.rejected; break;
    case RunEnd::kGivenUp: ++f.given_up; break;
    case RunEnd::kLive:
      ++f.unfinished;
      Example(f, name + ": not ended (" + std::string(RunStatusName(state.status)) + ")");
      break;
  }
  // Events after the last acknowledged one may have ended the run unseen.
  if (seq == r.seq && end != r.end) {
    ++f.end_mismatches;
    Example(f, name + ": the journal says " + std::string(RunEndName(end)) + ", the observer saw " +
                   std::string(RunEndName(r.end)));
  }
  return seq > 0;
}

Result<CheckFigures> Ledger::Check(const Journal& journal) {
  CheckFigures f;
  f.ack_gaps = ack_gaps_.load();
  {
    std::lock_guard<std::mutex> lock(examples_mu_);
    f.examples = gap_examples_;
  }
  REWIND_ASSIGN_OR_RETURN(f.journal_events, journal.VerifyAll());
  REWIND_RETURN_IF_ERROR(journal.ForEachRun([&](const RunId&, std::uint64_t) -> Status {
    ++f.journal_runs;
    return Status::Ok();
  }));
  {
    std::lock_guard<std::mutex> lock(spill_mu_);
    REWIND_RETURN_IF_ERROR(spill_status_);
    if (std::fflush(spill_) != 0 || std::fseek(spill_, 0, SEEK_SET) != 0) {
      return Err(Code::kUnavailable, "cannot read back '" + spill_path_.string() + "': " + std::strerror(errno));
    }
  }
  std::uint64_t found = 0;
  Record record;
  while (std::fread(&record, sizeof(Record), 1, spill_) == 1) {
    REWIND_ASSIGN_OR_RETURN(const bool present, CheckRun(journal, record, f));
    found += present ? 1 : 0;
  }
  if (std::ferror(spill_)) {
    return Err(Code::kUnavailable, "cannot read back '" + spill_path_.string() + "': " + std::strerror(errno));
  }
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (const auto& [run, live] : shard.runs) {
      REWIND_ASSIGN_OR_RETURN(const bool present, CheckRun(journal, live.record, f));
      found += present ? 1 : 0;
    }
  }
  f.unknown_runs = f.journal_runs - std::min(found, f.journal_runs);
  return f;
}

}  // namespace rwd::bench
