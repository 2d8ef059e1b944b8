// Child process of rebuild_crash_test: rebuilds every projection, over and
// over, while a second thread appends valid runs, until it is killed with
// SIGKILL.
//
//   rebuild_crash_child DIR               rebuild forever while appending
//   rebuild_crash_child DIR populate N    append N events, then exit 0
//
// The journal is kNoSync (a SIGKILL keeps the page cache). Projections are
// opened without a background thread, with small snapshot intervals and
// update batches, so a rebuild takes many updates. stdout carries one line
// per fact, each in one write() so lines from the two threads never mix:
//   ready                   Projections::Open returned (rebuild mode)
//   ack <run hex> <seq>     an append is acknowledged; the run is at <seq>
//   progress <done> <total> one rebuild update committed
//   rebuilt <n>             the n-th Rebuild of this process returned Ok
// Any failure goes to stderr and ends the process with status 1.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/projections/projections.h"
#include "rewind/schemas/events.h"

namespace rwd::test {
namespace {

// Runs written at once, interleaved: the projections see mixed streams.
constexpr std::size_t kInFlight = 6;
// Pause between appends in rebuild mode, so a rebuild still reaches the end
// of a journal that grows under it.
constexpr auto kAppendPause = std::chrono::microseconds(1000);

void WriteLine(const std::string& line) {
  if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
}

[[noreturn]] void Die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  std::_Exit(1);
}

StepDef Step(std::string id, std::vector<std::uint32_t> deps, std::uint32_t attempts) {
  StepDef d;
  d.id = std::move(id);
  d.depends_on = std::move(deps);
  d.retry.max_attempts = attempts;
  return d;
}

Actor Operator(std::string subject) { return Actor{ActorKind::kUser, std::move(subject), "acme"}; }

// One run's whole history, each event checked by Evolve as it is added, so
// only valid transitions reach the journal. Five shapes: retried, failed and
// resumed, signalled, cancelled, and a long retry loop (many snapshots).
class Script {
 public:
  Script(std::uint64_t number, std::int64_t start_us) : clock_(start_us) {
    state_.run = RunId::New();
    const int shape = static_cast<int>(number % 5);
    RunStarted def;
    def.workflow = shape == 4 ? "reports" : number % 2 == 0 ? "orders" : "billing";
    def.version = 1;
    def.tenant = number % 3 == 0 ? "globex" : "acme";
    def.steps = {Step("charge", {}, 1), Step("ship", {0}, 100)};
    Add(std::move(def));
    switch (shape) {
      case 0:
        Complete(0).FailAttempt(1, true);
        Add(RetryScheduled{1, state_.steps[1].attempts + 1, clock_ + 5000});
        Complete(1).Add(RunCompleted{ToBytes("done")});
        break;
      case 1:
        Complete(0).FailAttempt(1, false).Add(RunFailed{1, "boom", "it broke"});
        Add(ResumeRequested{1, "fixed it", "req-" + std::to_string(number), {}}, Operator("alice"));
        Complete(1).Add(RunCompleted{ToBytes("done")});
        break;
      case 2:
        Add(SignalReceived{"poke", ToBytes("hi")}, Operator("bob"));
        Complete(0).Complete(1).Add(RunCompleted{ToBytes("done")});
        break;
      case 3:
        Complete(0).Add(StepStarted{1, 1, 0});
        Add(CancelRequested{"customer left"}, Operator("carol"));
        Add(RunCancelled{"customer left"});
        break;
      default:
        Complete(0);
        for (int i = 0; i < 6; ++i) {
          FailAttempt(1, true).Add(RetryScheduled{1, state_.steps[1].attempts + 1, clock_ + 5000});
        }
        Complete(1).Add(RunCompleted{ToBytes("done")});
        break;
    }
  }

  const RunId& run() const { return state_.run; }
  const std::vector<Bytes>& events() const { return events_; }

