// The feed's promise to every stream: each event it wants exactly once, in
// journal order, from any starting position, however its reads interleave
// with commits, whether it keeps up or falls behind the window of recent
// events; and a wake whenever something new comes for a stream that read
// everything.
#include "server/src/feed.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "rewind/schemas/events.h"
#include "tests/support/temp_dir.h"

namespace rwd::server_internal {
namespace {

using namespace std::chrono_literals;

struct Appended {
  std::uint64_t position = 0;
  RunId run;
  std::string tenant;
};

// A journal with runs of two tenants, and what was appended to it.
class Journaled {
 public:
  Journaled() {
    JournalOptions o;
    o.directory = dir_.Sub("journal");
    o.durability = Durability::kNoSync;
    journal_ = std::move(Journal::Open(o).value());
    for (int i = 0; i < 4; ++i) runs_.push_back({RunId::New(), i % 2 == 0 ? "acme" : "globex", 0});
  }
  const Journal& journal() const { return *journal_; }
  RunId run(std::size_t i) const { return runs_[i].id; }
  const std::vector<Appended>& appended() const { return appended_; }

  // `count` events of run `i` (its RunStarted first).
  void Append(std::size_t i, std::size_t count) {
    Run& r = runs_[i];
    std::vector<Bytes> payloads;
    for (std::size_t k = 0; k < count; ++k) {
      Event e;
      if (r.seq + k == 0) {
        e.body = RunStarted{.workflow = "w", .tenant = r.tenant};
      } else {
        e.body = StepStarted{.step = 0, .attempt = static_cast<std::uint32_t>(r.seq + k), .epoch = 1};
      }
      payloads.push_back(Encode(e));
    }
    const AppendResult done = journal_->Append(r.id, r.seq, std::move(payloads)).value();
    for (std::size_t k = 0; k < count; ++k) appended_.push_back({done.first_position + k, r.id, r.tenant});
    r.seq += count;
  }

 private:
  struct Run {
    RunId id;
    std::string tenant;
    std::uint64_t seq;
  };
  test::TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::vector<Run> runs_;
  std::vector<Appended> appended_;
};

struct Watcher {
  std::string tenant;
  std::optional<RunId> run;
  std::uint64_t after = 0;
  std::shared_ptr<Subscription> sub;
  std::vector<std::uint64_t> seen;

