// The projection commands of the rewind CLI, end to end: the built binary on
// a journal written by `rewind run examples/order.json` (a failed run,
// resumed with corrected data, then approved), checked through --json.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "rewind/journal/journal.h"
#include "tests/support/child_process.h"
#include "tests/support/rewind_cli.h"
#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;

class QueryCommandsTest : public ::testing::Test {
 protected:
  ProgramOutput Rewind(std::vector<std::string> args) { return cli_.Run(std::move(args)); }
  json Json(std::vector<std::string> args, int want = 0) { return cli_.Json(std::move(args), want); }

  // The README walkthrough's run: validate fails (qty 12), a resume from
  // validate with qty 3, charge declined once and retried, then an approval.
  // Then the projections are rebuilt from the journal. Returns the run id.
  std::string ResumedAndApprovedOrder() {
    const json run = Json({"run", REWIND_EXAMPLES_DIR "/order.json", "--input", R"({"order":42,"qty":12})"}, 1);
    const std::string id = run.value("run_id", "");
    Json({"resume", id, "--from-step", "validate", "--resume-data", R"({"qty":3})", "--reason",
          "customer lowered the quantity"},
         3);
    Json({"approve", id, "approve", "--note", "approved by finance"});
    Json({"projections", "rebuild"});
    return id;
  }

  // A journal with no events and no projection tables.
  void EmptyJournalWithoutProjections() {
    JournalOptions o;
    o.directory = data_;
    ASSERT_THAT(Journal::Open(o), IsOk());
  }

  TempDir dir_;
  const std::string data_ = dir_.Sub("data");
  const RewindCli cli_{REWIND_CLI, data_, dir_.path()};
};

TEST_F(QueryCommandsTest, RebuildReportsItsFiguresAndLeavesEveryProjectionCurrent) {
  ResumedAndApprovedOrder();
  const json j = Json({"projections", "rebuild"});
  EXPECT_EQ(j["rebuilt"], json({"runs", "step_stats", "audit", "snapshots"}));
  EXPECT_EQ(j["events"], j["projections"][0]["journal_position"]);
  EXPECT_GT(j["events"].get<std::uint64_t>(), 0u);
  EXPECT_GT(j["seconds"].get<double>(), 0);
  EXPECT_GT(j["events_per_second"].get<double>(), 0);
  for (const json& p : j["projections"]) EXPECT_EQ(p["health"], "current") << p;
}

TEST_F(QueryCommandsTest, RebuildOfNamedProjectionsRebuildsOnlyThose) {
  ResumedAndApprovedOrder();
  EXPECT_EQ(Json({"projections", "rebuild", "runs", "audit"})["rebuilt"], json({"runs", "audit"}));
}

TEST_F(QueryCommandsTest, RebuildOfAnUnknownProjectionIsNotFound) {
  ResumedAndApprovedOrder();
  const json j = Json({"projections", "rebuild", "runs", "nope"}, 10);
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("nope"), std::string::npos);
}

TEST_F(QueryCommandsTest, ProjectionsStatusShowsEachAtTheJournalsLastPosition) {
  ResumedAndApprovedOrder();
  const json j = Json({"projections", "status"});
  ASSERT_EQ(j["projections"].size(), 4u);
  for (const json& p : j["projections"]) {
    EXPECT_EQ(p["health"], "current") << p;
    EXPECT_EQ(p["checkpoint"], p["journal_position"]) << p;
    EXPECT_EQ(p["version"], p["stored_version"]) << p;
    EXPECT_TRUE(p["error"].is_null()) << p;
  }
}

TEST_F(QueryCommandsTest, RunsListsTheRunsSummary) {
  const std::string id = ResumedAndApprovedOrder();
  const json j = Json({"runs"});
  ASSERT_EQ(j["runs"].size(), 1u);
  const json& r = j["runs"][0];
  EXPECT_EQ(r["run_id"], id);
  EXPECT_EQ(r["tenant"], "default");
  EXPECT_EQ(r["workflow"], "order");
  EXPECT_EQ(r["status"], "completed");
  EXPECT_EQ(r["events"], Json({"status", id})["seq"]);
  EXPECT_EQ(r["epoch"], 1);
  EXPECT_EQ(r["resumes"], 1);
  EXPECT_EQ(r["steps_completed"], 5);
  EXPECT_TRUE(j["next_page"].is_null());
}

TEST_F(QueryCommandsTest, RunsFiltersByStatusTenantAndWorkflow) {
  ResumedAndApprovedOrder();
  EXPECT_EQ(Json({"runs", "--status", "completed"})["runs"].size(), 1u);
  EXPECT_EQ(Json({"runs", "--status", "failed"})["runs"].size(), 0u);
  EXPECT_EQ(Json({"runs", "--tenant", "default"})["runs"].size(), 1u);
  EXPECT_EQ(Json({"runs", "--tenant", "other"})["runs"].size(), 0u);
  EXPECT_EQ(Json({"runs", "--all-tenants", "--workflow", "order"})["runs"].size(), 1u);
  EXPECT_EQ(Json({"runs", "--workflow", "other"})["runs"].size(), 0u);
}

