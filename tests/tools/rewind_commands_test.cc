// The rewind CLI's commands that act on runs, end to end: the built binary on
// fresh journals. A run whose driving process was SIGKILLed mid-step (its
// step's processes killed with it), what commands then append (nothing when
// refused), exit statuses, repeated decisions, tenants, control characters in
// human output, serve's JSON, and bad input.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/rewind_cli.h"
#include "tests/support/small_filesystem.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Its first attempt hangs (until killed); a retry, or any attempt after a
// resume, completes at once.
constexpr const char* kHangsOnce = R"({"name": "hangs-once", "steps": [
  {"id": "slow", "run": "[ \"$REWIND_ATTEMPT\" -ge 2 ] || [ \"$REWIND_EPOCH\" -ge 1 ] || sleep 30",
   "retry": {"max_attempts": 2, "initial_backoff_ms": 0}}]})";

constexpr const char* kGate = R"({"name": "gated", "steps": [
  {"id": "prepare", "run": "echo ready"},
  {"id": "approve", "kind": "approval"},
  {"id": "ship", "run": "echo shipped"}]})";

class RewindCommandsTest : public ::testing::Test {
 protected:
  ProgramOutput Rewind(std::vector<std::string> args) { return cli_.Run(std::move(args)); }
  json Json(std::vector<std::string> args, int want = 0) { return cli_.Json(std::move(args), want); }

  std::string File(const std::string& name, const std::string& text) {
    const std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }

  json Status(const std::string& run) { return Json({"status", run}); }

  // A run whose `rewind run` was SIGKILLed while its first attempt ran.
  std::string OrphanedRun() {
    ChildProcess driver(REWIND_CLI, {"run", File("hangs.json", kHangsOnce), "--data", data_});
    std::string run;
    std::vector<std::string> lines;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (run.empty() && std::chrono::steady_clock::now() < deadline) {
      driver.ReadLines(20, &lines);
      // Until the driver has created the journal, status finds none (exit 10).
      const ProgramOutput listed = Rewind({"status", "--json"});
      if (listed.exit_code == 10) continue;
      if (listed.exit_code != 0) {
        ADD_FAILURE() << "status: " << listed.out << listed.err;
        return "";
      }
      const json all = json::parse(listed.out);
      if (all.contains("runs") && !all["runs"].empty()) {
        const json s = Status(all["runs"][0]["run_id"]);
        if (s["steps"][0]["status"] == "running") run = s["run_id"];
      }
    }
    EXPECT_FALSE(run.empty()) << "the step never started";
    const json driven = Status(run);
    EXPECT_TRUE(driven["driver"].is_object() && driven["driver"]["pid"].get<int>() > 0) << driven.dump();
    driver.KillAndDrain(&lines);
    return run;
  }

  std::uint64_t Seq(const std::string& run) { return Status(run)["seq"].get<std::uint64_t>(); }

  TempDir dir_;
  const std::string data_ = dir_.Sub("data");
  const RewindCli cli_{REWIND_CLI, data_, dir_.path()};
};

TEST_F(RewindCommandsTest, ARefusedResumeAppendsNothingAndRecoverContinuesTheRun) {
  const std::string run = OrphanedRun();
  const json orphan = Status(run);
  EXPECT_EQ(orphan["status"], "running");
  EXPECT_TRUE(orphan["driver"].is_null()) << "nothing drives it: " << orphan.dump();
  const std::uint64_t seq = orphan["seq"];
  const json refused = Json({"resume", run}, 11);
  EXPECT_EQ(refused["error"]["code"], "conflict");
  EXPECT_EQ(Seq(run), seq) << "the refused resume appended";
  const json done = Json({"recover", run});
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["steps"][0]["total_attempts"], 2) << "the abandoned attempt and its retry";
  EXPECT_EQ(Json({"recover", run}, 12)["error"]["code"], "failed_precondition") << "a completed run is resumed";
}

TEST_F(RewindCommandsTest, PausingARunWhoseProcessDiedRecordsTheAbandonedAttemptAndExitsZero) {
  const std::string run = OrphanedRun();
  const json paused = Json({"pause", run, "--reason", "investigating"});
  EXPECT_EQ(paused["status"], "paused") << "not failed: the abandoned attempt is the only one it ever had";
  EXPECT_EQ(paused["steps"][0]["status"], "failed");
  EXPECT_EQ(paused["steps"][0]["total_attempts"], 1);
  EXPECT_EQ(Json({"resume", run, "--reason", "carry on"})["status"], "completed");
}

