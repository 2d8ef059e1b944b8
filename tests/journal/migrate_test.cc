// MigrateJournal: a format-1 journal becomes format 2 with every event,
// chain hash, head and table as it was; a damaged one is refused untouched;
// and a migration killed (SIGKILL) at any moment leaves the old journal or
// the complete new one.
#include "rewind/journal/migrate.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rewind/journal/hash.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "tests/journal/raw_store.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

namespace fs = std::filesystem;

// The blobs WriteFormat1 stores (a build of schema version 2 stores the
// definitions its events name in any journal it writes).
const std::vector<std::string> kBlobs = {"definition one", "definition two"};

// What a journal holds, as readers see it: every event with its hashes, every
// run's head, the test table's entries, the blobs.
struct Contents {
  std::vector<std::tuple<std::uint64_t, RunId, std::uint64_t, std::string, Hash, Hash>> events;
  std::map<RunId, RunHead> heads;
  std::map<std::string, std::string> table;
  std::vector<std::string> blobs;
  friend bool operator==(const Contents&, const Contents&) = default;
};

Contents Read(Journal& j) {
  Contents c;
  EXPECT_TRUE(j.ReadAll(1, Journal::kEnd, [&](const EventRecord& r) {
    c.events.emplace_back(r.position, r.run, r.seq, std::string(AsChars(r.payload)), r.prev_hash(), r.hash());
    return Status::Ok();
  }).ok());
  EXPECT_TRUE(j.ForEachRun([&](const RunId& run, std::uint64_t) {
    c.heads[run] = j.Head(run).value();
    return Status::Ok();
  }).ok());
  EXPECT_TRUE(j.View([&](const ReadView& v) -> Status {
    for (const std::string& blob : kBlobs) {
      REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> found, v.Blob(Sha256(AsBytes(blob))));
      if (found) c.blobs.emplace_back(AsChars(*found));
    }
    return Status::Ok();
  }).ok());
  auto table = j.OpenTable("notes");
  if (table.has_value()) {
    EXPECT_TRUE(j.View([&](const ReadView& v) -> Status {
      REWIND_ASSIGN_OR_RETURN(TableCursor cursor, v.Cursor(*table));
      for (auto at = cursor.First(); at.has_value() && *at; at = cursor.Next()) {
        c.table[std::string(AsChars(cursor.key()))] = std::string(AsChars(cursor.value()));
      }
      return Status::Ok();
    }).ok());
  }
  return c;
}

class MigrateTest : public ::testing::Test {
 protected:
  JournalOptions Options(std::uint32_t format = kJournalFormatVersion) const {
    JournalOptions o;
    o.directory = dir_.Sub("journal");
    o.durability = Durability::kNoSync;
    o.new_format_version = format;
    return o;
  }

  // A format-1 journal: `runs` runs appended to in interleaved appends of
  // one to three events, and a table.
  Contents WriteFormat1(int runs, int appends) {
    auto j = Journal::Open(Options(1)).value();
    std::mt19937 rng(7);
    std::vector<RunId> ids(runs);
    std::vector<std::uint64_t> seqs(runs, 0);
    for (auto& id : ids) id = RunId::New();
    for (int i = 0; i < appends; ++i) {
      const int r = static_cast<int>(rng() % runs);
      std::vector<Bytes> payloads;
      for (unsigned k = 0; k <= rng() % 3; ++k) {
        payloads.push_back(ToBytes("event " + std::to_string(i) + "." + std::to_string(k) + std::string(rng() % 200, 'x')));
      }
      const std::size_t n = payloads.size();
      EXPECT_TRUE(j->Append(ids[r], seqs[r], std::move(payloads)).has_value());
      seqs[r] += n;
    }
    for (const std::string& blob : kBlobs) EXPECT_TRUE(j->PutBlob(AsBytes(blob)).has_value());
    auto table = j->OpenTable("notes").value();
    EXPECT_TRUE(j->Update([&](WriteView& w) -> Status {
      for (int i = 0; i < 50; ++i) REWIND_RETURN_IF_ERROR(w.Put(table, AsBytes("k" + std::to_string(i)), AsBytes("v")));
      return Status::Ok();
    }).ok());
    EXPECT_EQ(j->info().format_version, 1u);
    return Read(*j);
  }

