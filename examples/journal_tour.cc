// A tour of the journal: records one run of an order workflow whose "charge"
// step fails once and then succeeds, reads the whole journal back, and checks
// every hash chain.
//
//   journal_tour [--data DIR]     (default ./rewind-data, or $REWIND_DATA)
//
// Each call appends one more run, so the journal grows across calls. The
// executor will record these events by itself; here they are written by hand
// to show what the journal stores.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "rewind/journal/journal.h"
#include "rewind/schemas/describe.h"
#include "rewind/schemas/events.h"

namespace {

std::int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The events of one run: validate -> reserve -> charge (fails once) -> ship.
std::vector<rwd::Event> OrderRun() {
  using namespace rwd;
  RunStarted start;
  start.workflow = "order";
  start.version = 1;
  for (const char* id : {"validate", "reserve", "charge", "ship"}) {
    StepDef step;
    step.id = id;
    if (!start.steps.empty()) step.depends_on = {static_cast<std::uint32_t>(start.steps.size() - 1)};
    start.steps.push_back(step);
  }
  start.steps.Mutable()[2].retry = RetryPolicy{3, 200, 2.0, 5000, 0.1};
  start.input = ToBytes(R"({"order":42,"amount":1999})");
  start.tenant = "default";
  const std::int64_t t = NowUs();
  const Actor customer{ActorKind::kUser, "alice", "default"};
  std::vector<Event> events;
  auto add = [&](EventBody body, std::optional<Actor> actor = std::nullopt) {
    events.push_back(Event{t + static_cast<std::int64_t>(events.size()) * 1000, actor, kSchemaVersion,
                           std::move(body)});
  };
  add(start, customer);
  add(StepStarted{0, 1, 0});
  add(StepCompleted{0, 1, ToBytes("valid")});
  add(StepStarted{1, 1, 0});
  add(StepCompleted{1, 1, ToBytes(R"({"reservation":"r-7"})")});
  add(StepStarted{2, 1, 0});
  add(StepFailed{2, 1, "exit_status", "card network timeout", true});
  add(RetryScheduled{2, 2, t + 200'000});
  add(StepStarted{2, 2, 0});
  add(StepCompleted{2, 2, ToBytes(R"({"charge":"c-9"})")});
  add(StepStarted{3, 1, 0});
  add(StepCompleted{3, 1, ToBytes("shipped")});
  add(RunCompleted{ToBytes("done")});
  return events;
}

int Fail(const rwd::Status& s) {
  std::fprintf(stderr, "journal_tour: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::getenv("REWIND_DATA") != nullptr ? std::getenv("REWIND_DATA") : "./rewind-data";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--data DIR]\n", argv[0]);
      return 2;
    }
  }
  rwd::JournalOptions options;
  options.directory = dir;
  auto opened = rwd::Journal::Open(options);
  if (!opened.has_value()) return Fail(opened.error());
  rwd::Journal& journal = **opened;

  // Record the run: its events go in as they would happen, one append each,
  // every append naming the seq it expects the run to be at.
  const rwd::RunId run = rwd::RunId::New();
  std::uint64_t seq = 0;
  for (const rwd::Event& event : OrderRun()) {
    auto appended = journal.Append(run, seq, {rwd::Encode(event)});
    if (!appended.has_value()) return Fail(appended.error());
    seq = appended->head.seq;
  }
  std::printf("recorded run %s (%llu events) in %s\n\n", run.ToString().c_str(),
              static_cast<unsigned long long>(seq), dir.c_str());

  // Read the whole journal back in global order.
  std::printf("%8s  %-32s %4s  %-8s  %s\n", "position", "run", "seq", "prev", "event");
  const rwd::Status read = journal.ReadAll(1, rwd::Journal::kEnd, [](const rwd::EventRecord& r) {
    auto event = rwd::Decode(r.payload);
    if (!event.has_value()) return event.error();
    std::printf("%8llu  %s %4llu  %.8s  %s\n", static_cast<unsigned long long>(r.position),
                r.run.ToString().c_str(), static_cast<unsigned long long>(r.seq),
                rwd::HexEncode(r.prev_hash()).c_str(), rwd::DescribeEvent(*event).c_str());
    return rwd::Status::Ok();
  });
  if (!read.ok()) return Fail(read);

  auto verified = journal.VerifyAll();
  if (!verified.has_value()) return Fail(verified.error());
  auto head = journal.Head(run);
  if (!head.has_value()) return Fail(head.error());
  std::printf("\nverified %llu events: checksums, dense positions, every run's hash chain\n",
              static_cast<unsigned long long>(*verified));
  std::printf("chain head of this run: seq %llu hash %s\n", static_cast<unsigned long long>(head->seq),
              rwd::HexEncode(head->hash).c_str());
  return 0;
}