TEST_F(QueryCommandsTest, RunsPagesThroughWithTheNextPageToken) {
  const std::string first = ResumedAndApprovedOrder();
  const std::string second =
      Json({"run", REWIND_EXAMPLES_DIR "/order.json", "--input", R"({"order":43,"qty":11})"}, 1)["run_id"];
  const json page1 = Json({"runs", "--limit", "1"});
  ASSERT_EQ(page1["runs"].size(), 1u);
  EXPECT_EQ(page1["runs"][0]["run_id"], second);  // newest first
  const json page2 = Json({"runs", "--limit", "1", "--page", page1["next_page"]});
  ASSERT_EQ(page2["runs"].size(), 1u);
  EXPECT_EQ(page2["runs"][0]["run_id"], first);
  EXPECT_TRUE(page2["next_page"].is_null());
  EXPECT_EQ(Json({"runs", "--oldest-first", "--limit", "1"})["runs"][0]["run_id"], first);
}

TEST_F(QueryCommandsTest, AnUnknownStatusIsAUsageErrorNamingTheValidOnes) {
  ResumedAndApprovedOrder();
  const ProgramOutput o = Rewind({"runs", "--status", "done"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("pending, running, paused, failed, completed, cancelled"), std::string::npos) << o.err;
}

TEST_F(QueryCommandsTest, StatsCountAttemptsFailuresRetriesAndResumes) {
  ResumedAndApprovedOrder();
  const json j = Json({"stats", "--workflow", "order"});
  std::map<std::string, json> by_step;
  for (const json& s : j["stats"]) by_step[s["step"]] = s;
  ASSERT_TRUE(by_step.count("validate") && by_step.count("charge")) << j;
  EXPECT_EQ(by_step["validate"]["failures"], 1);
  EXPECT_EQ(by_step["validate"]["resumes"], 1);
  EXPECT_EQ(by_step["charge"]["executions"], 2);
  EXPECT_EQ(by_step["charge"]["retries"], 1);
  EXPECT_LE(by_step["charge"]["p50_us"].get<std::uint64_t>(), by_step["charge"]["max_us"].get<std::uint64_t>());
}

TEST_F(QueryCommandsTest, AuditShowsTheApprovalAndTheResumeNewestFirst) {
  const std::string id = ResumedAndApprovedOrder();
  const json j = Json({"audit", "--run", id});
  ASSERT_EQ(j["entries"].size(), 2u);
  EXPECT_EQ(j["entries"][0]["action"], "approve");
  const json& resume = j["entries"][1];
  EXPECT_EQ(resume["action"], "resume");
  EXPECT_EQ(resume["step"], "validate");
  EXPECT_EQ(resume["detail"], "customer lowered the quantity");
  EXPECT_NE(resume["actor"], "");
}

TEST_F(QueryCommandsTest, AuditPagesWithBefore) {
  ResumedAndApprovedOrder();
  const json page1 = Json({"audit", "--limit", "1"});
  ASSERT_EQ(page1["entries"].size(), 1u);
  EXPECT_EQ(page1["next_before"], page1["entries"][0]["position"]);
  const json page2 = Json({"audit", "--before", std::to_string(page1["next_before"].get<std::uint64_t>())});
  ASSERT_EQ(page2["entries"].size(), 1u);
  EXPECT_EQ(page2["entries"][0]["action"], "resume");
  EXPECT_TRUE(page2["next_before"].is_null());
}

TEST_F(QueryCommandsTest, AQueryOnAJournalWithoutProjectionsAsksForARebuild) {
  EmptyJournalWithoutProjections();
  const json j = Json({"runs"}, 12);
  EXPECT_EQ(j["error"]["code"], "failed_precondition");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("rewind projections rebuild"), std::string::npos) << j;
  const json status = Json({"projections", "status"});
  for (const json& p : status["projections"]) EXPECT_EQ(p["health"], "missing") << p;
}

TEST_F(QueryCommandsTest, ARebuildMakesAJournalWithoutProjectionsQueryable) {
  EmptyJournalWithoutProjections();
  EXPECT_EQ(Json({"projections", "rebuild"})["events"], 0);
  EXPECT_EQ(Json({"runs"})["runs"].size(), 0u);
  EXPECT_EQ(Json({"stats"})["stats"].size(), 0u);
}

TEST_F(QueryCommandsTest, QueriesWorkBesideAWriterButARebuildIsUnavailable) {
  ResumedAndApprovedOrder();
  JournalOptions o;
  o.directory = data_;
  auto writer = Journal::Open(o);  // as an engine would hold it
  ASSERT_THAT(writer, IsOk());
  EXPECT_EQ(Json({"runs"})["runs"].size(), 1u);
  const json j = Json({"projections", "rebuild"}, 16);
  EXPECT_NE(j["error"]["message"].get<std::string>().find("open for writing by another process"), std::string::npos);
}

TEST_F(QueryCommandsTest, ANonexistentJournalIsNotFoundAndNotCreated) {
  EXPECT_EQ(Json({"runs"}, 10)["error"]["code"], "not_found");
  EXPECT_EQ(Json({"projections", "rebuild"}, 10)["error"]["code"], "not_found");
  EXPECT_FALSE(std::ifstream(data_ + "/data.mdb").good());
}

}  // namespace
}  // namespace rwd::test