  bool Wants(const Appended& a) const {
    return a.position > after && a.tenant == tenant && (!run || a.run == *run);
  }
  std::vector<std::uint64_t> Due(const std::vector<Appended>& all) const {
    std::vector<std::uint64_t> out;
    for (const Appended& a : all) {
      if (Wants(a)) out.push_back(a.position);
    }
    return out;
  }
  void Read() {
    auto events = sub->Next();
    RC_ASSERT(events.has_value());
    for (const auto& e : *events) seen.push_back(e->position);
  }
};

// Reads until everything `w` is due has come (the feed tails the journal
// on its own thread), or a deadline.
void Drain(Watcher& w, const std::vector<Appended>& all) {
  const std::vector<std::uint64_t> due = w.Due(all);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (w.seen.size() < due.size() && std::chrono::steady_clock::now() < deadline) {
    const std::size_t before = w.seen.size();
    w.Read();
    if (w.seen.size() == before) std::this_thread::sleep_for(1ms);
  }
}

RC_GTEST_PROP(FeedTest, EveryStreamGetsWhatItWantsOnceInOrderHoweverItReads, ()) {
  Journaled j;
  const auto window = *rc::gen::element<std::size_t>(1, 3, 16, 4096);
  Feed feed(j.journal(), {.window = window, .max_per_tenant = 64, .batch = *rc::gen::inRange<std::size_t>(1, 8)});
  std::vector<Watcher> watchers;
  const int steps = *rc::gen::inRange(1, 40);
  for (int step = 0; step < steps; ++step) {
    switch (*rc::gen::inRange(0, 4)) {
      case 0:
        j.Append(*rc::gen::inRange<std::size_t>(0, 4), *rc::gen::inRange<std::size_t>(1, 4));
        break;
      case 1: {
        // A run's stream or the tenant's, from a position seen or from now.
        Watcher w;
        const std::size_t i = *rc::gen::inRange<std::size_t>(0, 4);
        w.tenant = *rc::gen::element<std::string>("acme", "globex");
        if (*rc::gen::arbitrary<bool>()) w.run = j.run(i);
        // From the position a reconnecting client names (0: everything).
        w.after = *rc::gen::inRange<std::uint64_t>(0, j.appended().size() + 1);
        auto sub = feed.Subscribe(w.tenant, w.run, w.after);
        RC_ASSERT(sub.has_value());
        w.sub = *sub;
        watchers.push_back(std::move(w));
        break;
      }
      default:
        if (!watchers.empty()) watchers[*rc::gen::inRange<std::size_t>(0, watchers.size())].Read();
        break;
    }
  }
  for (Watcher& w : watchers) {
    Drain(w, j.appended());
    RC_ASSERT(w.seen == w.Due(j.appended()));
  }
}

// A stream from now gets what comes after it attached, and nothing before.
TEST(FeedTest, AStreamFromNowGetsOnlyWhatComesAfter) {
  Journaled j;
  j.Append(0, 3);
  Feed feed(j.journal(), {});
  auto sub = feed.Subscribe("acme", std::nullopt, std::nullopt).value();
  j.Append(2, 2);
  std::vector<std::uint64_t> seen;
  for (int i = 0; i < 1000 && seen.size() < 2; ++i) {
    const auto events = sub->Next();
    ASSERT_TRUE(events.has_value());
    for (const auto& e : *events) seen.push_back(e->position);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{4, 5}));
}

// A stream that read everything is woken when an event it wants comes,
// and not for another tenant's.
TEST(FeedTest, AStreamThatReadEverythingIsWokenByWhatItWants) {
  Journaled j;
  j.Append(0, 1);
  Feed feed(j.journal(), {});
  auto sub = feed.Subscribe("acme", std::nullopt, 0).value();
  std::atomic<int> wakes{0};
  sub->OnReady([&] { ++wakes; });
  ASSERT_EQ(sub->Next()->size(), 1u);
  ASSERT_TRUE(sub->Next()->empty());
  j.Append(1, 1);  // globex
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(wakes.load(), 0);
  j.Append(2, 2);  // acme
  for (int i = 0; i < 1000 && wakes.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(wakes.load(), 1);
  const auto events = sub->Next();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->front()->run, j.run(2));
}

// A stream that reads nothing while thousands of events pass is not cut
// off: it reads them later, from the journal, every one.
TEST(FeedTest, AStreamFarBehindTheWindowReadsTheJournalAndMissesNothing) {
  Journaled j;
  Feed feed(j.journal(), {.window = 8, .max_per_tenant = 4, .batch = 100});
  auto sub = feed.Subscribe("acme", std::nullopt, 0).value();
  for (int i = 0; i < 300; ++i) j.Append(static_cast<std::size_t>(i % 4), 3);
  std::vector<std::uint64_t> seen;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.size() < 450 && std::chrono::steady_clock::now() < deadline) {
    const auto events = sub->Next();
    ASSERT_TRUE(events.has_value());
    EXPECT_LE(events->size(), 100u);
    for (const auto& e : *events) seen.push_back(e->position);
  }
  std::vector<std::uint64_t> due;
  for (const Appended& a : j.appended()) {
    if (a.tenant == "acme") due.push_back(a.position);
  }
  EXPECT_EQ(seen, due);
}

TEST(FeedTest, ATenantHasAtMostItsStreamsAndAClosedOneIsGivenBack) {
  Journaled j;
  Feed feed(j.journal(), {.max_per_tenant = 2});
  auto one = feed.Subscribe("acme", std::nullopt, std::nullopt).value();
  auto two = feed.Subscribe("acme", j.run(0), std::nullopt).value();
  EXPECT_EQ(feed.Subscribe("acme", std::nullopt, std::nullopt).error().code(), Code::kResourceExhausted);
  EXPECT_TRUE(feed.Subscribe("globex", std::nullopt, std::nullopt).has_value());
  EXPECT_EQ(feed.subscribers(), 2u);  // globex's was released at once
  one->Close();
  EXPECT_FALSE(one->Next().has_value()) << "a closed stream ends";
  EXPECT_TRUE(feed.Subscribe("acme", std::nullopt, std::nullopt).has_value());
}

}  // namespace
}  // namespace rwd::server_internal
