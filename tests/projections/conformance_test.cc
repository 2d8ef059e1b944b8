// The conformance suite every projection passes (run once per built-in
// projection, on a journal the executor model wrote):
//   * after each acknowledged append its checkpoint is the journal's last
//     position and names that event;
//   * its checkpoint only moves forward — inline, while catching up in
//     batches, and through a rebuild and its swap;
//   * applying from its checkpoint is idempotent: a table put back to an
//     earlier checkpoint catches up to exactly the table it had, and catching
//     up at the checkpoint changes nothing, across reopening too;
//   * rebuilding it leaves the other projections untouched;
//   * a missing or corrupt table (cleared, an unreadable header, another
//     version or configuration, a checkpoint past the end or naming another
//     event, two slots that both claim to be active) is never served and is
//     rebuilt to exactly what it was; a rebuild under way whose checkpoint
//     names no event of the journal is dropped.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/projections/projections_fixture.h"
#include "tests/support/random_history.h"

namespace rwd::test {
namespace {

using projections_internal::ReadSlotHeader;
using projections_internal::SlotHeader;
using projections_internal::SlotRole;
using projections_internal::SlotTableName;
using projections_internal::WriteSlotHeader;

// One fixed journal of the executor model: failures, retries, resumes, forks,
// approvals, signals, pauses and cancels over several runs and tenants.
const std::vector<HistoryAppend>& History() {
  static const std::vector<HistoryAppend> history = [] {
    HistoryOptions options;
    options.max_runs = 10;
    options.max_appends = 150;
    return GenHistory(options)(rc::Random(20261121), rc::kNominalSize).value();
  }();
  return history;
}

// The slots of one projection as stored: each slot's header and entries.
struct StoredSlots {
  SlotHeader headers[2];
  std::map<Bytes, Bytes> entries[2];
  int Active() const {
    for (int i = 0; i < 2; ++i) {
      if (headers[i].role == SlotRole::kActive) return i;
    }
    return -1;
  }
};

// Reads and writes the slots of one projection, `name()`.
class SlotsTest : public ProjectionsTest {
 protected:
  virtual const std::string& name() const = 0;

  void AppendHistory(std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) ASSERT_THAT(AppendToJournal(*journal_, History()[i]), IsOk());
  }

  Table SlotTable(int slot) {
    auto table = journal_->OpenTable(SlotTableName(name(), slot));
    EXPECT_TRUE(table.has_value()) << table.error().ToString();
    return *table;
  }

  StoredSlots Read() {
    StoredSlots out;
    const Table tables[2] = {SlotTable(0), SlotTable(1)};
    EXPECT_THAT(journal_->View([&](const ReadView& view) -> Status {
      for (int i = 0; i < 2; ++i) {
        REWIND_ASSIGN_OR_RETURN(out.headers[i], ReadSlotHeader(view, tables[i]));
        REWIND_ASSIGN_OR_RETURN(TableCursor c, view.Cursor(tables[i]));
        for (auto at = c.First(); at.has_value() && *at; at = c.Next()) {
          out.entries[i].emplace(Bytes(c.key().begin(), c.key().end()), Bytes(c.value().begin(), c.value().end()));
        }
      }
      return Status::Ok();
    }),
                IsOk());
    return out;
  }

  // Replaces both slots by `stored`, behind the projections' back.
  void Write(const StoredSlots& stored) {
    const Table tables[2] = {SlotTable(0), SlotTable(1)};
    ASSERT_THAT(journal_->Update([&](WriteView& w) -> Status {
      for (int i = 0; i < 2; ++i) {
        REWIND_RETURN_IF_ERROR(w.Clear(tables[i]));
        for (const auto& [key, value] : stored.entries[i]) REWIND_RETURN_IF_ERROR(w.Put(tables[i], key, value));
      }
      return Status::Ok();
    }),
                IsOk());
  }

  ProjectionStatus HealthOf(const std::string& projection) {
    for (ProjectionStatus& st : projections_->Health()) {
      if (st.name == projection) return st;
    }
    ADD_FAILURE() << "no projection " << projection;
    return {};
  }

  // A query served by the projection (snapshots serve StateAt, which never
  // depends on them being there).
  Status Query() {
    auto status = [](const auto& result) { return result.has_value() ? Status::Ok() : result.error(); };
    if (name() == "runs") return status(projections_->ListRuns(RunQuery{}));
    if (name() == "step_stats") return status(projections_->Stats());
    if (name() == "audit") return status(projections_->Audit(AuditQuery{}));
    return Status::Ok();
  }

