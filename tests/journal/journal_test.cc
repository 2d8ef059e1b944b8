#include "rewind/journal/journal.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <atomic>
#include <future>
#include <map>
#include <mutex>

#include <lmdb.h>

#include <chrono>
#include <thread>

#include "rewind/journal/tables.h"
#include "tests/journal/journal_fixture.h"
#include "tests/journal/raw_store.h"

namespace rwd::test {
namespace {

TEST_F(JournalTest, AppendThenReadRunReturnsEventsInOrder) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"one", "two"})), IsOk());
  ASSERT_THAT(j->Append(a_, 2, Payloads({"three"})), IsOk());
  EXPECT_EQ(RunTexts(*j, a_), (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(JournalTest, AppendReportsSeqsPositionsAndHead) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(b_, 0, Payloads({"b1"})), IsOk());
  const auto r = j->Append(a_, 0, Payloads({"a1", "a2"}));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->first_seq, 1u);
  EXPECT_EQ(r->first_position, 2u);
  EXPECT_EQ(r->head.seq, 2u);
  EXPECT_EQ(*j->Head(a_), r->head);
}

TEST_F(JournalTest, NewRunMustBeExpectedAtSeqZero) {
  auto j = OpenOrDie();
  EXPECT_THAT(j->Append(a_, 1, Payloads({"x"})), HasCode(Code::kConflict));
  EXPECT_THAT(j->Head(a_), HasCode(Code::kNotFound));
}

TEST_F(JournalTest, StaleExpectedSeqIsAConflictAndWritesNothing) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"one"})), IsOk());
  const auto r = j->Append(a_, 0, Payloads({"late"}));
  ASSERT_THAT(r, HasCode(Code::kConflict));
  EXPECT_NE(r.error().message().find("is at seq 1"), std::string::npos) << r.error().message();
  EXPECT_EQ(RunTexts(*j, a_), (std::vector<std::string>{"one"}));
  EXPECT_EQ(*j->LastPosition(), 1u);
}

TEST_F(JournalTest, PositionsAreDenseAcrossRuns) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"a1"})), IsOk());
  ASSERT_THAT(j->Append(b_, 0, Payloads({"b1", "b2"})), IsOk());
  ASSERT_THAT(j->Append(a_, 1, Payloads({"a2"})), IsOk());
  std::vector<std::uint64_t> positions;
  ASSERT_THAT(j->ReadAll(1, Journal::kEnd, [&](const EventRecord& r) {
    positions.push_back(r.position);
    return Status::Ok();
  }), IsOk());
  EXPECT_EQ(positions, (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(JournalTest, ReadRunHonoursTheSeqRange) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"1", "2", "3", "4"})), IsOk());
  EXPECT_EQ(RunTexts(*j, a_, 2, 3), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(RunTexts(*j, a_, 4), (std::vector<std::string>{"4"}));
  EXPECT_TRUE(RunTexts(*j, a_, 5).empty());
}

TEST_F(JournalTest, ReadAllStartsAtTheGivenPositionAndStopsAtTheLimit) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"1", "2", "3", "4"})), IsOk());
  std::string seen;
  ASSERT_THAT(j->ReadAll(2, 3, [&](const EventRecord& r) {
    seen += AsChars(r.payload);
    return Status::Ok();
  }), IsOk());
  EXPECT_EQ(seen, "23");
}

TEST_F(JournalTest, VisitorErrorStopsTheReadAndIsReturned) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"1", "2"})), IsOk());
  int calls = 0;
  const Status s = j->ReadRun(a_, 1, Journal::kEnd, [&](const EventRecord&) {
    ++calls;
    return Status(Code::kInternal, "stop");
  });
  EXPECT_THAT(s, HasCode(Code::kInternal));
  EXPECT_EQ(calls, 1);
}

TEST_F(JournalTest, ReadOfUnknownRunIsNotFound) {
  auto j = OpenOrDie();
  EXPECT_THAT(j->ReadRun(a_, 1, Journal::kEnd, [](const EventRecord&) { return Status::Ok(); }),
              HasCode(Code::kNotFound));
}

