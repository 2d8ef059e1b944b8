#include "rewind/projections/projections.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <thread>

#include "tests/projections/projections_fixture.h"
#include "rewind/projections/history.h"

namespace rwd::test {
namespace {

using ::testing::ElementsAre;

RunStarted TwoSteps(std::string workflow = "orders", std::string tenant = "acme") {
  return WorkflowDef(std::move(workflow), std::move(tenant), {Def("charge"), Def("ship", {0}, StepKind::kCode, 3)});
}

std::vector<RunId> Ids(const RunPage& page) {
  std::vector<RunId> ids;
  for (const RunSummary& s : page.runs) ids.push_back(s.run);
  return ids;
}

TEST_F(ProjectionsTest, ARunIsSummarizedAsSoonAsItsAppendIsAcknowledged) {
  RunWriter run(*journal_, TwoSteps());
  run.Complete(0).Apply(StepStarted{1, 1, 0});
  auto summary = projections_->Summary(run.run());
  ASSERT_TRUE(summary.has_value()) << summary.error().ToString();
  EXPECT_EQ(summary->status, RunStatus::kRunning);
  EXPECT_EQ(summary->tenant, "acme");
  EXPECT_EQ(summary->workflow, "orders");
  EXPECT_EQ(summary->current_step, "ship");
  EXPECT_EQ(summary->steps_completed, 1u);
  EXPECT_EQ(summary->attempts, 2u);
  EXPECT_EQ(summary->events, 4u);
}

TEST_F(ProjectionsTest, AFailedRunShowsItsErrorAndStatus) {
  RunWriter run(*journal_, TwoSteps());
  run.Complete(0).FailAttempt(1, false).Fail(1);
  auto summary = projections_->Summary(run.run());
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->status, RunStatus::kFailed);
  EXPECT_EQ(summary->error_code, "boom");
  EXPECT_EQ(summary->current_step, "ship");
}

TEST_F(ProjectionsTest, UnknownRunIsNotFound) {
  EXPECT_THAT(projections_->Summary(RunId::New()).error(), HasCode(Code::kNotFound));
}

TEST_F(ProjectionsTest, ListingFiltersByTenantStatusAndWorkflowNewestFirst) {
  RunWriter a(*journal_, TwoSteps("orders", "acme"), 1'000'000);
  RunWriter b(*journal_, TwoSteps("billing", "acme"), 2'000'000);
  RunWriter c(*journal_, TwoSteps("orders", "globex"), 3'000'000);
  RunWriter d(*journal_, TwoSteps("orders", "acme"), 4'000'000);
  a.Complete(0).FailAttempt(1, false).Fail(1);
  d.Complete(0).FailAttempt(1, false).Fail(1);

  auto all = projections_->ListRuns(RunQuery{});
  ASSERT_TRUE(all.has_value());
  EXPECT_THAT(Ids(*all), ElementsAre(d.run(), c.run(), b.run(), a.run()));

  auto failed = projections_->ListRuns(RunQuery{.tenant = "acme", .status = RunStatus::kFailed});
  ASSERT_TRUE(failed.has_value());
  EXPECT_THAT(Ids(*failed), ElementsAre(d.run(), a.run()));

  auto orders = projections_->ListRuns(RunQuery{.tenant = "acme", .workflow = "orders", .newest_first = false});
  ASSERT_TRUE(orders.has_value());
  EXPECT_THAT(Ids(*orders), ElementsAre(a.run(), d.run()));

  auto running = projections_->ListRuns(RunQuery{.status = RunStatus::kRunning});
  ASSERT_TRUE(running.has_value());
  EXPECT_THAT(Ids(*running), ElementsAre(c.run(), b.run()));
}

TEST_F(ProjectionsTest, ListingPagesThroughEveryRunOnce) {
  std::vector<RunId> written;
  for (int i = 0; i < 7; ++i) written.push_back(RunWriter(*journal_, TwoSteps(), 1'000'000 + i).run());
  std::vector<RunId> seen;
  RunQuery query{.tenant = "acme", .limit = 3};
  for (int pages = 0; pages < 10; ++pages) {
    auto page = projections_->ListRuns(query);
    ASSERT_TRUE(page.has_value()) << page.error().ToString();
    for (const RunSummary& s : page->runs) seen.push_back(s.run);
    if (page->next.empty()) break;
    query.page = page->next;
  }
  std::reverse(written.begin(), written.end());
  EXPECT_EQ(seen, written);
}

TEST_F(ProjectionsTest, APageTokenOfAnotherQueryIsRefused) {
  for (int i = 0; i < 3; ++i) RunWriter(*journal_, TwoSteps());
  auto page = projections_->ListRuns(RunQuery{.limit = 1});
  ASSERT_TRUE(page.has_value());
  EXPECT_THAT(projections_->ListRuns(RunQuery{.tenant = "acme", .page = page->next}).error(),
              HasCode(Code::kInvalidArgument));
}

TEST_F(ProjectionsTest, StepStatsCountAttemptsFailuresRetriesAndLatency) {
  RunWriter run(*journal_, TwoSteps());
  run.Complete(0).FailAttempt(1).Apply(RetryScheduled{1, 2, 0}).Complete(1).Finish();
  auto stats = projections_->Stats("orders");
  ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
  ASSERT_EQ(stats->size(), 2u);  // by step name
  const StepStats& ship = (*stats)[1];
  EXPECT_EQ(ship.step, "ship");
  EXPECT_EQ(ship.executions, 2u);
  EXPECT_EQ(ship.failures, 1u);
  EXPECT_EQ(ship.completions, 1u);
  EXPECT_EQ(ship.retries, 1u);
  EXPECT_EQ(ship.latency_count, 2u);
  EXPECT_EQ(ship.max_us, 1000u);  // the writer records 1 ms between events
  EXPECT_EQ((*stats)[0].step, "charge");
  EXPECT_EQ((*stats)[0].completions, 1u);
  EXPECT_TRUE(projections_->Stats("nothing")->empty());
}

// Each tenant's figures are its own, though the workflow is the same.
TEST_F(ProjectionsTest, StepStatsCountEachTenantsRunsApart) {
  RunWriter(*journal_, TwoSteps("orders", "acme")).Complete(0).Complete(1).Finish();
  RunWriter(*journal_, TwoSteps("orders", "globex")).Complete(0).FailAttempt(1).Apply(RetryScheduled{1, 2, 0});
  RunWriter(*journal_, TwoSteps("orders", "globex")).Complete(0);
  auto acme = projections_->Stats("orders", "acme");
  ASSERT_TRUE(acme.has_value()) << acme.error().ToString();
  ASSERT_EQ(acme->size(), 2u);
  EXPECT_EQ((*acme)[0].tenant, "acme");
  EXPECT_EQ((*acme)[0].executions, 1u);
  EXPECT_EQ((*acme)[1].failures, 0u);
  auto globex = projections_->Stats({}, "globex");
  ASSERT_EQ(globex->size(), 2u);
  EXPECT_EQ((*globex)[0].step, "charge");
  EXPECT_EQ((*globex)[0].completions, 2u);
  EXPECT_EQ((*globex)[1].failures, 1u);
  const auto all = projections_->Stats("orders");
  ASSERT_EQ(all->size(), 4u) << "every tenant's, each apart";
  EXPECT_EQ((*all)[0].tenant, "acme");
  EXPECT_EQ((*all)[3].tenant, "globex");
  EXPECT_TRUE(projections_->Stats("orders", "initech")->empty());
}

TEST_F(ProjectionsTest, AuditRecordsWhoActedOnWhichRun) {
  RunWriter run(*journal_, TwoSteps());
  run.Complete(0).FailAttempt(1, false).Fail(1);
  run.Apply(ResumeRequested{1, "fixed the card", "req-1", {}}, Operator("alice"));
  run.Apply(CancelRequested{"customer left"}, Operator("bob"));
  RunWriter other(*journal_, TwoSteps());
  other.Apply(SignalReceived{"poke", {}}, Operator("bob"));

  auto all = projections_->Audit(AuditQuery{});
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].action, AuditAction::kSignal);
  EXPECT_EQ((*all)[1].action, AuditAction::kCancel);
  EXPECT_EQ((*all)[1].detail, "customer left");
  EXPECT_EQ((*all)[2].action, AuditAction::kResume);
  EXPECT_EQ((*all)[2].actor, "alice");
  EXPECT_EQ((*all)[2].step, "ship");
  EXPECT_EQ((*all)[2].tenant, "acme");

  auto by_bob = projections_->Audit(AuditQuery{.actor = "bob"});
  ASSERT_TRUE(by_bob.has_value());
  EXPECT_EQ(by_bob->size(), 2u);
  auto of_run = projections_->Audit(AuditQuery{.run = run.run()});
  ASSERT_TRUE(of_run.has_value());
  EXPECT_EQ(of_run->size(), 2u);
  auto older = projections_->Audit(AuditQuery{.before_position = (*all)[1].position});
  ASSERT_TRUE(older.has_value());
  ASSERT_EQ(older->size(), 1u);
  EXPECT_EQ((*older)[0].action, AuditAction::kResume);
}

