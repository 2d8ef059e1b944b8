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
#include <condition_variable>
#include <limits>
#include <mutex>
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

// As the server reads: only when woken. A wake that never comes while
// events are due fails it (the property above polls, and cannot).
TEST(FeedTest, AReaderThatReadsOnlyWhenWokenGetsEverything) {
  for (int round = 0; round < 12; ++round) {
    Journaled j;
    Feed feed(j.journal(), {.window = static_cast<std::size_t>(round % 2 ? 3 : 64), .max_per_tenant = 8,
                            .batch = static_cast<std::size_t>(1 + round % 5)});
    const bool one_run = round % 3 == 0;
    auto sub = feed.Subscribe("acme", one_run ? std::optional<RunId>(j.run(0)) : std::nullopt, 0).value();
    std::mutex mu;
    std::condition_variable cv;
    bool woken = false;
    sub->OnReady([&] {
      std::lock_guard lock(mu);
      woken = true;
      cv.notify_one();
    });
    std::atomic<long> due{-1};  // known once the writer is done
    std::thread writer([&] {
      for (int i = 0; i < 300; ++i) j.Append(static_cast<std::size_t>(i % 4), 1 + i % 3);
      long n = 0;
      for (const Appended& a : j.appended()) n += a.tenant == "acme" && (!one_run || a.run == j.run(0));
      due = n;
    });
    std::vector<std::uint64_t> seen;
    for (;;) {
      const auto events = sub->Next();
      ASSERT_TRUE(events.has_value());
      for (const auto& e : *events) seen.push_back(e->position);
      if (!events->empty()) continue;
      if (due.load() >= 0 && static_cast<long>(seen.size()) == due.load()) break;
      std::unique_lock lock(mu);
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (!woken && !(due.load() >= 0 && static_cast<long>(seen.size()) == due.load()) &&
             std::chrono::steady_clock::now() < deadline) {
        cv.wait_for(lock, 10ms);
      }
      ASSERT_TRUE(woken || (due.load() >= 0 && static_cast<long>(seen.size()) == due.load()))
          << "round " << round << ": " << seen.size() << " events read, and no wake for 5 s";
      woken = false;
    }
    writer.join();
    std::vector<std::uint64_t> want;
    for (const Appended& a : j.appended()) {
      if (a.tenant == "acme" && (!one_run || a.run == j.run(0))) want.push_back(a.position);
    }
    ASSERT_EQ(seen, want) << "round " << round;
  }
}

// A stream far behind, of a tenant with few events among many of another,
// reads a bounded stretch of the journal per Next (the io thread serves
// everyone else meanwhile) and wakes itself to read on.
TEST(FeedTest, AStreamFarBehindReadsABoundedStretchPerNextAndWakesItself) {
  Journaled j;
  j.Append(0, 1);                                  // acme
  for (int i = 0; i < 400; ++i) j.Append(1, 25);  // globex: 10,000 events
  j.Append(0, 1);                                  // acme, the last
  Feed feed(j.journal(), {.window = 16, .max_per_tenant = 4, .batch = 100});
  auto sub = feed.Subscribe("acme", std::nullopt, 1).value();
  std::atomic<int> wakes{0};
  sub->OnReady([&] { ++wakes; });
  int calls = 0;
  std::vector<std::uint64_t> seen;
  while (seen.empty() && calls < 1000) {
    const auto events = sub->Next();
    ASSERT_TRUE(events.has_value());
    ++calls;
    for (const auto& e : *events) seen.push_back(e->position);
    if (seen.empty()) {
      EXPECT_EQ(wakes.load(), calls) << "an empty Next with more to read wakes its stream";
    }
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{10'002}));
  EXPECT_GE(calls, 10'000 / 400) << "at most 4 batches of positions per Next";
}

// A run's stream behind the window gets at most a batch per Next too.
TEST(FeedTest, ARunsStreamBehindTheWindowGetsABatchPerNext) {
  Journaled j;
  for (int i = 0; i < 50; ++i) j.Append(0, 10);
  Feed feed(j.journal(), {.window = 4, .max_per_tenant = 4, .batch = 16});
  auto sub = feed.Subscribe("acme", j.run(0), 0).value();
  std::vector<std::uint64_t> seen;
  while (seen.size() < 500) {
    const auto events = sub->Next();
    ASSERT_TRUE(events.has_value());
    ASSERT_LE(events->size(), 16u);
    ASSERT_FALSE(events->empty());
    for (const auto& e : *events) seen.push_back(e->position);
  }
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

// An id past the journal's end (another journal's, a restored one's) is
// taken as its end: what comes next is sent, and nothing wraps around.
TEST(FeedTest, AnIdPastTheJournalsEndIsItsEnd) {
  Journaled j;
  j.Append(0, 3);
  Feed feed(j.journal(), {});
  auto past = feed.Subscribe("acme", std::nullopt, 1000).value();
  auto max = feed.Subscribe("acme", std::nullopt, std::numeric_limits<std::uint64_t>::max()).value();
  j.Append(2, 2);
  for (auto* sub : {&past, &max}) {
    std::vector<std::uint64_t> seen;
    for (int i = 0; i < 2000 && seen.size() < 2; ++i) {
      const auto events = (*sub)->Next();
      ASSERT_TRUE(events.has_value());
      for (const auto& e : *events) seen.push_back(e->position);
      if (seen.size() < 2) std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{4, 5}));
  }
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