TEST_F(JournalTest, ChainLinksEachEventToThePreviousOfItsRun) {
  auto j = OpenOrDie();
  const auto first = j->Append(a_, 0, Payloads({"one"}));
  ASSERT_THAT(j->Append(b_, 0, Payloads({"other run"})), IsOk());
  ASSERT_THAT(j->Append(a_, 1, Payloads({"two"})), IsOk());
  std::vector<Hash> prev;
  ASSERT_THAT(j->ReadRun(a_, 1, Journal::kEnd, [&](const EventRecord& r) {
    prev.push_back(r.prev_hash());
    return Status::Ok();
  }), IsOk());
  ASSERT_EQ(prev.size(), 2u);
  EXPECT_EQ(prev[0], Hash{});
  EXPECT_EQ(prev[1], first->head.hash);
}

TEST_F(JournalTest, ReopenKeepsEventsAndContinuesPositionsAndChains) {
  RunHead head;
  {
    auto j = OpenOrDie();
    head = j->Append(a_, 0, Payloads({"one"}))->head;
  }
  auto j = OpenOrDie();
  EXPECT_EQ(*j->Head(a_), head);
  const auto r = j->Append(a_, 1, Payloads({"two"}));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->first_position, 2u);
  EXPECT_THAT(j->VerifyAll(), IsOk());
}

TEST_F(JournalTest, MalformedAppendsAreInvalidArguments) {
  JournalOptions o = Options();
  o.max_payload_bytes = 8;
  auto j = OpenOrDie(o);
  EXPECT_THAT(j->Append(a_, 0, {}), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(j->Append(RunId(), 0, Payloads({"x"})), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(j->Append(a_, 0, Payloads({"123456789"})), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(j->Head(a_), HasCode(Code::kNotFound));
}

TEST_F(JournalTest, ForEachRunListsRunsWithTheirLastSeq) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"1", "2"})), IsOk());
  ASSERT_THAT(j->Append(b_, 0, Payloads({"1"})), IsOk());
  std::map<RunId, std::uint64_t> seen;
  ASSERT_THAT(j->ForEachRun([&](const RunId& run, std::uint64_t last) {
    seen[run] = last;
    return Status::Ok();
  }), IsOk());
  EXPECT_EQ(seen, (std::map<RunId, std::uint64_t>{{a_, 2}, {b_, 1}}));
}

TEST_F(JournalTest, StatsCountCommitsAppendsAndEvents) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"1", "2"})), IsOk());
  ASSERT_THAT(j->Append(a_, 2, Payloads({"3"})), IsOk());
  EXPECT_THAT(j->Append(a_, 0, Payloads({"x"})), HasCode(Code::kConflict));
  const JournalStats s = j->stats();
  EXPECT_EQ(s.appends, 2u);
  EXPECT_EQ(s.events, 3u);
  EXPECT_GE(s.commits, 2u);
}

TEST_F(JournalTest, InfoHoldsFormatVersionAndAStableEngineId) {
  std::string engine_id;
  {
    auto j = OpenOrDie();
    EXPECT_EQ(j->info().format_version, kJournalFormatVersion);
    engine_id = j->info().engine_id;
    EXPECT_EQ(engine_id.size(), 32u);
  }
  EXPECT_EQ(OpenOrDie()->info().engine_id, engine_id);
}

TEST_F(JournalTest, DurableAppendsAreReadableAfterReopen) {
  JournalOptions o = Options();
  o.durability = Durability::kDurable;
  {
    auto j = OpenOrDie(o);
    ASSERT_THAT(j->Append(a_, 0, Payloads({"durable"})), IsOk());
  }
  EXPECT_EQ(RunTexts(*OpenOrDie(o), a_), (std::vector<std::string>{"durable"}));
}

// ---------------------------------------------------------------- opening

TEST_F(JournalTest, ReadOnlyJournalRefusesAppends) {
  { auto j = OpenOrDie(); ASSERT_THAT(j->Append(a_, 0, Payloads({"x"})), IsOk()); }
  JournalOptions o = Options();
  o.read_only = true;
  auto j = OpenOrDie(o);
  EXPECT_THAT(j->Append(a_, 1, Payloads({"y"})), HasCode(Code::kFailedPrecondition));
  EXPECT_EQ(RunTexts(*j, a_), (std::vector<std::string>{"x"}));
}

