#include "bench/histories.h"

#include <algorithm>
#include <latch>
#include <limits>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rewind/journal/hash.h"
#include "rewind/projections/history.h"

namespace rwd::bench {
namespace {

constexpr std::uint32_t kSteps = 5;
// Events per Append while writing the long run.
constexpr std::size_t kAppendBatch = 4096;

Actor Operator(std::uint64_t tenant) {
  return Actor{ActorKind::kUser, "operator@example.com", "tenant-" + std::to_string(tenant)};
}


enum class Fate { kClean, kRetried, kResumed, kCancelled };

// `def` naming its definition by hash, as the engine records it.
RunStarted Named(RunStarted def) {
  const Hash hash = Sha256(EncodeDefinition(def));
  def.definition_hash.assign(hash.begin(), hash.end());
  def.definition_stored = true;
  return def;
}

RunStarted CheckoutDefinition(std::uint64_t index) {
  static const char* const kIds[kSteps] = {"validate", "reserve", "charge", "ship", "notify"};
  RunStarted def;
  def.workflow = index % 2 == 0 ? "checkout" : "refund";
  def.version = 3;
  def.tenant = "tenant-" + std::to_string(index % 16);
  def.input = ToBytes("{\"order\":" + std::to_string(100000 + index) + ",\"items\":3,\"currency\":\"EUR\"}");
  def.idempotency_key = "order-" + std::to_string(100000 + index);
  for (std::uint32_t i = 0; i < kSteps; ++i) {
    StepDef step;
    step.id = kIds[i];
    step.handler = kIds[i];
    if (i > 0) step.depends_on = {i - 1};
    step.retry.max_attempts = 3;
    step.retry.initial_backoff_ms = 100;
    step.retry.max_backoff_ms = 10'000;
    step.timeout_ms = 30'000;
    def.steps.push_back(std::move(step));
  }
  return Named(std::move(def));
}

// One run of the rebuild journal, as the commits the engine would make.
struct PlannedRun {
  RunId run = RunId::New();
  std::vector<std::vector<Bytes>> commits;
  std::size_t next = 0;   // the next commit to append
  std::uint64_t seq = 0;  // the run's last appended seq
  std::uint64_t events = 0;
};

// Plans run number `index`: its fate drawn from `rng` (85% clean, 9% one
// retried attempt, 4% failed and resumed by an operator, 2% cancelled), at a
// step drawn likewise.
Result<PlannedRun> PlanRun(std::uint64_t index, std::mt19937_64& rng, MixFigures& mix) {
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<std::uint32_t> any_step(0, kSteps - 1);
  std::uniform_int_distribution<std::int64_t> step_us(1'000, 200'000);
  const int roll = percent(rng);
  const Fate fate = roll < 85   ? Fate::kClean
                    : roll < 94 ? Fate::kRetried
                    : roll < 98 ? Fate::kResumed
                                : Fate::kCancelled;
  const std::uint32_t fate_step = any_step(rng);
  switch (fate) {
    case Fate::kClean:
      ++mix.clean;
      break;
    case Fate::kRetried:
      ++mix.retried;
      break;
    case Fate::kResumed:
      ++mix.resumed;
      break;
    case Fate::kCancelled:
      ++mix.cancelled;
      break;
  }

  PlannedRun plan;
  RunMaker maker(plan.run, kStartUs + static_cast<std::int64_t>(index) * 1'000);
  std::vector<Bytes> commit;
  auto add = [&](EventBody body, std::int64_t advance_us, std::optional<Actor> actor = std::nullopt) -> Status {
    REWIND_ASSIGN_OR_RETURN(Bytes event, maker.Make(std::move(body), advance_us, std::move(actor)));
    commit.push_back(std::move(event));
    return Status::Ok();
  };
  auto flush = [&] {
    plan.events += commit.size();
    plan.commits.push_back(std::move(commit));
    commit.clear();
  };
  auto start = [&](std::uint32_t i) {
    const StepState& s = maker.step(i);
    return add(StepStarted{i, s.attempts + 1, s.epoch}, 500);
  };

  REWIND_RETURN_IF_ERROR(add(CheckoutDefinition(index), 0));
  for (std::uint32_t i = 0; i < kSteps; ++i) {
    REWIND_RETURN_IF_ERROR(start(i));
    flush();
    if (i == fate_step && fate == Fate::kRetried) {
      const StepState& s = maker.step(i);
      const std::uint32_t attempt = s.attempts, epoch = s.epoch;
      REWIND_RETURN_IF_ERROR(
          add(StepFailed{i, attempt, "unavailable", "upstream timed out after 30s", true, epoch}, step_us(rng)));
      REWIND_RETURN_IF_ERROR(add(RetryScheduled{i, attempt + 1, maker.now_us() + 100'000}, 200));
      flush();
      REWIND_RETURN_IF_ERROR(start(i));
      flush();
    } else if (i == fate_step && fate == Fate::kResumed) {
      const StepState& s = maker.step(i);
      const std::uint32_t attempt = s.attempts, epoch = s.epoch;
      REWIND_RETURN_IF_ERROR(
          add(StepFailed{i, attempt, "invalid_input", "card declined: expired", false, epoch}, step_us(rng)));
      REWIND_RETURN_IF_ERROR(add(RunFailed{i, "invalid_input", "card declined: expired"}, 200));
      flush();
      REWIND_RETURN_IF_ERROR(add(ResumeRequested{i, "customer updated the card", "resume-" + std::to_string(index), {}},
                                 600'000'000, Operator(index % 16)));
      flush();
      REWIND_RETURN_IF_ERROR(start(i));
      flush();
    } else if (i == fate_step && fate == Fate::kCancelled) {
      REWIND_RETURN_IF_ERROR(add(CancelRequested{"customer cancelled the order"}, step_us(rng), Operator(index % 16)));
      REWIND_RETURN_IF_ERROR(add(RunCancelled{"customer cancelled the order"}, 200));
      flush();
      return plan;
    }
    const StepState& s = maker.step(i);
    REWIND_RETURN_IF_ERROR(
        add(StepCompleted{i, s.attempts, ToBytes("{\"ok\":true,\"ref\":\"" + std::to_string(index * 8 + i) + "\"}"),
                          s.epoch},
            step_us(rng)));
  }
  REWIND_RETURN_IF_ERROR(add(RunCompleted{ToBytes("{\"status\":\"shipped\"}")}, 300));
  flush();
  return plan;
}

RunStarted PollerDefinition() {
  RunStarted def;
  def.workflow = "poller";
  def.version = 1;
  def.tenant = "tenant-0";
  StepDef poll;
  poll.id = "poll";
  poll.handler = "poll";
  poll.retry.max_attempts = std::numeric_limits<std::uint32_t>::max();
  poll.retry.initial_backoff_ms = 1000;
  poll.retry.multiplier = 1.0;
  poll.retry.max_backoff_ms = 1000;
  def.steps.push_back(std::move(poll));
  return Named(std::move(def));
}

// Event number `k` (from 1) of the long run: RunStarted, then StepStarted,
// StepFailed, RetryScheduled for attempt after attempt.
Result<Bytes> MakePollerEvent(RunMaker& maker, std::uint64_t k) {
  if (k == 1) return maker.Make(PollerDefinition(), 0);
  const std::uint32_t attempt = maker.step(0).attempts;  // the last attempt started
  switch ((k - 2) % 3) {
    case 0:
      return maker.Make(StepStarted{0, attempt + 1, 0}, 1'000'000);
    case 1:
      return maker.Make(StepFailed{0, attempt, "not_ready", "upstream has no data yet", true, 0}, 20'000);
    default:
      return maker.Make(RetryScheduled{0, attempt + 1, maker.now_us() + 1'000'000}, 100);
  }
}

}  // namespace

JournalOptions JournalOptionsFor(const std::filesystem::path& dir, Durability durability) {
  JournalOptions options;
  options.directory = dir.string();
  options.durability = durability;
  options.max_map_bytes = kMapBytes;
  return options;
}

const char* DurabilityName(Durability d) { return d == Durability::kDurable ? "durable" : "nosync"; }

RunMaker::RunMaker(const RunId& run, std::int64_t start_us) : clock_us_(start_us) { state_.run = run; }

Result<Bytes> RunMaker::Make(EventBody body, std::int64_t advance_us, std::optional<Actor> actor) {
  clock_us_ += advance_us;
  const Event event{clock_us_, std::move(actor), kSchemaVersion, std::move(body)};
  REWIND_RETURN_IF_ERROR(Evolve(state_, event).WithContext("the bench made an invalid event"));
  return Encode(event);
}

// Writes runs until at least options.events events are planned, keeping
// options.in_flight runs interleaved: each round queues the next commit of
// every run in flight, then waits for all of them.
std::vector<Bytes> StoredDefinitions() {
  return {EncodeDefinition(CheckoutDefinition(0)), EncodeDefinition(CheckoutDefinition(1)),
          EncodeDefinition(PollerDefinition())};
}

const DefinitionFinder& StoredDefinitionFinder() {
  static const std::vector<Bytes> blobs = StoredDefinitions();
  static const DefinitionFinder find = [](ByteView hash) -> Result<std::optional<ByteView>> {
    for (const Bytes& blob : blobs) {
      const Hash h = Sha256(blob);
      if (std::equal(h.begin(), h.end(), hash.begin(), hash.end())) return std::optional<ByteView>(blob);
    }
    return std::optional<ByteView>();
  };
  return find;
}

Status StoreDefinitions(Journal& journal) {
  for (const Bytes& blob : StoredDefinitions()) REWIND_RETURN_IF_ERROR(journal.PutBlob(blob));
  return Status::Ok();
}

Result<MixFigures> WriteMixedJournal(Journal& journal, const MixOptions& options) {
  REWIND_RETURN_IF_ERROR(StoreDefinitions(journal));
  std::mt19937_64 rng(options.seed);
  std::vector<PlannedRun> active;
  MixFigures out;
  std::uint64_t planned = 0;
  for (;;) {
    while (active.size() < options.in_flight && planned < options.events) {
      REWIND_ASSIGN_OR_RETURN(PlannedRun run, PlanRun(out.runs, rng, out));
      planned += run.events;
      ++out.runs;
      active.push_back(std::move(run));
    }
    if (active.empty()) break;
    std::vector<Status> errors(active.size());
    std::vector<std::uint64_t> heads(active.size());
    std::latch done(static_cast<std::ptrdiff_t>(active.size()));
    for (std::size_t i = 0; i < active.size(); ++i) {
      PlannedRun& r = active[i];
      journal.AppendAsync(r.run, r.seq, std::move(r.commits[r.next]), [&, i](Result<AppendResult> result) {
        if (result.has_value()) {
          heads[i] = result->head.seq;
        } else {
          errors[i] = result.error();
        }
        done.count_down();
      });
    }
    done.wait();
    for (std::size_t i = 0; i < active.size(); ++i) {
      if (!errors[i].ok()) return Err(errors[i].WithContext("append"));
      out.events += heads[i] - active[i].seq;
      active[i].seq = heads[i];
      ++active[i].next;
    }
    std::erase_if(active, [](const PlannedRun& r) { return r.next == r.commits.size(); });
  }
  // Durable now, so that the first durable commit after the reopen does not
  // pay for flushing the whole write.
  REWIND_RETURN_IF_ERROR(journal.Sync());
  return out;
}

Result<std::vector<Bytes>> CleanCheckoutRun(const RunId& run) {
  RunMaker maker(run, kStartUs);
  std::vector<Bytes> events;
  auto add = [&](EventBody body) -> Status {
    REWIND_ASSIGN_OR_RETURN(Bytes event, maker.Make(std::move(body), 1'000));
    events.push_back(std::move(event));
    return Status::Ok();
  };
  REWIND_RETURN_IF_ERROR(add(CheckoutDefinition(0)));
  for (std::uint32_t i = 0; i < kSteps; ++i) {
    REWIND_RETURN_IF_ERROR(add(StepStarted{i, 1, 0}));
    REWIND_RETURN_IF_ERROR(add(StepCompleted{i, 1, ToBytes("{\"ok\":true,\"ref\":\"" + std::to_string(i) + "\"}"), 0}));
  }
  REWIND_RETURN_IF_ERROR(add(RunCompleted{ToBytes("{\"status\":\"shipped\"}")}));
  return events;
}

Status WriteLongRun(Journal& journal, const RunId& run, std::uint64_t events) {
  REWIND_RETURN_IF_ERROR(StoreDefinitions(journal));
  RunMaker maker(run, kStartUs);
  std::vector<Bytes> batch;
  std::uint64_t seq = 0;
  for (std::uint64_t k = 1; k <= events; ++k) {
    REWIND_ASSIGN_OR_RETURN(Bytes event, MakePollerEvent(maker, k));
    batch.push_back(std::move(event));
    if (batch.size() == kAppendBatch || k == events) {
      REWIND_ASSIGN_OR_RETURN(AppendResult appended, journal.Append(run, seq, std::move(batch)));
      seq = appended.head.seq;
      batch.clear();
    }
  }
  return journal.Sync();
}

Result<RunState> FoldFromStart(const Journal& journal, const RunId& run, std::uint64_t seq) {
  RunState state;
  state.run = run;
  REWIND_RETURN_IF_ERROR(journal.ReadRun(run, 1, seq, [&](const EventRecord& record) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event event, DecodeRecord(record));
    return Evolve(state, std::move(event));
  }));
  return state;
}

Result<std::uint64_t> FoldEverything(const Journal& journal) {
  REWIND_ASSIGN_OR_RETURN(std::uint64_t last, journal.LastPosition());
  std::unordered_map<RunId, RunState> states;
  std::uint64_t folded = 0;
  REWIND_RETURN_IF_ERROR(journal.ReadAll(1, last, [&](const EventRecord& record) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event event, DecodeRecord(record));
    RunState& state = states[record.run];
    state.run = record.run;
    REWIND_RETURN_IF_ERROR(Evolve(state, std::move(event)));
    ++folded;
    return Status::Ok();
  }));
  if (folded != last) return Err(Code::kInternal, "folded " + std::to_string(folded) + " of " + std::to_string(last));
  return folded;
}



}  // namespace rwd::bench
