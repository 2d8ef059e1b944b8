// Random journals for property tests of what is folded from the journal
// (projections, read models, journal-inspect): many runs interleaved, written
// the way the engine writes them.
//
// GenHistory plays the engine's live runs (executor/src/live_run.cc) with
// the pure executor core — Plan decides the engine's events, Evolve folds
// them — against a random outside world:
//   * handlers that complete or fail (retryable or not, timeouts included),
//     one or several outcomes per write, as outcomes queue behind an append;
//   * operators (subjects "alice", "bob", "carol") who start runs, approve and
//     reject approval gates, send signals (awaited ones, early ones and unknown
//     names), pause runs, cancel them, resume stopped runs from a step whose
//     dependencies completed, and fork runs at any past seq into a new run;
//   * a process restart that abandons the attempts in flight (StepAbandoned);
//   * a simulated clock that advances by random amounts between writes and
//     jumps to a run's wake-up time, so retry backoffs and sleep timers come
//     due and Plan fires them.
//
// One HistoryAppend is one durable write of one run: the outcomes or the
// operator's events first, then what Plan decided for the state after them, as
// LiveRun::Drive batches them. Engine events have no actor; operator events
// have Actor{kUser, subject, the run's tenant}. Every event's unix_us is the
// simulated clock, so unix_us never decreases along a history.
//
// Invariants of every generated history:
//   * each run's events, concatenated in append order, fold with Evolve from an
//     empty state without refusal. The generator folds every event as it
//     creates it and fails the property (RC_FAIL, naming the run, the refusal
//     and the run's events) if one is refused — a bug in the decider or here;
//   * every append is non-empty and its expected_seq is the run's seq before
//     it: per run the chain is 0, n1, n1 + n2, ... ;
//   * a run's first append starts with RunStarted or RunForked; a fork's parent
//     appears in an earlier append and had at least parent_seq events by then;
//   * at most max_runs runs (forks included) and max_appends appends;
//     definitions have 1..max_steps steps (a DAG: dependencies on earlier steps
//     only), tenant and workflow from the options, version 1 or 2, an empty
//     definition_hash, and pass ValidateDefinition. Runs of one (workflow,
//     version) in one history share their steps, as runs of one registered
//     workflow do.
//
// Deterministic: a history is a function of rapidcheck's random source, run ids
// and resume request ids included (never RunId::New()), so rapidcheck
// reproduces a failing history from its seed and shrinks it — dropping moves
// shortens the history, a shrunk move picks the first run and its first valid
// action. The length grows with rapidcheck's size: at kNominalSize (100) and
// above, histories have 0..max_appends appends, max_appends itself being common
// (about one in six); at size 0 a history is empty.
//
// Thread-safety: the generator is a value; each call draws its own history.
#pragma once

#include <rapidcheck.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/schemas/events.h"

namespace rwd::test {

// One append: events for one run, as the engine would append them in one durable write.
struct HistoryAppend {
  RunId run;
  std::uint64_t expected_seq = 0;  // the run's seq before this append
  std::vector<Event> events;       // never empty
  friend bool operator==(const HistoryAppend&, const HistoryAppend&) = default;
};

struct HistoryOptions {
  std::size_t max_runs = 6;      // runs started or forked
  std::size_t max_steps = 5;     // steps per definition (at least 1 is used)
  std::size_t max_appends = 60;  // appends per history, reached near kNominalSize
  std::vector<std::string> tenants = {"acme", "globex"};  // empty: {"default"}
  std::vector<std::string> workflows = {"orders", "billing", "reports"};  // empty: {"default"}
  // The engine's max_parallel_steps for the whole history; nullopt: drawn per
  // history (mostly 0, sometimes 1 or 2).
  std::optional<std::uint32_t> max_parallel;
};

// A random journal: a sequence of appends, all valid (folding each run's events
// with Evolve never fails, and each append's events come from Plan or from an
// operator action the engine allows in that state). See the file comment.
rc::Gen<std::vector<HistoryAppend>> GenHistory(HistoryOptions options = {});

// Prints the run, expected_seq and one line per event, for counterexamples.
void showValue(const HistoryAppend& append, std::ostream& os);

}  // namespace rwd::test