TEST_F(JournalTest, ReadOnlyOpenOfMissingJournalIsNotFound) {
  JournalOptions o = Options();
  o.read_only = true;
  EXPECT_THAT(Journal::Open(o), HasCode(Code::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(o.directory));
}

// A writer creating a journal has an empty LMDB environment until its first
// commit: a reader beside it finds no journal yet, never a foreign one.
TEST_F(JournalTest, AReadOnlyOpenOfAnEnvironmentBeingCreatedFindsNoJournalYet) {
  JournalOptions o = Options();
  std::filesystem::create_directories(o.directory);
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), MDB_SUCCESS);
  ASSERT_EQ(mdb_env_open(env, o.directory.c_str(), 0, 0644), MDB_SUCCESS);
  mdb_env_close(env);
  o.read_only = true;
  const auto opened = Journal::Open(o);
  EXPECT_THAT(opened, HasCode(Code::kNotFound));
  EXPECT_NE(opened.error().message().find("not committed yet"), std::string::npos) << opened.error().ToString();
}

// A tailer waits for commits instead of polling: woken by the commit, or
// back at its deadline with nothing new.
TEST_F(JournalTest, WaitForPositionWakesAtTheCommitOrReturnsAtTheDeadline) {
  auto j = OpenOrDie();
  ASSERT_TRUE(j->Append(a_, 0, Payloads({"x"})).has_value());
  const auto start = std::chrono::steady_clock::now();
  auto none = j->WaitForPosition(1, start + std::chrono::milliseconds(50));
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(j->Append(a_, 1, Payloads({"y", "z"})).has_value());
  });
  const auto waited_from = std::chrono::steady_clock::now();
  auto woken = j->WaitForPosition(1, waited_from + std::chrono::seconds(30));
  appender.join();
  ASSERT_TRUE(woken.has_value());
  EXPECT_EQ(*woken, 3u);
  EXPECT_LT(std::chrono::steady_clock::now() - waited_from, std::chrono::seconds(5)) << "woken by the commit";
  EXPECT_EQ(*j->WaitForPosition(0, std::chrono::steady_clock::now()), 3u) << "already past: at once";
}

TEST_F(JournalTest, SecondOpenInTheSameProcessIsRefused) {
  auto first = OpenOrDie();
  const auto second = Journal::Open(Options());
  ASSERT_THAT(second, HasCode(Code::kFailedPrecondition));
  EXPECT_NE(second.error().message().find("already open in this process"), std::string::npos);
  JournalOptions ro = Options();
  ro.read_only = true;
  EXPECT_THAT(Journal::Open(ro), HasCode(Code::kFailedPrecondition)) << "LMDB allows one environment per process";
}

TEST_F(JournalTest, ReadOnlyJournalCannotSync) {
  OpenOrDie().reset();
  JournalOptions ro = Options();
  ro.read_only = true;
  EXPECT_THAT(OpenOrDie(ro)->Sync(), HasCode(Code::kFailedPrecondition));
}

TEST_F(JournalTest, AppendsFromCallbacksDuringCloseAreStillWritten) {
  std::atomic<int> ok{0}, failed{0};
  {
    auto j = OpenOrDie();
    Journal* journal = j.get();
    for (int i = 0; i < 200; ++i) {
      const RunId run = RunId::New();
      j->AppendAsync(run, 0, Payloads({"first"}), [&, journal, run](Result<AppendResult> r) {
        if (!r.has_value()) return void(++failed);
        journal->AppendAsync(run, 1, Payloads({"second"}), [&](Result<AppendResult> r2) {
          r2.has_value() ? ++ok : ++failed;
        });
      });
    }
  }
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(failed.load(), 0);
}