TEST_F(ProjectionsTest, AuditKeepsAnApprovalsNoteWhenItIsText) {
  const RunStarted gates =
      WorkflowDef("release", "acme", {Def("a", {}, StepKind::kApproval), Def("b", {0}, StepKind::kApproval)});
  const std::string long_note = std::string(kMaxAuditNoteBytes - 1, 'x') + "\u00e9";  // é straddles the limit
  std::vector<std::pair<Bytes, std::string>> cases = {
      {ToBytes("approved by finance"), "approved by finance"},
      {Bytes{0x01, 0x02, 0x03}, "3 bytes of data"},
      {ToBytes(long_note), std::string(kMaxAuditNoteBytes - 1, 'x')},
  };
  for (const auto& [data, detail] : cases) {
    RunWriter run(*journal_, gates);
    run.Apply(RunPaused{0, PauseReason::kApprovalRequired, ""});
    run.Apply(ApprovalDecided{0, true, data}, Operator());
    auto entries = projections_->Audit(AuditQuery{.run = run.run()});
    ASSERT_TRUE(entries.has_value());
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ((*entries)[0].action, AuditAction::kApprove);
    EXPECT_EQ((*entries)[0].detail, detail);
  }
}

TEST_F(ProjectionsTest, StateAtEqualsAFreshFoldAtEverySeq) {
  RunWriter run(*journal_, WorkflowDef("loop", "acme", {Def("a", {}, StepKind::kCode, 100)}));
  for (int i = 0; i < 12; ++i) run.FailAttempt(0).Apply(RetryScheduled{0, run.state().steps[0].attempts + 1, 0});
  run.Complete(0).Finish();
  std::vector<Event> events;
  ASSERT_THAT(journal_->ReadRun(run.run(), 1, Journal::kEnd, [&](const EventRecord& r) {
    events.push_back(*DecodeRecord(r));
    return Status::Ok();
  }),
              IsOk());
  for (std::uint64_t seq = 1; seq <= events.size(); ++seq) {
    auto via_snapshots = projections_->StateAt(run.run(), seq);
    ASSERT_TRUE(via_snapshots.has_value()) << via_snapshots.error().ToString();
    auto fresh = Fold(run.run(), std::span(events).first(seq));
    ASSERT_TRUE(fresh.has_value());
    EXPECT_EQ(*via_snapshots, *fresh) << "at seq " << seq;
  }
  EXPECT_EQ(*projections_->StateAt(run.run(), Journal::kEnd), run.state());
  EXPECT_THAT(projections_->StateAt(run.run(), events.size() + 1).error(), HasCode(Code::kNotFound));
  EXPECT_THAT(projections_->StateAt(run.run(), 0).error(), HasCode(Code::kInvalidArgument));
}