TEST_F(RewindCommandsTest, CancelExitsZeroOnceTheRunIsCancelled) {
  const json waiting = Json({"run", File("gate.json", kGate)}, 3);
  const std::string run = waiting["run_id"];
  const json cancelled = Json({"cancel", run, "--reason", "not needed"});
  EXPECT_EQ(cancelled["status"], "cancelled");
  EXPECT_EQ(Json({"cancel", run}, 11)["error"]["code"], "conflict") << "a finished run";
}

TEST_F(RewindCommandsTest, ARepeatedDecisionSucceedsAndAppendsNothingAndTheOtherIsAConflict) {
  const std::string run = Json({"run", File("gate.json", kGate)}, 3)["run_id"];
  const json approved = Json({"approve", run, "approve", "--note", "ok"});
  EXPECT_EQ(approved["status"], "completed");
  EXPECT_EQ(approved["steps"][1]["attempts"], 1) << "a decided gate counts its attempt in the epoch";
  EXPECT_EQ(approved["steps"][1]["total_attempts"], 1);
  const std::uint64_t seq = approved["seq"];
  EXPECT_EQ(Json({"approve", run, "approve"})["seq"], seq) << "the same decision again appends nothing";
  EXPECT_EQ(Json({"reject", run, "approve"}, 11)["error"]["code"], "conflict");
  EXPECT_EQ(Seq(run), seq);
}

TEST_F(RewindCommandsTest, TenantsThatAreNotPrintableOrTooLongAreUsageErrors) {
  Json({"run", File("gate.json", kGate)}, 3);
  for (const std::string& tenant : {std::string("evil\nrun 0000 completed"), std::string("a b"), std::string(""),
                                   std::string("\x1b[2J"), std::string(129, 'x')}) {
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"status"}, {"runs"}, {"audit"}, {"run", dir_.Sub("gate.json")}}) {
      std::vector<std::string> args = command;
      args.insert(args.end(), {"--tenant", tenant});
      EXPECT_EQ(Rewind(args).exit_code, 2) << command[0] << " --tenant '" << tenant << "'";
    }
  }
  EXPECT_EQ(Rewind({"status", "--tenant", std::string(128, 'x')}).exit_code, 0);
  EXPECT_EQ(Rewind({"serve", "--tenant", "acme"}).exit_code, 2) << "serve drives every tenant's runs";
}

// No byte below 0x20 but the line ends, and no DEL or C1 control.
void ExpectNoControlCharacters(const std::string& what, const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c1 = c == 0xC2 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0x80;
    EXPECT_TRUE((c >= 0x20 || c == '\n') && c != 0x7f && !c1)
        << what << ": control character " << static_cast<int>(c) << " at " << i << " in:\n" << text;
  }
}

TEST_F(RewindCommandsTest, ControlCharactersInNamesReasonsAndErrorsNeverReachTheTerminal) {
  const std::string workflow = File("evil.json", R"({"name": "evil\u001b[2J", "steps": [
    {"id": "step\nrun 0000 completed", "run": "printf 'bad\\033]0;owned\\007\\nrun 0000 completed\\n' >&2; exit 1",
     "retry": {"max_attempts": 1}}]})");
  const ProgramOutput run = Rewind({"run", workflow});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  ExpectNoControlCharacters("run", run.out + run.err);
  const std::string id = Json({"status"})["runs"][0]["run_id"];
  const ProgramOutput resumed = Rewind({"resume", id, "--reason", "\x1b[31mred\x9b", "--dry-run"});
  ExpectNoControlCharacters("resume --dry-run", resumed.out + resumed.err);
  Rewind({"cancel", id, "--reason", "bye\x1b[0m\r"});
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"status", id}, {"status"}, {"runs"}, {"audit"}, {"stats"},
        {"state", id, "--at-seq", "3"}, {"approve", id, "step\nrun 0000 completed"}}) {
    const ProgramOutput o = Rewind(command);
    ExpectNoControlCharacters(command[0], o.out + o.err);
  }
  EXPECT_NE(Rewind({"status", id}).out.find("evil\\x1b[2J"), std::string::npos) << "shown as an escape";
}