// Large batches have their callbacks run by the completer thread, small ones
// by the writer: either way callbacks run in commit order, and an update's
// `done` runs after the callback of every append committed before it.
TEST_F(JournalTest, CallbacksRunInCommitOrderWhateverTheBatchSizes) {
  auto j = OpenOrDie();
  std::mutex mu;
  std::vector<std::uint64_t> called;  // positions, in the order their callbacks ran
  for (int round = 0; round < 40; ++round) {
    const int appends = round % 2 == 0 ? 200 : 1;
    for (int i = 0; i < appends; ++i) {
      j->AppendAsync(RunId::New(), 0, Payloads({"e"}), [&](Result<AppendResult> r) {
        ASSERT_TRUE(r.has_value()) << r.error().ToString();
        std::lock_guard lock(mu);
        called.push_back(r->first_position);
      });
    }
    std::uint64_t committed_before = 0;
    std::size_t called_then = 0;
    std::promise<void> updated;
    j->UpdateAsync(
        [&](WriteView& txn) -> Status {
          REWIND_ASSIGN_OR_RETURN(committed_before, txn.LastPosition());
          return Status::Ok();
        },
        [&](const Status& s) {
          EXPECT_THAT(s, IsOk());
          std::lock_guard lock(mu);
          called_then = called.size();
          updated.set_value();
        });
    updated.get_future().wait();
    EXPECT_GE(called_then, committed_before) << "round " << round;
  }
  j.reset();  // every callback has run once the journal is closed
  ASSERT_EQ(called.size(), 20u * 200u + 20u);
  for (std::size_t i = 0; i < called.size(); ++i) ASSERT_EQ(called[i], i + 1);
}

TEST_F(JournalTest, DamagedRunIndexIsCorruptionForTheWriterToo) {
  {
    auto j = OpenOrDie();
    ASSERT_THAT(j->Append(a_, 0, Payloads({"1"})), IsOk());
    ASSERT_THAT(j->Append(a_, 1, Payloads({"2"})), IsOk());  // a record of its own
  }
  RawStore(Options().directory).DeleteEvent(2);
  auto j = OpenOrDie();
  EXPECT_THAT(j->Append(a_, 2, Payloads({"3"})), HasCode(Code::kCorruption));
  EXPECT_THAT(j->Head(a_), HasCode(Code::kCorruption));
}

TEST_F(JournalTest, WriterCanReopenAfterTheFirstCloses) {
  OpenOrDie().reset();
  EXPECT_THAT(Journal::Open(Options()), IsOk());
}

TEST_F(JournalTest, UnknownFormatVersionIsRefusedWithBothVersions) {
  OpenOrDie().reset();
  RawStore(Options().directory).PutMeta("format_version", "7");
  const auto j = Journal::Open(Options());
  ASSERT_THAT(j, HasCode(Code::kFailedPrecondition));
  EXPECT_NE(j.error().message().find("format version 7"), std::string::npos) << j.error().message();
  EXPECT_NE(j.error().message().find("newer"), std::string::npos);
}

TEST_F(JournalTest, ForeignLmdbEnvironmentIsNotAJournal) {
  const std::string dir = Options().directory;
  std::filesystem::create_directories(dir);
  {
    MDB_env* env;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
    MDB_txn* txn;
    MDB_dbi dbi;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    MDB_val k{3, const_cast<char*>("key")}, v{3, const_cast<char*>("val")};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  EXPECT_THAT(Journal::Open(Options()), HasCode(Code::kFailedPrecondition));
}

TEST_F(JournalTest, GarbageDataFileIsReportedNotCrashedOn) {
  const std::string dir = Options().directory;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/data.mdb") << std::string(64 * 1024, 'x');
  const auto j = Journal::Open(Options());
  ASSERT_FALSE(j.has_value());
  EXPECT_THAT(j, HasCode(Code::kCorruption));
  EXPECT_NE(j.error().message().find("data.mdb"), std::string::npos) << j.error().message();
}

// LMDB's meta pages (pages 0 and 1) record the last page in use. A damaged
// one naming a page far beyond the map makes every read transaction report
// MDB_MAP_RESIZED however the map is resized: that is Corruption, at once.
TEST_F(JournalTest, AMetaPageNamingAPageBeyondAnyMapIsCorruptionNotAHang) {
  {
    auto j = OpenOrDie();
    ASSERT_THAT(j->Append(a_, 0, Payloads({"one"})), IsOk());
  }
  const std::string file = Options().directory + "/data.mdb";
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  // MDB_meta after the 16-byte page header: magic, version (4 each), address,
  // map size (8 each), two 48-byte database records, then mm_last_pg.
  constexpr std::size_t kLastPageHighByte = 16 + 4 + 4 + 8 + 8 + 2 * 48 + 7;
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    for (std::size_t meta = 0; meta < 2; ++meta) {
      f.seekp(static_cast<std::streamoff>(meta * page + kLastPageHighByte));
      f.put(0x10);
    }
  }
  JournalOptions read_only = Options();
  read_only.read_only = true;
  EXPECT_THAT(Journal::Open(read_only), HasCode(Code::kCorruption));
  EXPECT_FALSE(Journal::Open(Options()).has_value());
}