TEST_F(ProjectionsTest, RebuildGivesTheTablesMaintainedEventByEvent) {
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0).FailAttempt(1, false).Fail(1).Apply(ResumeRequested{0, "again", "r", {}}, Operator()).Complete(0);
  RunWriter b(*journal_, TwoSteps("billing", "globex"));
  b.Complete(0).Complete(1).Finish();
  const auto incremental = DumpAll();
  std::vector<RebuildProgress> progress;
  ASSERT_THAT(projections_->Rebuild({}, [&](const RebuildProgress& p) { progress.push_back(p); }), IsOk());
  EXPECT_EQ(DumpAll(), incremental);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().done, progress.back().total);
  for (const ProjectionStatus& st : projections_->Health()) {
    EXPECT_EQ(st.health, ProjectionHealth::kCurrent) << st.name << ": " << st.error;
  }
}

TEST_F(ProjectionsTest, AppendsDuringARebuildReachTheRebuiltTables) {
  RunWriter a(*journal_, TwoSteps());
  for (int i = 0; i < 5; ++i) RunWriter(*journal_, TwoSteps()).Complete(0);
  std::unique_ptr<RunWriter> late;
  bool appended = false;
  ASSERT_THAT(projections_->Rebuild({}, [&](const RebuildProgress&) {
    if (!appended) {
      a.Complete(0);  // while the new slot is half built
      late = std::make_unique<RunWriter>(*journal_, TwoSteps("late", "acme"));
      appended = true;
    }
  }),
              IsOk());
  const auto rebuilt = DumpAll();
  ASSERT_THAT(projections_->Rebuild({}), IsOk());
  EXPECT_EQ(DumpAll(), rebuilt);
  EXPECT_EQ(projections_->Summary(late->run())->workflow, "late");
  EXPECT_EQ(projections_->Summary(a.run())->steps_completed, 1u);
}