  TempDir dir_;
};

TEST_F(MigrateTest, AFormat1JournalBecomesFormat2WithEveryEventHashHeadAndTable) {
  const Contents before = WriteFormat1(20, 400);
  std::string engine_id;
  {
    auto j = Journal::Open(Options()).value();
    engine_id = j->info().engine_id;
  }
  const auto report = MigrateJournal({.directory = Options().directory});
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->from_version, 1u);
  EXPECT_EQ(report->to_version, 2u);
  EXPECT_EQ(report->events, before.events.size());
  EXPECT_EQ(report->runs, before.heads.size());
  EXPECT_LT(report->records, report->events) << "consecutive events of a run share a record";
  EXPECT_LT(report->new_bytes, report->old_bytes);
  ASSERT_TRUE(fs::exists(report->kept));

  auto j = Journal::Open(Options()).value();
  EXPECT_EQ(j->info().format_version, 2u);
  EXPECT_EQ(j->info().engine_id, engine_id);
  EXPECT_EQ(Read(*j), before);
  EXPECT_EQ(before.blobs, kBlobs);
  EXPECT_EQ(j->VerifyAll().value(), before.events.size());
  // It goes on: an append to a migrated run chains to its head.
  const auto& [run, head] = *before.heads.begin();
  ASSERT_TRUE(j->Append(run, head.seq, {ToBytes("after")}).has_value());
  EXPECT_EQ(j->VerifyRun(run).value().seq, head.seq + 1);
  j.reset();

  // Migrating again does nothing but remove what a killed one left; the
  // kept file is the old journal.
  fs::create_directories(Options().directory + "/migrating");
  const auto again = MigrateJournal({.directory = Options().directory});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->from_version, again->to_version);
  EXPECT_FALSE(fs::exists(Options().directory + "/migrating"));
  const std::string old_dir = dir_.Sub("old");
  fs::create_directories(old_dir);
  fs::copy_file(report->kept, old_dir + "/data.mdb");
  JournalOptions o = Options();
  o.directory = old_dir;
  o.read_only = true;
  auto old = Journal::Open(o).value();
  EXPECT_EQ(old->info().format_version, 1u);
  EXPECT_EQ(Read(*old).events, before.events);
}

TEST_F(MigrateTest, ADamagedJournalIsRefusedAndLeftAsItWas) {
  WriteFormat1(5, 50);
  {
    RawStore raw(Options().directory);
    Bytes stored = raw.GetEvent(10).value();
    stored[stored.size() - 1] ^= 1;
    raw.PutEvent(10, stored);
  }
  const std::string data = Options().directory + "/data.mdb";
  const auto size = fs::file_size(data);
  const auto migrated = MigrateJournal({.directory = Options().directory});
  ASSERT_FALSE(migrated.has_value());
  EXPECT_EQ(migrated.error().code(), Code::kCorruption) << migrated.error().ToString();
  EXPECT_NE(migrated.error().message().find("position 10"), std::string::npos) << migrated.error().ToString();
  EXPECT_EQ(fs::file_size(data), size);
  EXPECT_FALSE(fs::exists(Options().directory + "/migrating"));
  EXPECT_EQ(Journal::Open(Options()).value()->info().format_version, 1u);
}

TEST_F(MigrateTest, ADamagedRunIndexIsRefusedToo) {
  const Contents before = WriteFormat1(2, 10);
  const auto& [run, head] = *before.heads.begin();
  {
    auto j = Journal::Open(Options()).value();
    std::uint64_t position = 0;
    ASSERT_TRUE(j->ReadRun(run, head.seq, head.seq, [&](const EventRecord& r) {
      position = r.position;
      return Status::Ok();
    }).ok());
    j.reset();
    RawStore(Options().directory).DeleteRunEntry(run, head.seq, position);  // the run's head entry
  }
  const auto migrated = MigrateJournal({.directory = Options().directory});
  ASSERT_FALSE(migrated.has_value());
  EXPECT_EQ(migrated.error().code(), Code::kCorruption) << migrated.error().ToString();
  EXPECT_FALSE(fs::exists(Options().directory + "/migrating")) << "a failed migration leaves no work behind";
  EXPECT_EQ(Journal::Open(Options()).value()->info().format_version, 1u);
}