  std::uint64_t LastPosition() { return *journal_->LastPosition(); }
};

class ConformanceTest : public SlotsTest, public ::testing::WithParamInterface<std::string> {
 protected:
  const std::string& name() const override { return GetParam(); }
};

TEST_P(ConformanceTest, IsCurrentAfterEveryAcknowledgedAppend) {
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < History().size(); ++i) {
    AppendHistory(i, i + 1);
    const StoredSlots slots = Read();
    ASSERT_GE(slots.Active(), 0);
    const SlotHeader& h = slots.headers[slots.Active()];
    ASSERT_EQ(h.checkpoint, LastPosition()) << "after append " << i;
    ASSERT_GT(h.checkpoint, previous);
    previous = h.checkpoint;
    std::uint64_t sum = 0;
    ASSERT_THAT(journal_->ReadAll(h.checkpoint, h.checkpoint,
                                  [&](const EventRecord& r) {
                                    sum = r.sum();
                                    return Status::Ok();
                                  }),
                IsOk());
    ASSERT_EQ(h.checkpoint_sum, sum) << "the checkpoint names another event";
  }
  EXPECT_EQ(HealthOf(name()).health, ProjectionHealth::kCurrent);
}

TEST_P(ConformanceTest, TheCheckpointOnlyMovesForward) {
  const std::size_t third = History().size() / 3;
  AppendHistory(0, third);
  projections_.reset();
  AppendHistory(third, 2 * third);
  ProjectionsOptions options = Opts();
  options.batch_events = 3;
  OpenAll(options);

  // Watch the headers while the projection catches up, is rebuilt and
  // swapped, and follows the appends that go on meanwhile: from a thread that
  // looks whenever it can, and after every step of the rebuild.
  std::mutex mu;
  std::uint64_t active = 0, building = 0;
  std::vector<std::string> backwards;
  std::size_t samples = 0;
  auto observe = [&] {
    std::lock_guard<std::mutex> lock(mu);  // one look at a time, so looks are in time order
    const StoredSlots s = Read();
    const std::uint64_t end = LastPosition();
    for (const SlotHeader& h : s.headers) {
      if (h.role == SlotRole::kEmpty) continue;
      if (h.checkpoint > end) backwards.push_back("checkpoint past the journal's end");
      std::uint64_t& seen = h.role == SlotRole::kActive ? active : building;
      if (h.checkpoint < seen) {
        backwards.push_back(std::string(h.role == SlotRole::kActive ? "active" : "building") + " went from " +
                            std::to_string(seen) + " to " + std::to_string(h.checkpoint));
      }
      seen = h.checkpoint;
    }
    ++samples;
  };
  std::atomic<bool> done = false;
  std::thread watcher([&] {
    while (!done) observe();
  });
  EXPECT_THAT(projections_->CatchUp(), IsOk());
  std::size_t appended = 2 * third;
  EXPECT_THAT(projections_->Rebuild(std::vector<std::string>{name()},
                                    [&](const RebuildProgress&) {
                                      observe();
                                      if (appended < History().size()) AppendHistory(appended, appended + 1), ++appended;
                                    }),
              IsOk());
  AppendHistory(appended, History().size());
  done = true;
  watcher.join();
  observe();
  EXPECT_THAT(backwards, testing::IsEmpty());
  EXPECT_GT(samples, 3u);
  const StoredSlots s = Read();
  ASSERT_GE(s.Active(), 0);
  EXPECT_EQ(s.headers[s.Active()].checkpoint, LastPosition());
  EXPECT_EQ(s.headers[1 - s.Active()], SlotHeader{});  // the old slot was emptied by the swap
}

TEST_P(ConformanceTest, ApplyingAgainFromAnEarlierCheckpointGivesTheSameTable) {
  const std::size_t half = History().size() / 2;
  AppendHistory(0, half);
  const StoredSlots earlier = Read();
  AppendHistory(half, History().size());
  const auto later = DumpAll();
  projections_.reset();

  Write(earlier);  // this projection back at its earlier checkpoint
  OpenAll(Opts());
  for (const ProjectionStatus& st : projections_->Health()) {
    EXPECT_EQ(st.health, st.name == name() ? ProjectionHealth::kBehind : ProjectionHealth::kCurrent) << st.name;
  }
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(DumpAll(), later);

  // At its checkpoint, catching up again (also after reopening) applies nothing.
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(DumpAll(), later);
  projections_.reset();
  journal_.reset();
  OpenAll(Opts());
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(DumpAll(), later);
  EXPECT_EQ(HealthOf(name()).health, ProjectionHealth::kCurrent);
}

TEST_P(ConformanceTest, RebuildingItLeavesTheOthersUntouched) {
  AppendHistory(0, History().size());
  const auto before = DumpAll();
  EXPECT_GT(before.at(name()).size(), 3u) << "the history leaves this projection nearly empty";
  ASSERT_THAT(projections_->Rebuild(std::vector<std::string>{name()}), IsOk());
  EXPECT_EQ(DumpAll(), before);
  for (const ProjectionStatus& st : projections_->Health()) EXPECT_EQ(st.health, ProjectionHealth::kCurrent);
}

INSTANTIATE_TEST_SUITE_P(EveryProjection, ConformanceTest, testing::ValuesIn(Projections::Names()),
                         [](const testing::TestParamInfo<std::string>& p) { return p.param; });