TEST_F(JournalTest, EmptyDirectoryOptionIsInvalid) {
  EXPECT_THAT(Journal::Open(JournalOptions{}), HasCode(Code::kInvalidArgument));
}

// ---------------------------------------------------------------- map size

TEST_F(JournalTest, JournalGrowsFarBeyondItsFirstPages) {
  auto j = OpenOrDie();
  const Bytes big(16 << 10, 0xab);
  for (std::uint64_t i = 0; i < 200; ++i) {
    ASSERT_THAT(j->Append(a_, i, {big}), IsOk()) << "append " << i;
  }
  EXPECT_THAT(j->VerifyAll(), IsOk());
}

TEST_F(JournalTest, MapAtItsLimitIsResourceExhaustedAndLosesNothing) {
  JournalOptions o = Options();
  o.max_map_bytes = 1 << 20;
  auto j = OpenOrDie(o);
  const Bytes big(16 << 10, 0xcd);
  std::uint64_t seq = 0;
  Result<AppendResult> r;
  while ((r = j->Append(a_, seq, {big})).has_value()) ++seq;
  EXPECT_THAT(r, HasCode(Code::kResourceExhausted));
  EXPECT_GT(seq, 10u);
  EXPECT_EQ(j->Head(a_)->seq, seq);
  EXPECT_THAT(j->Append(b_, 0, Payloads({"small still fits"})), IsOk()) << "the journal is not poisoned";
  EXPECT_THAT(j->VerifyAll(), IsOk());
}

TEST_F(JournalTest, RequestThatDoesNotFitFailsAloneInItsBatch) {
  JournalOptions o = Options();
  o.max_map_bytes = 1 << 20;
  auto j = OpenOrDie(o);
  std::promise<Result<AppendResult>> small_a, small_b, huge;
  j->AppendAsync(a_, 0, Payloads({"a"}), [&](auto r) { small_a.set_value(std::move(r)); });
  j->AppendAsync(a_, 1, Payloads({"b"}), [&](auto r) { small_b.set_value(std::move(r)); });
  j->AppendAsync(b_, 0, {Bytes(4 << 20, 1)}, [&](auto r) { huge.set_value(std::move(r)); });
  EXPECT_THAT(huge.get_future().get(), HasCode(Code::kResourceExhausted));
  EXPECT_THAT(small_a.get_future().get(), IsOk());
  EXPECT_THAT(small_b.get_future().get(), IsOk()) << "not a false conflict with an unwritten batch-mate";
  EXPECT_EQ(j->Head(a_)->seq, 2u);
}

TEST_F(JournalTest, FullJournalAcceptsAppendsAgainWithALargerLimit) {
  JournalOptions o = Options();
  o.max_map_bytes = 1 << 20;
  std::uint64_t seq = 0;
  {
    auto j = OpenOrDie(o);
    while (j->Append(a_, seq, {Bytes(16 << 10, 1)}).has_value()) ++seq;
  }
  o.max_map_bytes = 4 << 20;
  auto j = OpenOrDie(o);
  EXPECT_THAT(j->Append(a_, seq, {Bytes(16 << 10, 1)}), IsOk());
}

TEST_F(JournalTest, OutOfRangeLimitsAreInvalidArguments) {
  JournalOptions o = Options();
  o.max_map_bytes = 4096;
  EXPECT_THAT(Journal::Open(o), HasCode(Code::kInvalidArgument));
  o = Options();
  o.max_payload_bytes = kMaxPayloadBytesLimit + 1;
  EXPECT_THAT(Journal::Open(o), HasCode(Code::kInvalidArgument));
}

// ---------------------------------------------------------------- faults