TEST_F(ProjectionsTest, ProjectionsOpenedOnAnUnprojectedJournalCatchUp) {
  projections_.reset();
  journal_.reset();
  std::filesystem::remove_all(JournalOpts().directory);
  journal_ = std::move(*Journal::Open(JournalOpts()));
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0).Complete(1).Finish();
  OpenAll(Opts());
  for (const ProjectionStatus& st : projections_->Health()) EXPECT_EQ(st.health, ProjectionHealth::kMissing);
  EXPECT_THAT(projections_->Summary(a.run()).error(), HasCode(Code::kFailedPrecondition));
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(projections_->Summary(a.run())->status, RunStatus::kCompleted);
}

TEST_F(ProjectionsTest, ProjectionsBehindTheJournalCatchUpToTheSameTables) {
  RunWriter a(*journal_, TwoSteps());
  projections_.reset();
  a.Complete(0);  // appended while no projections were attached
  OpenAll(Opts());
  RunWriter b(*journal_, TwoSteps());  // not applied inline: the projections are behind
  for (const ProjectionStatus& st : projections_->Health()) EXPECT_EQ(st.health, ProjectionHealth::kBehind);
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  const auto caught_up = DumpAll();
  ASSERT_THAT(projections_->Rebuild({}), IsOk());
  EXPECT_EQ(DumpAll(), caught_up);
}

TEST_F(ProjectionsTest, ANewSnapshotIntervalRebuildsSnapshotsOnOpen) {
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0).Complete(1).Finish();
  ProjectionsOptions o = Opts();
  o.snapshot_every = 2;
  OpenAll(o);
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  std::size_t snapshots = DumpActive(*journal_, "snapshots").size() - 1;  // minus the header
  EXPECT_EQ(snapshots, 3u);  // after events 2, 4 and 6
  RunState fresh;
  fresh.run = a.run();
  ASSERT_THAT(journal_->ReadRun(a.run(), 1, 5, [&](const EventRecord& r) { return Evolve(fresh, *DecodeRecord(r)); }),
              IsOk());
  EXPECT_EQ(*projections_->StateAt(a.run(), 5), fresh);
}