// ---- a missing or corrupt projection is rebuilt ----

enum class Damage {
  kCleared,             // both slots empty, no header: as if never built
  kUnreadableHeader,    // the active slot's header does not decode
  kNewerVersion,        // written by a later build
  kOlderVersion,        // written by an earlier build
  kOtherConfig,         // built with other settings
  kCheckpointPastEnd,   // follows events this journal does not have
  kCheckpointElsewhere, // its checkpoint names another event at that position
  kBothActive,          // two slots claim to be the one in use
  kStaleRebuild,        // a rebuild under way that claims events this journal lacks
};

std::string DamageName(Damage d) {
  switch (d) {
    case Damage::kCleared: return "Cleared";
    case Damage::kUnreadableHeader: return "UnreadableHeader";
    case Damage::kNewerVersion: return "NewerVersion";
    case Damage::kOlderVersion: return "OlderVersion";
    case Damage::kOtherConfig: return "OtherConfig";
    case Damage::kCheckpointPastEnd: return "CheckpointPastEnd";
    case Damage::kCheckpointElsewhere: return "CheckpointElsewhere";
    case Damage::kBothActive: return "BothActive";
    case Damage::kStaleRebuild: return "StaleRebuild";
  }
  return "?";
}

StoredSlots Damaged(StoredSlots s, Damage damage) {
  const int a = s.Active();
  SlotHeader& h = s.headers[a];
  switch (damage) {
    case Damage::kCleared: s = StoredSlots{}; return s;
    case Damage::kUnreadableHeader:
      s.entries[a][Bytes{0x00}] = ToBytes("not a slot header");
      return s;
    case Damage::kNewerVersion: ++h.version; break;
    case Damage::kOlderVersion: --h.version; break;
    case Damage::kOtherConfig: h.config ^= 1; break;
    case Damage::kCheckpointPastEnd: h.checkpoint += 1000; break;
    case Damage::kCheckpointElsewhere: h.checkpoint_sum ^= 1; break;
    case Damage::kBothActive:
      s.entries[1 - a] = s.entries[a];
      s.headers[1 - a] = h;
      s.entries[1 - a][Bytes{0x00}] = projections_internal::EncodeSlotHeader(h);
      return s;
    case Damage::kStaleRebuild:
      s.headers[1 - a] = SlotHeader{SlotRole::kBuilding, h.version, h.config, h.checkpoint + 1000, 1};
      s.entries[1 - a] = {{Bytes{0x00}, projections_internal::EncodeSlotHeader(s.headers[1 - a])}};
      return s;
  }
  s.entries[a][Bytes{0x00}] = projections_internal::EncodeSlotHeader(h);
  return s;
}

class DamageTest : public SlotsTest, public ::testing::WithParamInterface<std::tuple<std::string, Damage>> {
 protected:
  const std::string& name() const override { return std::get<0>(GetParam()); }
};

TEST_P(DamageTest, IsNeverServedAndIsRebuiltToWhatItWas) {
  AppendHistory(0, History().size());
  const auto good = DumpAll();
  projections_.reset();
  const Damage damage = std::get<1>(GetParam());
  Write(Damaged(Read(), damage));

  OpenAll(Opts());
  // A stale rebuild is dropped; the table in use is sound and stays.
  const bool sound = damage == Damage::kStaleRebuild;
  for (const ProjectionStatus& st : projections_->Health()) {
    if (st.name != name() || sound) {
      EXPECT_EQ(st.health, ProjectionHealth::kCurrent) << st.name;
      continue;
    }
    EXPECT_NE(st.health, ProjectionHealth::kCurrent);
    EXPECT_EQ(st.checkpoint, 0u);  // no table in use
  }
  if (name() != "snapshots" && !sound) {
    EXPECT_THAT(Query(), HasCode(Code::kFailedPrecondition));
  }
  EXPECT_TRUE(projections_->StateAt(History().back().run, Journal::kEnd).has_value());

  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(DumpAll(), good);
  EXPECT_THAT(Query(), IsOk());
  for (const ProjectionStatus& st : projections_->Health()) EXPECT_EQ(st.health, ProjectionHealth::kCurrent) << st.name;
}

INSTANTIATE_TEST_SUITE_P(
    EveryProjection, DamageTest,
    testing::Combine(testing::ValuesIn(Projections::Names()),
                     testing::Values(Damage::kCleared, Damage::kUnreadableHeader, Damage::kNewerVersion,
                                     Damage::kOlderVersion, Damage::kOtherConfig, Damage::kCheckpointPastEnd,
                                     Damage::kCheckpointElsewhere, Damage::kBothActive, Damage::kStaleRebuild)),
    [](const testing::TestParamInfo<std::tuple<std::string, Damage>>& p) {
      return std::get<0>(p.param) + "_" + DamageName(std::get<1>(p.param));
    });

}  // namespace
}  // namespace rwd::test
