#include "tools/rewind/cli_args.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/support/matchers.h"

namespace rwd::cli {
namespace {

using test::HasCode;

class CliArgsTest : public ::testing::Test {
 protected:
  // Parses `args` after the program's name; out_ and err_ hold what it printed.
  CommandLine Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "rewind");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    out_.str("");
    err_.str("");
    return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), "./data", out_, err_);
  }
  // build, then approve (a gate, approved), then ship (never started).
  static std::vector<Event> History() {
    RunStarted def;
    def.workflow = "order";
    std::vector<StepDef>& steps = def.steps.Mutable();
    steps.resize(3);
    steps[0].id = "build";
    steps[1].id = "approve";
    steps[1].kind = StepKind::kApproval;
    steps[1].depends_on = {0};
    steps[2].id = "ship";
    steps[2].depends_on = {1};
    return {Event{1, std::nullopt, kSchemaVersion, def}, Event{2, std::nullopt, kSchemaVersion, StepStarted{0, 1, 0}},
            Event{3, std::nullopt, kSchemaVersion, StepCompleted{0, 1, ToBytes("built"), 0}},
            Event{4, std::nullopt, kSchemaVersion, RunPaused{1, PauseReason::kApprovalRequired, ""}},
            Event{5, std::nullopt, kSchemaVersion, ApprovalDecided{1, true, {}}}};
  }

  std::ostringstream out_, err_;
  const RunId run_ = RunId(RunId::Bytes{1, 2, 3});
};

TEST_F(CliArgsTest, ArgumentsReachTheInvocationAsGiven) {
  const CommandLine line = Parse({"resume", "0102", "--from-step", "2", "--reason", "fixed", "--request-id", "r1",
                                  "--resume-data", "{}", "--dry-run", "--tenant", "acme", "--json", "--server",
                                  "http://127.0.0.1:9", "--token", "t0k", "--actor", "ana"});
  ASSERT_TRUE(line.invocation.has_value()) << err_.str();
  const Invocation& a = *line.invocation;
  EXPECT_EQ(a.command, Command::kResume);
  EXPECT_EQ(a.run, "0102");
  EXPECT_EQ(a.step, "2");
  EXPECT_EQ(a.reason, "fixed");
  EXPECT_EQ(a.request_id, "r1");
  EXPECT_EQ(a.resume_data, "{}");
  EXPECT_TRUE(a.dry_run);
  EXPECT_EQ(a.context, (Context{.data_dir = "./data",
                                .tenant = "acme",
                                .tenant_given = true,
                                .json = true,
                                .server = "http://127.0.0.1:9",
                                .token = "t0k",
                                .actor = "ana"}));
  EXPECT_FALSE(Parse({"status"}).invocation->context.tenant_given) << "a --token's tenant wins then";
  EXPECT_EQ(out_.str() + err_.str(), "");
}

TEST_F(CliArgsTest, HelpExitsZeroAndABadCommandLineIsAUsageError) {
  EXPECT_EQ(Parse({"--help"}).exit_code, kExitOk);
  EXPECT_NE(out_.str().find("rewind: durable, resumable workflows"), std::string::npos);
  EXPECT_EQ(Parse({"runs", "--limit", "0"}).exit_code, kExitUsage);
  EXPECT_NE(err_.str().find("--limit"), std::string::npos);
  EXPECT_EQ(Parse({}).exit_code, kExitUsage);
}

TEST_F(CliArgsTest, StateTakesExactlyOneOfAtSeqAndAtStep) {
  EXPECT_EQ(Parse({"state", "r", "--at-seq", "3"}).invocation->at_seq, 3u);
  EXPECT_EQ(Parse({"state", "r", "--at-step", "build"}).invocation->step, "build");
  EXPECT_EQ(Parse({"state", "r", "--at-seq", "3", "--at-step", "build"}).exit_code, kExitUsage);
  const CommandLine neither = Parse({"state", "r"});
  EXPECT_FALSE(neither.invocation.has_value());
  EXPECT_EQ(neither.exit_code, kExitUsage);
  EXPECT_EQ(err_.str(), "rewind state: give --at-seq K or --at-step STEP\n");
}

TEST_F(CliArgsTest, StateSeqTakesASeqWithinTheRunOrTheStepsLastCompletion) {
  const RunHistory events = *RunHistory::Of(run_, History());
  EXPECT_EQ(StateSeq(events, 5, ""), 5u);
  EXPECT_THAT(StateSeq(events, 0, ""), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(StateSeq(events, 6, ""), HasCode(Code::kInvalidArgument));
  EXPECT_EQ(StateSeq(events, std::nullopt, "build"), 3u);
  EXPECT_EQ(StateSeq(events, std::nullopt, "2"), 5u);
  EXPECT_THAT(StateSeq(events, std::nullopt, "ship"), HasCode(Code::kFailedPrecondition));
  EXPECT_THAT(StateSeq(events, std::nullopt, "4"), HasCode(Code::kNotFound));
}

TEST_F(CliArgsTest, AnAtSignNamesTheInputFile) {
  EXPECT_EQ(InputFilePath("@order.json"), "order.json");
  EXPECT_EQ(InputFilePath("@"), "");
  EXPECT_EQ(InputFilePath("{\"qty\": 1}"), std::nullopt);
  EXPECT_EQ(InputFilePath(""), std::nullopt);
}

TEST_F(CliArgsTest, StatusNamesParseBack) {
  for (const char* name : {"pending", "running", "paused", "failed", "completed", "cancelled"}) {
    ASSERT_TRUE(ParseRunStatus(name).has_value()) << name;
    EXPECT_EQ(RunStatusName(*ParseRunStatus(name)), name);
  }
  EXPECT_EQ(ParseRunStatus("done"), std::nullopt);
  EXPECT_EQ(RunStatusNames(), "pending, running, paused, failed, completed, cancelled");
}

}  // namespace
}  // namespace rwd::cli