TEST_F(ProjectionsTest, ACheckpointThatNamesAnotherEventIsRebuiltOnOpen) {
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0);
  const auto good = DumpAll();
  // Make the runs table claim to follow a different event at its checkpoint.
  auto table = journal_->OpenTable(projections_internal::SlotTableName("runs", 0));
  ASSERT_TRUE(table.has_value());
  ASSERT_THAT(journal_->Update([&](WriteView& w) -> Status {
    REWIND_ASSIGN_OR_RETURN(auto h, projections_internal::ReadSlotHeader(w, *table));
    h.checkpoint_sum ^= 1;
    return projections_internal::WriteSlotHeader(w, *table, h);
  }),
              IsOk());
  OpenAll(Opts());
  EXPECT_THAT(projections_->Summary(a.run()).error(), HasCode(Code::kFailedPrecondition));
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(DumpAll(), good);
}

TEST_F(ProjectionsTest, ADamagedValueIsRebuiltOnceFound) {
  RunWriter a(*journal_, TwoSteps());
  DamageSummary(a.run(), /*slot=*/0);
  a.Complete(0);  // the runs projection cannot update the damaged summary
  auto health = projections_->Health();
  EXPECT_EQ(health[0].name, "runs");
  EXPECT_EQ(health[0].health, ProjectionHealth::kRebuilding);
  EXPECT_THAT(health[0].error, testing::HasSubstr("run summary"));
  EXPECT_EQ(health[1].health, ProjectionHealth::kCurrent);  // the others went on
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(projections_->Summary(a.run())->steps_completed, 1u);
  const auto repaired = DumpAll();
  ASSERT_THAT(projections_->Rebuild({}), IsOk());
  EXPECT_EQ(DumpAll(), repaired);
}

TEST_F(ProjectionsTest, ADamagedSnapshotIsFoldedAroundAndRebuilt) {
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0).FailAttempt(1);  // 5 events: a snapshot after the 4th
  auto table = journal_->OpenTable(projections_internal::SlotTableName("snapshots", 0));
  ASSERT_TRUE(table.has_value());
  ASSERT_THAT(journal_->Update([&](WriteView& w) {
    return w.Put(*table, projections_internal::SnapshotKey(a.run(), 4), AsBytes("garbage"));
  }),
              IsOk());
  const RunState fresh = a.state();
  EXPECT_EQ(*projections_->StateAt(a.run(), 5), fresh);  // folded from the first event
  OpenAll(Opts());  // a cold cache: the next append loads the run through its snapshot
  a.Complete(1);
  for (const ProjectionStatus& st : projections_->Health()) {
    EXPECT_EQ(st.health, st.name == "snapshots" ? ProjectionHealth::kRebuilding : ProjectionHealth::kCurrent)
        << st.name;
  }
  EXPECT_EQ(projections_->Summary(a.run())->steps_completed, 2u);
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  const auto repaired = DumpAll();
  ASSERT_THAT(projections_->Rebuild({}), IsOk());
  EXPECT_EQ(DumpAll(), repaired);
}

TEST_F(ProjectionsTest, AReadOnlyJournalServesQueries) {
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0);
  projections_.reset();
  journal_.reset();
  JournalOptions o = JournalOpts();
  o.read_only = true;
  auto ro = Journal::Open(o);
  ASSERT_TRUE(ro.has_value());
  auto p = Projections::Open(**ro, Opts());
  ASSERT_TRUE(p.has_value()) << p.error().ToString();
  EXPECT_EQ((*p)->Summary(a.run())->steps_completed, 1u);
  EXPECT_THAT((*p)->CatchUp(), HasCode(Code::kFailedPrecondition));
  p->reset();
}

