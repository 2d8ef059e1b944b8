// The journal on a failing disk. Each test makes one commit fail at every
// write and sync call LMDB makes for it, one call per case (io_faults.h): an
// I/O error, a torn write, a device that stays gone, a full disk. Every time
// the append fails with a clear error, the journal refuses further appends
// until it is reopened (or, for a full disk, until there is room), and after
// reopening every acknowledged event is there, the failed append is there
// whole or not at all, the hash chains verify, and appends work again.
//
// DiskFullOnARealSmallFilesystem does the same without injection: a journal on
// a tmpfs of a few MiB (small_filesystem.h; skipped when the test may not
// mount) fills up, and takes appends again once the filesystem grows.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/io_faults.h"
#include "tests/journal/journal_fixture.h"
#include "tests/support/small_filesystem.h"

namespace rwd::test {
namespace {

using io_faults::Mode;

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kFail: return "fail";
    case Mode::kTorn: return "torn";
    case Mode::kSticky: return "sticky";
  }
  return "?";
}

class JournalFaultTest : public JournalTest {
 protected:
  void TearDown() override { io_faults::Disarm(); }

  JournalOptions Durable() const {
    JournalOptions o = Options();
    o.durability = Durability::kDurable;
    return o;
  }

  // A fresh journal holding the acknowledged history: a_ "a1".."a3", b_ "b1" "b2".
  void WriteHistory() {
    std::filesystem::remove_all(Options().directory);
    auto j = OpenOrDie(Durable());
    ASSERT_TRUE(j);
    ASSERT_THAT(j->Append(a_, 0, Payloads({"a1", "a2"})), IsOk());
    ASSERT_THAT(j->Append(a_, 2, Payloads({"a3"})), IsOk());
    ASSERT_THAT(j->Append(b_, 0, Payloads({"b1", "b2"})), IsOk());
  }

  // After reopening: the history is intact, a_ holds "x1" "x2" after it or
  // nothing more, the chains verify, and an append and a second reopen work.
  void ExpectRecovered(const std::string& label) {
    SCOPED_TRACE(label);
    {
      auto j = OpenOrDie(Durable());
      ASSERT_TRUE(j);
      EXPECT_THAT(j->VerifyAll(), IsOk());
      const std::vector<std::string> a = RunTexts(*j, a_);
      const std::vector<std::string> kept{"a1", "a2", "a3"}, whole{"a1", "a2", "a3", "x1", "x2"};
      EXPECT_TRUE(a == kept || a == whole) << "a_ holds " << a.size() << " events";
      EXPECT_EQ(RunTexts(*j, b_), (std::vector<std::string>{"b1", "b2"}));
      EXPECT_THAT(j->Append(b_, 2, Payloads({"after"})), IsOk());
    }
    auto j = OpenOrDie(Durable());
    ASSERT_TRUE(j);
    EXPECT_THAT(j->VerifyAll(), IsOk());
    EXPECT_EQ(RunTexts(*j, b_).back(), "after");
  }
};

// EIO at each call of a commit, written as nothing, as half, or as a device
// that is gone: the journal is poisoned with the cause, and reopening recovers.
TEST_F(JournalFaultTest, IoErrorAtEveryWriteAndSyncOfACommitLosesNothingAcknowledged) {
  int cases = 0;
  for (Mode mode : {Mode::kFail, Mode::kTorn, Mode::kSticky}) {
    for (std::uint64_t k = 1;; ++k) {
      const std::string label = std::string(ModeName(mode)) + " at call " + std::to_string(k);
      SCOPED_TRACE(label);
      ASSERT_NO_FATAL_FAILURE(WriteHistory());
      {
        auto j = OpenOrDie(Durable());
        ASSERT_TRUE(j);
        io_faults::Arm({dir_.path(), k, mode, EIO});
        const auto r = j->Append(a_, 3, Payloads({"x1", "x2"}));
        if (!io_faults::Fired()) {  // the commit made fewer than k calls: every one has failed once
          EXPECT_THAT(r, IsOk());
          ASSERT_GT(k, 2u) << "a durable commit writes and syncs";
          break;
        }
        ++cases;
        ASSERT_THAT(r, HasCode(Code::kUnavailable));
        EXPECT_NE(r.error().message().find(std::strerror(EIO)), std::string::npos) << r.error().message();
        io_faults::Disarm();
        const auto later = j->Append(b_, 2, Payloads({"refused"}));
        ASSERT_THAT(later, HasCode(Code::kUnavailable)) << "poisoned until reopened";
        EXPECT_NE(later.error().message().find(std::strerror(EIO)), std::string::npos)
            << "carries the first cause: " << later.error().message();
      }
      ExpectRecovered(label);
    }
  }
  std::printf("I/O errors injected at %d calls of a commit: nothing acknowledged lost\n", cases);
}