TEST_F(MigrateTest, AJournalOpenInAnotherProcessIsNotMigratedEvenWhileItsReaderIsIdle) {
  WriteFormat1(3, 30);
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    JournalOptions o = Options();
    o.read_only = true;
    auto j = Journal::Open(o);
    char c = j.has_value() ? 'r' : 'x';
    (void)!write(ready[1], &c, 1);
    (void)!read(go[0], &c, 1);  // open, reading nothing, until told
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'r');
  const auto migrated = MigrateJournal({.directory = Options().directory});
  ASSERT_EQ(write(go[1], "g", 1), 1);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_FALSE(migrated.has_value());
  EXPECT_EQ(migrated.error().code(), Code::kUnavailable) << migrated.error().ToString();
  EXPECT_EQ(Journal::Open(Options()).value()->info().format_version, 1u);
  // Once it is closed, the migration goes ahead.
  EXPECT_TRUE(MigrateJournal({.directory = Options().directory}).has_value());
}

TEST_F(MigrateTest, AJournalHeldByAWriterIsNotMigrated) {
  WriteFormat1(2, 10);
  auto j = Journal::Open(Options()).value();
  const auto migrated = MigrateJournal({.directory = Options().directory});
  ASSERT_FALSE(migrated.has_value());
  EXPECT_EQ(migrated.error().code(), Code::kUnavailable);
  EXPECT_EQ(MigrateJournal({.directory = dir_.Sub("nothing")}).error().code(), Code::kNotFound);
}

TEST_F(MigrateTest, AMigrationKilledAtAnyMomentLeavesTheOldJournalOrTheWholeNewOne) {
  const Contents before = WriteFormat1(200, 20'000);
  const std::string pristine = dir_.Sub("pristine");
  fs::create_directories(pristine);
  fs::copy_file(Options().directory + "/data.mdb", pristine + "/data.mdb");
  auto restore = [&] {
    fs::remove_all(Options().directory);
    fs::create_directories(Options().directory);
    fs::copy_file(pristine + "/data.mdb", Options().directory + "/data.mdb");
  };
  // Migrates in a child process, killed after `delay` (never, when nullopt);
  // its exit status.
  auto migrate_in_child = [&](std::optional<std::chrono::microseconds> delay) {
    const pid_t child = fork();
    if (child == 0) {
      const auto done = MigrateJournal({.directory = Options().directory});
      _exit(done.has_value() ? 0 : 1);
    }
    if (delay) {
      std::this_thread::sleep_for(*delay);
      kill(child, SIGKILL);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return status;
  };
  // How long a whole migration takes here, in a child: the kills land across it.
  restore();
  const auto t0 = std::chrono::steady_clock::now();
  const int whole_status = migrate_in_child(std::nullopt);
  ASSERT_TRUE(WIFEXITED(whole_status) && WEXITSTATUS(whole_status) == 0);
  const auto whole = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  std::map<std::uint32_t, int> seen;
  constexpr int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    restore();
    const auto delay = std::chrono::microseconds(rng() % (whole.count() * 12 / 10 + 1));
    const int status = migrate_in_child(delay);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "round " << round << ": the migration failed rather than being killed";
    {
      auto j = Journal::Open(Options());
      ASSERT_TRUE(j.has_value()) << "round " << round << " (killed after " << delay.count() << " us): "
                                 << j.error().ToString();
      ++seen[(*j)->info().format_version];
      ASSERT_EQ(Read(**j), before) << "round " << round;
      ASSERT_TRUE((*j)->VerifyAll().has_value());
    }
    // A migration after the kill completes it.
    ASSERT_TRUE(MigrateJournal({.directory = Options().directory}).has_value()) << "round " << round;
    auto j = Journal::Open(Options()).value();
    ASSERT_EQ(j->info().format_version, 2u);
    ASSERT_EQ(Read(*j), before);
  }
  std::printf("migrations killed: %d left format 1, %d format 2 (a whole one takes %lld us)\n", seen[1], seen[2],
              static_cast<long long>(whole.count()));
}

}  // namespace
}  // namespace rwd::test