TEST_F(ProjectionsTest, AProjectionWhoseRepairFailsStaysFailedUntilARebuildIsAsked) {
  RunWriter a(*journal_, TwoSteps());
  for (int i = 0; i < 10; ++i) RunWriter(*journal_, TwoSteps()).Complete(0);
  a.Complete(0);
  // Damage the slot being rebuilt while it is half built, in the rebuild
  // asked for and in the repair that follows its failure.
  bool damaging = true;
  auto damage_building = [&](const RebuildProgress&) {
    if (!damaging) return;
    for (int slot = 0; slot < 2; ++slot) {
      if (SlotRoleOf("runs", slot) == projections_internal::SlotRole::kBuilding) DamageSummary(a.run(), slot);
    }
  };
  ASSERT_THAT(projections_->Rebuild(std::vector<std::string>{"runs"}, damage_building), HasCode(Code::kCorruption));
  EXPECT_EQ(projections_->Health()[0].health, ProjectionHealth::kFailed);
  RunWriter late(*journal_, TwoSteps());  // a failed projection is left alone; the others go on
  EXPECT_EQ(projections_->Health()[1].health, ProjectionHealth::kCurrent);
  // Asking again starts from an empty slot, so the damage is gone.
  damaging = false;
  ASSERT_THAT(projections_->Rebuild(std::vector<std::string>{"runs"}, damage_building), IsOk());
  EXPECT_EQ(projections_->Summary(a.run())->steps_completed, 1u);
  EXPECT_EQ(projections_->Summary(late.run())->events, 1u);
  EXPECT_EQ(projections_->Health()[0].health, ProjectionHealth::kCurrent);
}

TEST_F(ProjectionsTest, ADamagedSpareSlotIsRepairedInTheBackgroundWhileTheActiveOneServes) {
  ProjectionsOptions o = Opts();
  o.background = true;
  OpenAll(o);
  RunWriter a(*journal_, TwoSteps());
  ASSERT_EQ(SlotRoleOf("runs", 0), projections_internal::SlotRole::kActive);
  auto spare = journal_->OpenTable(projections_internal::SlotTableName("runs", 1));
  ASSERT_TRUE(spare.has_value());
  ASSERT_THAT(journal_->Update([&](WriteView& w) {
    return w.Put(*spare, projections_internal::kSlotHeaderKey, AsBytes("not a header"));
  }),
              IsOk());
  EXPECT_EQ(projections_->Summary(a.run())->events, 1u);  // the active slot still serves
  a.Complete(0);  // finds the damage: the worker repairs it by itself
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline &&
         (projections_->Health()[0].health != ProjectionHealth::kCurrent ||
          SlotRoleOf("runs", 1) != projections_internal::SlotRole::kActive)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(projections_->Health()[0].health, ProjectionHealth::kCurrent);
  EXPECT_EQ(SlotRoleOf("runs", 1), projections_internal::SlotRole::kActive);  // rebuilt where the damage was
  EXPECT_EQ(projections_->Summary(a.run())->steps_completed, 1u);
}

TEST_F(ProjectionsTest, ASnapshotStoredUnderAnotherSeqIsFoldedAround) {
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0).FailAttempt(1).FailAttempt(1).Complete(1);  // 9 events: snapshots after 4 and 8
  auto table = journal_->OpenTable(projections_internal::SlotTableName("snapshots", 0));
  ASSERT_TRUE(table.has_value());
  ASSERT_THAT(journal_->Update([&](WriteView& w) -> Status {
    REWIND_ASSIGN_OR_RETURN(auto later, w.Get(*table, projections_internal::SnapshotKey(a.run(), 8)));
    if (!later) return Status(Code::kNotFound, "no snapshot after 8 events");
    const Bytes copy(later->begin(), later->end());
    return w.Put(*table, projections_internal::SnapshotKey(a.run(), 4), copy);
  }),
              IsOk());
  RunState fresh;
  fresh.run = a.run();
  ASSERT_THAT(journal_->ReadRun(a.run(), 1, 6, [&](const EventRecord& r) { return Evolve(fresh, *DecodeRecord(r)); }),
              IsOk());
  EXPECT_EQ(*projections_->StateAt(a.run(), 6), fresh);
}

