// Ledger: everything an engine acknowledged during a load test, per run, and
// the check of a journal against it.
//
// Acknowledgements come from two sides:
//   * the engine's RunObserver, called after each durable append of a run in
//     seq order: the ledger keeps how many events of the run were
//     acknowledged and a digest of the (seq, event type) of each, in order;
//   * the calls that return once their event is durable: Start (RunStarted),
//     Resume (ResumeRequested, at the seq it returns), Approve and Reject
//     (ApprovalDecided), Signal (SignalReceived), Pause (RunPaused, manual),
//     Cancel (CancelRequested): the ledger counts each kind per run.
// That is a few dozen bytes a run, not its events. A run's record stays in
// memory until the run ended (Finish), its Start returned and no call on it
// is outstanding (Begin without End); it is then written to a spill file and
// forgotten, so the ledger's memory follows the runs in flight, not the runs
// done. After the end nothing may be appended to the run: an observed event
// of a forgotten run is counted as unexpected.
//
// Check reads the journal back (after the engine has been shut down and the
// journal reopened) and compares every run ever recorded with it; see
// CheckFigures for what it counts. Everything it counts as a problem must be 0.
//
// Thread-safety: all methods may be called concurrently, except Check, which
// must run once nothing else calls the ledger.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"

namespace rwd::bench {

// The calls whose return acknowledges an event (Start is recorded apart).
enum class Call : std::uint8_t { kResume, kApprove, kReject, kSignal, kPause, kCancel };
inline constexpr std::size_t kCallKinds = 6;
std::string_view CallName(Call call);  // "resume", ...

// How a run ended, as the observer saw it, or as the journal's fold says.
enum class RunEnd : std::uint8_t {
  kLive,       // not ended: running, or paused waiting for someone
  kCompleted,  // RunCompleted
  kCancelled,  // RunCancelled
  kRejected,   // failed because an approval gate was rejected
  kGivenUp,    // failed at a code step, and the operator gave up resuming it
};
std::string_view RunEndName(RunEnd end);  // "live", "completed", ...

struct CheckFigures {
  std::uint64_t runs = 0;              // runs recorded and checked
  std::uint64_t journal_runs = 0;      // runs in the journal
  std::uint64_t journal_events = 0;    // events in the journal (all verified: VerifyAll)
  std::uint64_t acked_events = 0;      // events acknowledged by the observer
  std::uint64_t acked_calls = 0;       // calls acknowledged by their return (Start included)
  // Problems: each must be 0.
  std::uint64_t lost_events = 0;       // acknowledged by the observer, not in the journal
  std::uint64_t mismatched_runs = 0;   // present, but of other types than acknowledged
  std::uint64_t lost_calls = 0;        // acknowledged by a call's return, event missing
  std::uint64_t unacked_calls = 0;     // call events in the journal beyond those acknowledged
  std::uint64_t unknown_runs = 0;      // runs in the journal the ledger never saw
  std::uint64_t fold_errors = 0;       // runs whose events do not fold (Evolve refuses one)
  std::uint64_t ack_gaps = 0;          // observer calls that skipped seqs or came after the end
  std::uint64_t end_mismatches = 0;    // the journal's end differs from the observer's
  std::uint64_t unfinished = 0;        // runs the journal shows not ended (running or paused)
  // Not problems.
  std::uint64_t unacked_tail = 0;      // durable events after the last acknowledged one
  std::uint64_t completed = 0;         // completed without a resume
  std::uint64_t resumed_completed = 0; // completed after one resume or more
  std::uint64_t cancelled = 0, rejected = 0, given_up = 0;
  std::vector<std::string> examples;   // the first few problems, for people

  std::uint64_t problems() const {
    return lost_events + mismatched_runs + lost_calls + unacked_calls + unknown_runs + fold_errors + ack_gaps +
           end_mismatches + unfinished;
  }
};

class Ledger {
 public:
  // A ledger spilling to `spill_path` (created, replaced if it exists).
  // Unavailable when the file cannot be created.
  static Result<std::unique_ptr<Ledger>> Create(const std::filesystem::path& spill_path);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // From the RunObserver: `appended` became durable; `state` is the run after
  // them (their seqs are state.seq - appended.size() + 1 .. state.seq). The
  // first call of a run (its RunStarted) records the run.
  void Observed(const RunState& state, const std::vector<Event>& appended);
  // Start returned `run`.
  void StartReturned(const RunId& run);
  // The run ended, as the observer saw it (once; later calls are ignored).
  // Returns whether this call ended it.
  bool Finish(const RunId& run, RunEnd end);

  // A call on `run` is scheduled. False, and nothing recorded, for a run the
  // ledger does not hold, and for kSignal while a signal is outstanding (one
  // at a time is enough). Every true must be followed by one End.
  bool Begin(const RunId& run, Call call);
  // The call scheduled by Begin returned; `acked` when it succeeded, then
  // `seq` is the event's seq for kResume (0 otherwise).
  void End(const RunId& run, Call call, bool acked, std::uint64_t seq = 0);

  // Runs held in memory (not yet spilled).
  std::size_t live() const;
  // Runs spilled so far.
  std::uint64_t spilled() const { return spilled_.load(); }

  // Checks the journal against every run recorded (spilled and live):
  // VerifyAll (checksums, hash chains, dense seqs and positions), then each
  // run's events read, decoded and folded, compared with its record.
  // Errors: a spill file that cannot be written or read back, or a journal
  // read that fails (VerifyAll's Corruption included).
  Result<CheckFigures> Check(const Journal& journal);

 private:
  // What is spilled of a run; trivially copyable, written as it is.
  struct Record {
    RunId run;
    std::uint64_t seq = 0;          // events 1..seq acknowledged by the observer
    std::uint64_t digest = 0;       // of their (seq, type), in order
    std::uint64_t resume_seqs = 0;  // sum of Mix64(seq) over acknowledged resumes
    std::array<std::uint32_t, kCallKinds> calls{};  // acknowledged calls, by kind
    bool start_returned = false;
    RunEnd end = RunEnd::kLive;
  };
  struct Live {
    Record record;
    std::uint32_t outstanding = 0;  // calls begun, not ended
    bool signal_outstanding = false;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<RunId, Live> runs;
  };
  static constexpr std::size_t kShards = 64;

  Ledger(std::FILE* spill, std::filesystem::path path) : spill_(spill), spill_path_(std::move(path)) {}
  Shard& ShardOf(const RunId& run);
  // Spills and forgets `it` when it is done. REQUIRES: the shard is locked.
  void MaybeSpill(Shard& shard, std::unordered_map<RunId, Live>::iterator it);
  // Compares one run's events with its record; whether the journal has the
  // run. Errors: a read of the journal that fails (NotFound aside).
  static Result<bool> CheckRun(const Journal& journal, const Record& record, CheckFigures& figures);
  // Counts an observer call that does not follow the run's last one.
  void Gap(std::string what);

  std::array<Shard, kShards> shards_;
  std::mutex spill_mu_;
  std::FILE* spill_;
  std::filesystem::path spill_path_;
  Status spill_status_;  // the first failed write (under spill_mu_)
  std::atomic<std::uint64_t> spilled_{0};
  std::atomic<std::uint64_t> ack_gaps_{0};
  std::mutex examples_mu_;
  std::vector<std::string> gap_examples_;
};

}  // namespace rwd::bench
