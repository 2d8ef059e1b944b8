// SIGKILL a process that appends durably, at random moments, many times; after
// each kill reopen and check: every acknowledged event is there with its
// payload, seqs and positions have no gaps, and every hash chain verifies.
// A read-only reader in this process also checks the journal while the child
// writes. The random schedule comes from a printed seed (REWIND_CRASH_SEED
// reproduces a run; REWIND_CRASH_ROUNDS sets the number of kills).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "rewind/journal/journal.h"
#include "tests/support/child_process.h"
#include "tests/support/kill_schedule.h"
#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

struct Acked {
  std::map<std::string, std::uint64_t> last_seq;  // run hex -> highest acknowledged seq
  std::uint64_t events = 0;

  void Add(const std::string& line) {
    std::istringstream in(line);
    std::string word, run;
    std::uint64_t first = 0, count = 0;
    in >> word >> run >> first >> count;
    ASSERT_EQ(word, "ack") << line;
    auto& last = last_seq[run];
    last = std::max(last, first + count - 1);
    events += count;
  }
};

// Everything a reopened journal must show after any crash.
void CheckSurvivors(const std::string& dir, const Acked& acked) {
  JournalOptions o;
  o.directory = dir;
  auto j = Journal::Open(o);
  ASSERT_THAT(j, IsOk());
  ASSERT_THAT((*j)->VerifyAll(), IsOk());
  for (const auto& [hex, last] : acked.last_seq) {
    const RunId run = *RunId::Parse(hex);
    std::uint64_t seq = 0;
    ASSERT_THAT((*j)->ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& r) {
      ++seq;
      EXPECT_EQ(AsChars(r.payload), hex + ":" + std::to_string(r.seq));
      return Status::Ok();
    }), IsOk());
    EXPECT_GE(seq, last) << "run " << hex << " lost acknowledged events";
  }
}

// Reads the writer child's lines until it has acknowledged an append.
std::vector<std::string> AwaitFirstAck(ChildProcess& child) {
  std::vector<std::string> lines;
  while (lines.empty() && child.ReadLines(2000, &lines)) {
  }
  EXPECT_FALSE(lines.empty()) << "the child never acknowledged an append";
  return lines;
}

TEST(JournalCrashTest, AcknowledgedEventsSurviveSigkillAtRandomMoments) {
  KillSchedule schedule("REWIND_CRASH", 30);
  const std::uint64_t rounds = schedule.rounds();
  std::mt19937_64& rng = schedule.rng();
  TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  Acked acked;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::string> lines;
    {
      ChildProcess child("journal_crash_child", {dir});
      // Most rounds kill while appends flow; some kill during start-up.
      const bool early = rng() % 5 == 0;
      const auto delay = std::chrono::microseconds(rng() % (early ? 3000 : 30000));
      if (!early) {
        while (lines.empty() && child.ReadLines(2000, &lines)) {
        }
        ASSERT_FALSE(lines.empty()) << "the child never acknowledged an append";
        if (round % 3 == 0) {  // a reader process-mate checks the live journal
          JournalOptions ro;
          ro.directory = dir;
          ro.read_only = true;
          auto reader = Journal::Open(ro);
          ASSERT_THAT(reader, IsOk());
          EXPECT_THAT((*reader)->VerifyAll(), IsOk());
        }
      }
      const auto until = std::chrono::steady_clock::now() + delay;
      while (std::chrono::steady_clock::now() < until) child.ReadLines(1, &lines);
      child.KillAndDrain(&lines);
    }
    for (const auto& line : lines) acked.Add(line);
    CheckSurvivors(dir, acked);
    if (HasFatalFailure()) return;
  }
  std::printf("survived %llu kills with %llu acknowledged events, none lost\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(acked.events));
  EXPECT_GT(acked.events, rounds);
}

// LMDB rewrites its meta pages in place as it commits, so a structure check
// that read them apart from its snapshot took a healthy journal beside a live
// writer for a damaged one (a commit between the snapshot and the read).
TEST(JournalCrashTest, AStructureCheckBesideALiveWriterNeverReportsDamage) {
  TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  ChildProcess child("journal_crash_child", {dir, "nosync"});
  std::vector<std::string> lines = AwaitFirstAck(child);
  ASSERT_FALSE(lines.empty());
  JournalOptions ro;
  ro.directory = dir;
  ro.read_only = true;
  auto reader = Journal::Open(ro);
  ASSERT_THAT(reader, IsOk());
  const char* races = std::getenv("REWIND_RACES");  // default 1,000; the sanitizer suites run fewer
  const int kChecks = races != nullptr ? std::atoi(races) : 1000;
  const std::uint64_t first = (*reader)->LastPosition().value_or(0);
  int damaged = 0;
  for (int i = 0; i < kChecks; ++i) {
    const auto report = (*reader)->CheckStructure();
    if (!report.has_value()) {
      ADD_FAILURE() << "check " << i << ": " << report.error().ToString();
      if (++damaged == 5) break;
    }
    lines.clear();
    child.ReadLines(0, &lines);  // keeps the writer's pipe from filling up
  }
  const std::uint64_t last = (*reader)->LastPosition().value_or(0);
  child.KillAndDrain(&lines);
  std::printf("%d structure checks while the writer appended events %llu..%llu\n", kChecks,
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(last));
  EXPECT_GT(last, first) << "the writer was not committing during the checks";
}

// The lock is the journal directory's own: removing rewind.lock (which only
// names the holder) under a live writer does not let a second one in.
TEST(JournalCrashTest, RemovingTheLockFileDoesNotLetASecondWriterIn) {
  TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  ChildProcess child("journal_crash_child", {dir});
  std::vector<std::string> lines = AwaitFirstAck(child);
  ASSERT_FALSE(lines.empty());
  ASSERT_TRUE(std::filesystem::remove(dir + "/rewind.lock"));
  JournalOptions o;
  o.directory = dir;
  EXPECT_THAT(Journal::Open(o), HasCode(Code::kUnavailable));
  child.KillAndDrain(&lines);
  EXPECT_THAT(Journal::Open(o), IsOk()) << "the lock dies with its holder";
}

TEST(JournalCrashTest, SecondWriterProcessIsRefusedWithTheHoldersPid) {
  TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  ChildProcess child("journal_crash_child", {dir});
  std::vector<std::string> lines = AwaitFirstAck(child);
  ASSERT_FALSE(lines.empty());
  JournalOptions o;
  o.directory = dir;
  const auto second = Journal::Open(o);
  ASSERT_THAT(second, HasCode(Code::kUnavailable));
  EXPECT_NE(second.error().message().find("another process (pid "), std::string::npos) << second.error().message();
  child.KillAndDrain(&lines);
  EXPECT_THAT(Journal::Open(o), IsOk()) << "the lock dies with its holder";
}

}  // namespace
}  // namespace rwd::test