TEST_F(RewindCommandsTest, ServePrintsOneJsonObjectPerEventAndOneWhenStopped) {
  const std::string run = OrphanedRun();
  ChildProcess serve(REWIND_CLI, {"serve", "--data", data_, "--json"});
  std::vector<std::string> lines;
  bool completed = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!completed && std::chrono::steady_clock::now() < deadline && serve.ReadLines(100, &lines)) {
    for (const std::string& line : lines) {
      const json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(event.is_object()) << "not one JSON object: " << line;
      EXPECT_EQ(event["run_id"], run);
      completed = completed || event["event"] == "RunCompleted";
    }
    lines.clear();
  }
  ASSERT_TRUE(completed) << "serve did not recover the run";
  serve.Signal(SIGTERM);
  serve.ReadLines(5000, &lines);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(json::parse(lines.back(), nullptr, false), json({{"stopped", "signal"}}));
  EXPECT_EQ(WEXITSTATUS(serve.Wait()), 0);
}

// `serve --listen` serves the API on the engine that drives the runs: a run
// started over HTTP is driven, approved over HTTP, and completes; `rewind
// token` mints what the server accepts.
TEST_F(RewindCommandsTest, ServeListensAndItsApiStartsAndApprovesRuns) {
  const std::string secret = File("secret", std::string(40, 'z') + "\n");
  const std::string gate = File("gate.json", kGate);
  EXPECT_EQ(Rewind({"serve", "--listen", "127.0.0.1:0", "--workflows", gate}).exit_code, 14) << "no way to authenticate";
  EXPECT_EQ(Rewind({"serve", "--listen", "nowhere", "--token-secret-file", secret}).exit_code, 14);
  ChildProcess serve(REWIND_CLI, {"serve", "--data", data_, "--json", "--listen", "127.0.0.1:0", "--workflows", gate,
                                  "--token-secret-file", secret});
  const std::uint16_t port = ListeningPort(serve);
  ASSERT_NE(port, 0) << "serve did not say where it listens";
  const ProgramOutput minted =
      RunProgram(REWIND_CLI, {"token", "--secret-file", secret, "--subject", "ana", "--roles", "operator"}, dir_.path());
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  const std::string token = minted.out.substr(0, minted.out.find('\n'));
  const test::HttpAnswer started =
      test::Http(port, {"POST", "/v1/tenants/default/runs", token, R"({"workflow": "gated"})"});
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string run = started.json()["run_id"];
  json state;
  for (int i = 0; i < 500 && state["status"] != "paused"; ++i) {
    state = test::Http(port, {"GET", "/v1/tenants/default/runs/" + run, token}).json();
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(state["status"], "paused") << state.dump();
  EXPECT_EQ(test::Http(port, {"POST", "/v1/tenants/default/runs/" + run + "/approvals/approve", token,
                              R"({"decision": "approve", "note": "looks right"})"}).status, 200);
  for (int i = 0; i < 500 && state["status"] != "completed"; ++i) {
    state = test::Http(port, {"GET", "/v1/tenants/default/runs/" + run, token}).json();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(state["status"], "completed");
  serve.Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(serve.Wait()), 0);
  EXPECT_EQ(Status(run)["steps"][1]["status"], "completed") << "the approval is in the journal";
}

// Beside `rewind run` in a loop (another process committing all the while):
// commands that write take the journal's lock before they check anything,
// and readers check the snapshot they read, so neither reports damage that
// is not there (a commit between a snapshot and its meta page's read did).
// REWIND_RACES (default 1,000) sets the number of writing commands.
TEST_F(RewindCommandsTest, CommandsBesideALiveWriterNeverReportDamage) {
  const std::string quick = File("quick.json", R"({"name": "quick", "steps": [{"id": "a", "run": "true"}]})");
  Json({"run", quick});
  ChildProcess writer("/bin/sh", {"-c", "while :; do \"$0\" run \"$1\" --data \"$2\" >/dev/null 2>&1; done",
                                  REWIND_CLI, quick, data_});
  const char* races = std::getenv("REWIND_RACES");  // default 1,000
  const int kRaces = races != nullptr ? std::atoi(races) : 1000;
  std::map<int, int> cancel_exits, verify_exits;
  for (int i = 0; i < kRaces; ++i) {
    const ProgramOutput cancel = Rewind({"cancel", std::string(32, '0'), "--json"});
    ++cancel_exits[cancel.exit_code];
    ASSERT_TRUE(cancel.exit_code == 10 || cancel.exit_code == 16) << "race " << i << ": " << cancel.out;
    if (i % 5 != 0) continue;
    const ProgramOutput verify = RunProgram(JOURNAL_INSPECT, {"verify", "--all", "--data", data_}, dir_.path());
    ++verify_exits[verify.exit_code];
    ASSERT_EQ(verify.exit_code, 0) << "race " << i << ": " << verify.out << verify.err;
  }
  std::vector<std::string> lines;
  writer.KillAndDrain(&lines);
  const std::uint64_t runs = Json({"runs", "--limit", "1000000"})["runs"].size();
  std::printf("%d writing commands beside a live writer (exits", kRaces);
  for (const auto& [code, n] : cancel_exits) std::printf(" %d: %d", code, n);
  std::printf("), %d verifies (exits", kRaces / 5);
  for (const auto& [code, n] : verify_exits) std::printf(" %d: %d", code, n);
  std::printf("); the writer completed %llu runs meanwhile\n", static_cast<unsigned long long>(runs));
  EXPECT_GT(runs, 1u) << "the writer was not writing";
}

// One shape of a run's state everywhere: `rewind state` and `journal-inspect
// state` print the same object for the same seq.
TEST_F(RewindCommandsTest, RewindAndJournalInspectShowARunStateInOneShape) {
  const json paused = Json({"run", File("gate.json", kGate)}, 3);
  const std::string run = paused["run_id"];
  for (const std::string& seq : std::vector<std::string>{"1", "3", std::to_string(paused["seq"].get<std::uint64_t>())}) {
    const json ours = Json({"state", run, "--at-seq", seq});
    const ProgramOutput theirs =
        RunProgram(JOURNAL_INSPECT, {"state", run, "--at-seq", seq, "--json", "--data", data_}, dir_.path());
    ASSERT_EQ(theirs.exit_code, 0) << theirs.out << theirs.err;
    EXPECT_EQ(ours, json::parse(theirs.out)["state"]) << "at seq " << seq;
  }
  EXPECT_EQ(paused["paused_step"], "approve");
  EXPECT_EQ(paused["steps"][1]["kind"], "approval");
}

TEST_F(RewindCommandsTest, InputThatIsADirectoryIsInvalid) {
  const json refused = Json({"run", File("gate.json", kGate), "--input", "@" + dir_.path()}, 14);
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("is a directory"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(data_ + "/data.mdb")) << "nothing was started";
}

TEST_F(RewindCommandsTest, AJournalDirectoryThatCannotBeSearchedIsPermissionDenied) {
  Json({"run", File("gate.json", kGate)}, 3);
  std::vector<std::string> as_someone_else;
  if (::geteuid() == 0) {
    // Root searches any directory: ask as nobody, of a directory only root may search.
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/setpriv"));
    as_someone_else = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", REWIND_CLI};
    ::chmod(dir_.path().c_str(), 0700);
  } else {
    as_someone_else = {REWIND_CLI};
    ::chmod(data_.c_str(), 0);
  }
  for (const std::string command : {"status", "runs", "cancel"}) {
    std::vector<std::string> args(as_someone_else.begin() + 1, as_someone_else.end());
    args.push_back(command);
    if (command == "cancel") args.push_back(std::string(32, '0'));
    args.insert(args.end(), {"--data", data_, "--json"});
    const std::string scratch = std::filesystem::temp_directory_path();
    const ProgramOutput o = RunProgram(as_someone_else[0], args, scratch);
    EXPECT_EQ(o.exit_code, 13) << command << ": " << o.out << o.err;
  }
  ::chmod(data_.c_str(), 0755);
}

TEST_F(RewindCommandsTest, ARunThatFindsTheDiskFullExitsResourceExhausted) {
  auto disk = SmallFilesystem::Mount(data_, 3u << 20);
  if (!disk.has_value()) GTEST_SKIP() << disk.error().ToString();
  // Each step's output is most of a MiB: the third cannot be recorded.
  const std::string big = File("big.json", R"({"name": "big", "steps": [
    {"id": "a", "run": "head -c 900000 /dev/zero | tr '\\0' a"},
    {"id": "b", "run": "head -c 900000 /dev/zero | tr '\\0' b"},
    {"id": "c", "run": "head -c 900000 /dev/zero | tr '\\0' c"},
    {"id": "d", "run": "head -c 900000 /dev/zero | tr '\\0' d"}]})");
  const json full = Json({"run", big}, 17);
  EXPECT_EQ(full["error"]["code"], "resource_exhausted") << full.dump();
  EXPECT_NE(full["error"]["message"].get<std::string>().find("stopped being driven"), std::string::npos)
      << "the run started, and a later append found the disk full: " << full.dump();
}

}  // namespace
}  // namespace rwd::test
