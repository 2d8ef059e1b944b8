// Many threads appending at once: to runs of their own, and all to one shared
// run with expected seqs. No event may be lost or duplicated, and every
// conflict must be reported as one.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "tests/journal/journal_fixture.h"

namespace rwd::test {
namespace {

constexpr int kThreads = 16;
constexpr int kAppendsPerThread = 200;

class JournalConcurrencyTest : public JournalTest {};

TEST_F(JournalConcurrencyTest, ThreadsOnTheirOwnRunsLoseAndDuplicateNothing) {
  auto j = OpenOrDie();
  std::vector<RunId> runs(kThreads);
  for (auto& r : runs) r = RunId::New();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        const std::string text = std::to_string(t) + ":" + std::to_string(i);
        if (!j->Append(runs[t], static_cast<std::uint64_t>(i), {ToBytes(text)}).has_value()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    const auto texts = RunTexts(*j, runs[t]);
    ASSERT_EQ(texts.size(), static_cast<std::size_t>(kAppendsPerThread));
    for (int i = 0; i < kAppendsPerThread; ++i) EXPECT_EQ(texts[i], std::to_string(t) + ":" + std::to_string(i));
  }
  EXPECT_EQ(*j->VerifyAll(), static_cast<std::uint64_t>(kThreads * kAppendsPerThread));
  EXPECT_LT(j->stats().commits, j->stats().appends) << "group commit never grouped";
}

TEST_F(JournalConcurrencyTest, ContendedRunAcceptsExactlyOneAppendPerSeq) {
  auto j = OpenOrDie();
  std::atomic<int> successes{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread / 4; ++i) {
        const auto head = j->Head(a_);
        const std::uint64_t at = head.has_value() ? head->seq : 0;
        const std::string text = std::to_string(t) + ":" + std::to_string(i);
        const auto r = j->Append(a_, at, {ToBytes(text)});
        if (r.has_value()) {
          ++successes;
        } else if (r.error().code() == Code::kConflict) {
          ++conflicts;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(successes + conflicts, kThreads * (kAppendsPerThread / 4));
  const auto texts = RunTexts(*j, a_);
  EXPECT_EQ(texts.size(), static_cast<std::size_t>(successes.load()));
  EXPECT_EQ(std::set<std::string>(texts.begin(), texts.end()).size(), texts.size());
  EXPECT_THAT(j->VerifyRun(a_), IsOk());
}

TEST_F(JournalConcurrencyTest, ReadersSeeConsistentSnapshotsWhileWritersAppend) {
  auto j = OpenOrDie();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::uint64_t i = 0; i < 500; ++i) ASSERT_THAT(j->Append(a_, i, Payloads({"e"})), IsOk());
    done = true;
  });
  int checks = 0;
  while (!done || checks == 0) {
    EXPECT_THAT(j->VerifyAll(), IsOk());
    ++checks;
  }
  writer.join();
  EXPECT_EQ(*j->VerifyAll(), 500u);
}

}  // namespace
}  // namespace rwd::test