TEST_F(ProjectionsTest, AJournalTakesOneProjectionsAtATime) {
  auto second = Projections::Open(*journal_, Opts());
  ASSERT_FALSE(second.has_value());
  EXPECT_THAT(second.error(), HasCode(Code::kFailedPrecondition));
  RunWriter a(*journal_, TwoSteps());  // the first still follows the appends
  EXPECT_EQ(projections_->Summary(a.run())->events, 1u);
}

TEST_F(ProjectionsTest, AnUnboundedBatchCatchesUpInOneStep) {
  projections_.reset();
  RunWriter a(*journal_, TwoSteps());
  a.Complete(0).Complete(1);
  ProjectionsOptions o = Opts();
  o.batch_events = std::numeric_limits<std::size_t>::max();
  OpenAll(o);
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(projections_->Summary(a.run())->steps_completed, 2u);
}

TEST_F(ProjectionsTest, ARebuildAskedForSurvivesAStepThatRanOutOfSpace) {
  projections_.reset();
  journal_.reset();
  std::filesystem::remove_all(JournalOpts().directory);
  JournalOptions jo = JournalOpts();
  jo.max_map_bytes = 1 << 20;
  journal_ = std::move(*Journal::Open(jo));
  OpenAll(Opts());
  for (int i = 0; i < 200; ++i) RunWriter(*journal_, TwoSteps()).Complete(0).Complete(1).Finish();
  // Ballast that leaves 24 pages of the map: room for a few small commits,
  // not for a second copy of the run index (over 60 pages).
  auto ballast = journal_->OpenTable("ballast");
  ASSERT_TRUE(ballast.has_value());
  const auto page = static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));  // LMDB's page
  const auto room = [&] {
    const StructureReport r = journal_->CheckStructure().value();
    return static_cast<std::int64_t>(jo.max_map_bytes) - static_cast<std::int64_t>(r.pages - r.free) * page;
  };
  for (std::uint64_t i = 0; room() > 24 * page; ++i) {
    const Bytes key = projections_internal::KeyBuilder('b').U64(i).Take();
    ASSERT_THAT(journal_->Update([&](WriteView& w) { return w.Put(*ballast, key, Bytes(4000, 0xAB)); }), IsOk());
  }
  ProjectionsOptions o = Opts();
  o.batch_events = 100'000;  // the rebuild is one step, too large for the room left
  OpenAll(o);
  ASSERT_EQ(SlotRoleOf("runs", 0), projections_internal::SlotRole::kActive);
  ASSERT_THAT(projections_->Rebuild(std::vector<std::string>{"runs"}), HasCode(Code::kResourceExhausted));
  ASSERT_EQ(SlotRoleOf("runs", 1), projections_internal::SlotRole::kEmpty) << "the first step did not commit";
  ASSERT_THAT(journal_->Update([&](WriteView& w) { return w.Clear(*ballast); }), IsOk());
  // LMDB reuses freed pages once no snapshot can see them: two commits on.
  for (int k = 0; k < 2; ++k) RunWriter(*journal_, TwoSteps());
  ASSERT_THAT(projections_->CatchUp(), IsOk());
  EXPECT_EQ(SlotRoleOf("runs", 1), projections_internal::SlotRole::kActive) << "the rebuild was done";
}

TEST_F(ProjectionsTest, UnknownProjectionNameIsNotFound) {
  EXPECT_THAT(projections_->Rebuild(std::vector<std::string>{"nope"}), HasCode(Code::kNotFound));
}

}  // namespace
}  // namespace rwd::test
