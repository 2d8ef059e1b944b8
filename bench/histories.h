// Valid histories the benchmarks write straight into a journal, without an
// engine: a realistic mix of many interleaved runs, and one very long run.
// Every event is folded with Evolve before it is encoded, so every journal
// written here folds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"

namespace rwd::bench {

// Address space only (LMDB reserves it); large enough never to grow mid-run.
inline constexpr std::uint64_t kMapBytes = std::uint64_t{64} << 30;
// Recorded times start here (2024-01-01); they are data, never a clock.
inline constexpr std::int64_t kStartUs = 1'704'067'200'000'000;

JournalOptions JournalOptionsFor(const std::filesystem::path& dir, Durability durability);
const char* DurabilityName(Durability d);  // "durable" or "nosync"

// One run's events, each folded with Evolve (so a transition the fold refuses
// is caught here, not in a measurement) and then encoded. Recorded times
// advance as the caller says.
class RunMaker {
 public:
  RunMaker(const RunId& run, std::int64_t start_us);
  Result<Bytes> Make(EventBody body, std::int64_t advance_us, std::optional<Actor> actor = std::nullopt);
  const StepState& step(std::uint32_t i) const { return state_.steps[i]; }
  std::int64_t now_us() const { return clock_us_; }

 private:
  RunState state_;
  std::int64_t clock_us_;
};

// The events of a clean run of the mixed journal's "checkout" workflow
// (below): RunStarted, StepStarted and StepCompleted for each of its 5 steps,
// RunCompleted; 12 events, encoded. Its RunStarted names its definition
// (StoreDefinitions).
Result<std::vector<Bytes>> CleanCheckoutRun(const RunId& run);

// The mixed journal: runs of two 5-step linear code workflows ("checkout",
// "refund"; 16 tenants), each appended commit by commit as the engine would
// (RunStarted with the first StepStarted, each StepCompleted with the next
// StepStarted or RunCompleted). 85% complete cleanly (12 events), 9% retry a
// failed attempt, 4% fail, are resumed by an operator and complete, 2% are
// cancelled.
struct MixOptions {
  std::uint64_t events = 1'000'000;  // at least this many
  unsigned in_flight = 1000;         // runs interleaved; one commit of each per group commit
  std::uint64_t seed = 1;
};

struct MixFigures {
  std::uint64_t events = 0;
  std::uint64_t runs = 0;
  std::uint64_t clean = 0, retried = 0, resumed = 0, cancelled = 0;
};

// The definitions the histories' runs name (stored once, as the engine
// stores them: their RunStarted events hold the hash, not the steps), in
// their canonical encoding: what a journal keeps as blobs.
std::vector<Bytes> StoredDefinitions();

// Decodes as readers of a journal holding StoredDefinitions() do.
const DefinitionFinder& StoredDefinitionFinder();

// Stores StoredDefinitions() in `journal`: before the first event that names one.
Status StoreDefinitions(Journal& journal);

// Writes the mixed journal into `journal` (best opened kNoSync), then syncs.
// Stores its definitions first.
Result<MixFigures> WriteMixedJournal(Journal& journal, const MixOptions& options);

// The long run: a code step with an unbounded retry budget that fails again
// and again (StepStarted, StepFailed retryable, RetryScheduled, ...), so its
// state keeps the same size however long the run grows. Exactly `events`
// events, 4096 per Append, then synced. Stores its definition first.
Status WriteLongRun(Journal& journal, const RunId& run, std::uint64_t events);

// Every event of the journal decoded and folded into its run's state in one
// read snapshot, nothing written: the work any fold of the whole journal
// does. Returns the events folded.
Result<std::uint64_t> FoldEverything(const Journal& journal);

// The run's state after `seq` events, folded from its first event.
Result<RunState> FoldFromStart(const Journal& journal, const RunId& run, std::uint64_t seq);

}  // namespace rwd::bench