TEST_F(JournalTest, FailedCommitPoisonsTheJournalWithItsCause) {
  JournalOptions o = Options();
  int commits = 0;
  o.fault_hook = [&](FaultPoint p) {
    if (p == FaultPoint::kBeforeCommit && ++commits == 2) return Status(Code::kUnavailable, "EIO injected");
    return Status::Ok();
  };
  auto j = OpenOrDie(o);
  ASSERT_THAT(j->Append(a_, 0, Payloads({"kept"})), IsOk());
  EXPECT_THAT(j->Append(a_, 1, Payloads({"lost"})), HasCode(Code::kUnavailable));
  const auto later = j->Append(b_, 0, Payloads({"refused"}));
  ASSERT_THAT(later, HasCode(Code::kUnavailable));
  EXPECT_NE(later.error().message().find("EIO injected"), std::string::npos);
  j.reset();
  auto reopened = OpenOrDie();
  EXPECT_EQ(RunTexts(*reopened, a_), (std::vector<std::string>{"kept"}));
  EXPECT_THAT(reopened->Head(b_), HasCode(Code::kNotFound));
}

TEST_F(JournalTest, CommitReportedFailedAfterItWasDurableKeepsTheEvent) {
  JournalOptions o = Options();
  o.fault_hook = [](FaultPoint p) {
    return p == FaultPoint::kAfterCommit ? Status(Code::kUnavailable, "lost ack") : Status::Ok();
  };
  {
    auto j = OpenOrDie(o);
    EXPECT_THAT(j->Append(a_, 0, Payloads({"maybe"})), HasCode(Code::kUnavailable));
  }
  EXPECT_EQ(RunTexts(*OpenOrDie(), a_), (std::vector<std::string>{"maybe"}));
}

// ---------------------------------------------------------------- tampering

TEST_F(JournalTest, FlippedByteIsCorruptionNamingThePosition) {
  {
    auto j = OpenOrDie();
    ASSERT_THAT(j->Append(a_, 0, Payloads({"one"})), IsOk());
    ASSERT_THAT(j->Append(a_, 1, Payloads({"two"})), IsOk());
  }
  {
    RawStore raw(Options().directory);
    Bytes stored = raw.GetEvent(2).value();
    stored.back() ^= 0x01;
    raw.PutEvent(2, stored);
  }
  auto j = OpenOrDie();
  const Status s = j->ReadRun(a_, 1, Journal::kEnd, [](const EventRecord&) { return Status::Ok(); });
  ASSERT_THAT(s, HasCode(Code::kCorruption));
  EXPECT_NE(s.message().find("position 2"), std::string::npos) << s.message();
}

TEST_F(JournalTest, RewrittenEventWithValidChecksumBreaksTheChain) {
  {
    auto j = OpenOrDie();
    ASSERT_THAT(j->Append(a_, 0, Payloads({"pay 10"})), IsOk());
    ASSERT_THAT(j->Append(a_, 1, Payloads({"next"})), IsOk());
  }
  {
    RawStore raw(Options().directory);
    Bytes stored = raw.GetEvent(1).value();
    stored.back() = '9';  // "pay 19"
    ResealRecord(&stored);
    raw.PutEvent(1, stored);
  }
  auto j = OpenOrDie();
  const auto r = j->VerifyRun(a_);
  ASSERT_THAT(r, HasCode(Code::kCorruption));
  EXPECT_NE(r.error().message().find("seq 2"), std::string::npos) << r.error().message();
  EXPECT_THAT(j->VerifyAll(), HasCode(Code::kCorruption));
}

TEST_F(JournalTest, DeletedEventIsFoundByVerifyAll) {
  {
    auto j = OpenOrDie();
    for (std::uint64_t seq = 0; seq < 3; ++seq) ASSERT_THAT(j->Append(a_, seq, Payloads({"event"})), IsOk());
  }
  RawStore(Options().directory).DeleteEvent(2);
  const auto r = OpenOrDie()->VerifyAll();
  ASSERT_THAT(r, HasCode(Code::kCorruption));
  EXPECT_NE(r.error().message().find("position 2"), std::string::npos) << r.error().message();
}

TEST_F(JournalTest, VerifyAllCountsEveryEvent) {
  auto j = OpenOrDie();
  ASSERT_THAT(j->Append(a_, 0, Payloads({"1", "2"})), IsOk());
  ASSERT_THAT(j->Append(b_, 0, Payloads({"1"})), IsOk());
  EXPECT_EQ(*j->VerifyAll(), 3u);
}

}  // namespace
}  // namespace rwd::test