 private:
  Script& Add(EventBody body, std::optional<Actor> actor = std::nullopt) {
    const Event event{clock_, std::move(actor), kSchemaVersion, std::move(body)};
    clock_ += 1000;
    if (Status s = Evolve(state_, event); !s.ok()) Die("script", s);
    events_.push_back(Encode(event));
    return *this;
  }
  Script& Complete(std::uint32_t step) {
    const std::uint32_t attempt = state_.steps[step].attempts + 1, epoch = state_.steps[step].epoch;
    Add(StepStarted{step, attempt, epoch});
    return Add(StepCompleted{step, attempt, ToBytes("out"), epoch});
  }
  Script& FailAttempt(std::uint32_t step, bool retryable) {
    const std::uint32_t attempt = state_.steps[step].attempts + 1, epoch = state_.steps[step].epoch;
    Add(StepStarted{step, attempt, epoch});
    return Add(StepFailed{step, attempt, "boom", "it broke", retryable, epoch});
  }

  std::int64_t clock_;
  RunState state_;
  std::vector<Bytes> events_;
};

// Appends the runs of kInFlight scripts round-robin, one or two events per
// append, and reports each acknowledged append. Stops after `limit` events.
void Append(Journal& journal, std::uint64_t limit, bool paced) {
  struct Cursor {
    Script script;
    std::size_t next = 0;
  };
  std::uint64_t runs = 0, written = 0;
  const std::int64_t base_us = 1'700'000'000'000'000;
  std::vector<Cursor> cursors;
  for (std::uint64_t turn = 0; written < limit; ++turn) {
    if (cursors.size() < kInFlight) {
      cursors.push_back(Cursor{Script(runs, base_us + static_cast<std::int64_t>(runs) * 1'000'000)});
      ++runs;
    }
    Cursor& c = cursors[turn % cursors.size()];
    const std::vector<Bytes>& events = c.script.events();
    const std::size_t count = std::min<std::size_t>({1 + turn % 2, events.size() - c.next, limit - written});
    std::vector<Bytes> payloads(events.begin() + static_cast<std::ptrdiff_t>(c.next),
                                events.begin() + static_cast<std::ptrdiff_t>(c.next + count));
    const auto r = journal.Append(c.script.run(), c.next, std::move(payloads));
    if (!r.has_value()) Die("append", r.error());
    c.next += count;
    written += count;
    WriteLine("ack " + c.script.run().ToString() + " " + std::to_string(c.next) + "\n");
    if (c.next == events.size()) cursors.erase(cursors.begin() + static_cast<std::ptrdiff_t>(turn % cursors.size()));
    if (paced) std::this_thread::sleep_for(kAppendPause);
  }
}

}  // namespace

int Main(int argc, char** argv) {
  const bool populate = argc == 4 && std::string(argv[2]) == "populate";
  if (argc != 2 && !populate) {
    std::fprintf(stderr, "usage: %s DIR [populate EVENTS]\n", argv[0]);
    return 2;
  }
  JournalOptions options;
  options.directory = argv[1];
  options.durability = Durability::kNoSync;
  auto journal = Journal::Open(options);
  if (!journal.has_value()) Die("open journal", journal.error());
  auto projections =
      Projections::Open(**journal, ProjectionsOptions{.snapshot_every = 4, .batch_events = 64, .background = false});
  if (!projections.has_value()) Die("open projections", projections.error());
  if (populate) {
    if (Status s = (*projections)->CatchUp(); !s.ok()) Die("catch up", s);
    Append(**journal, std::strtoull(argv[3], nullptr, 10), false);
    return 0;
  }
  WriteLine("ready\n");
  std::thread appender([&] { Append(**journal, UINT64_MAX, true); });
  const auto progress = [](const RebuildProgress& p) {
    WriteLine("progress " + std::to_string(p.done) + " " + std::to_string(p.total) + "\n");
  };
  for (std::uint64_t n = 1;; ++n) {
    if (Status s = (*projections)->Rebuild({}, progress); !s.ok()) Die("rebuild", s);
    WriteLine("rebuilt " + std::to_string(n) + "\n");
  }
}

}  // namespace rwd::test

int main(int argc, char** argv) {
  // Standard output carries the protocol to the parent.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("stderr"));
  spdlog::set_level(spdlog::level::warn);
  return rwd::test::Main(argc, argv);
}