// ENOSPC at each call of a commit: ResourceExhausted naming the full disk.
// When LMDB could abandon the transaction cleanly (its data pages), the same
// journal takes appends again once there is room; when the meta page write
// failed LMDB refuses the environment (MDB_PANIC) and a reopen recovers.
TEST_F(JournalFaultTest, DiskFullAtEveryWriteOfACommitIsResourceExhaustedAndWorkContinues) {
  int continued = 0, reopened = 0;
  for (std::uint64_t k = 1;; ++k) {
    const std::string label = "ENOSPC at call " + std::to_string(k);
    SCOPED_TRACE(label);
    ASSERT_NO_FATAL_FAILURE(WriteHistory());
    {
      auto j = OpenOrDie(Durable());
      ASSERT_TRUE(j);
      io_faults::Arm({dir_.path(), k, Mode::kFail, ENOSPC});
      const auto r = j->Append(a_, 3, Payloads({"x1", "x2"}));
      if (!io_faults::Fired()) {
        EXPECT_THAT(r, IsOk());
        break;
      }
      ASSERT_THAT(r, HasCode(Code::kResourceExhausted));
      EXPECT_NE(r.error().message().find(std::strerror(ENOSPC)), std::string::npos) << r.error().message();
      io_faults::Disarm();
      const auto retry = j->Append(a_, 3, Payloads({"x1", "x2"}));
      if (retry.has_value()) {
        ++continued;
      } else {
        ASSERT_THAT(retry, HasCode(Code::kUnavailable));
        EXPECT_NE(retry.error().message().find("MDB_PANIC"), std::string::npos) << retry.error().message();
        ++reopened;
      }
    }
    ExpectRecovered(label);
  }
  EXPECT_GT(continued, 0) << "a full disk while writing pages must not need a reopen";
  std::printf("disk full at %d calls: %d continued at once, %d after a reopen\n", continued + reopened, continued,
              reopened);
}

// Faults while the journal is created: the open fails clearly or succeeds,
// and a later open without faults gives a working, empty journal.
TEST_F(JournalFaultTest, IoErrorWhileCreatingTheJournalLeavesOneThatOpens) {
  for (std::uint64_t k = 1;; ++k) {
    SCOPED_TRACE("EIO at call " + std::to_string(k) + " of the creation");
    std::filesystem::remove_all(Options().directory);
    std::filesystem::create_directories(Options().directory);
    io_faults::Arm({dir_.path(), k, Mode::kFail, EIO});
    const bool opened = Journal::Open(Durable()).has_value();
    const bool fired = io_faults::Fired();
    io_faults::Disarm();
    if (!fired) {
      EXPECT_TRUE(opened);
      break;
    }
    auto j = OpenOrDie(Durable());
    ASSERT_TRUE(j);
    EXPECT_THAT(j->Head(a_), HasCode(Code::kNotFound));
    EXPECT_THAT(j->Append(a_, 0, Payloads({"first"})), IsOk());
    EXPECT_THAT(j->VerifyAll(), IsOk());
  }
}

// A real full filesystem: a tmpfs of 2 MiB.
TEST_F(JournalFaultTest, DiskFullOnARealSmallFilesystem) {
  auto fs = SmallFilesystem::Mount(dir_.Sub("small"), 2 << 20);
  if (!fs.has_value()) GTEST_SKIP() << fs.error().message();
  JournalOptions o = Durable();
  o.directory = fs->path() + "/journal";
  const Bytes event(8 << 10, 0x5a);
  std::uint64_t seq = 0;
  Result<AppendResult> r;
  {
    auto j = OpenOrDie(o);
    ASSERT_TRUE(j);
    while ((r = j->Append(a_, seq, {event})).has_value()) ++seq;
    ASSERT_THAT(r, HasCode(Code::kResourceExhausted));
    EXPECT_NE(r.error().message().find(std::strerror(ENOSPC)), std::string::npos) << r.error().message();
    EXPECT_GT(seq, 50u);
    EXPECT_EQ(j->Head(a_)->seq, seq);
    EXPECT_THAT(j->VerifyAll(), IsOk());

    ASSERT_THAT(fs->Resize(8 << 20), IsOk());
    for (int i = 0; i < 100; ++i, ++seq) ASSERT_THAT(j->Append(a_, seq, {event}), IsOk()) << "room again";
  }
  auto j = OpenOrDie(o);
  ASSERT_TRUE(j);
  EXPECT_THAT(j->VerifyAll(), IsOk());
  EXPECT_EQ(j->Head(a_)->seq, seq);
  std::printf("a 2 MiB filesystem filled at %llu events of 8 KiB; 100 more after it grew to 8 MiB\n",
              static_cast<unsigned long long>(seq - 100));
}

}  // namespace
}  // namespace rwd::test
