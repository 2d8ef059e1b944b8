// The rewind CLI as a client of the server that holds a journal (remote.h):
// while `rewind serve` runs, the commands that act reach it — found through
// its local access file, or named by --server with a token — print and exit
// as when they open the journal themselves, and act as who they say.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/rewind_cli.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_cert.h"

namespace rwd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The first run of it fails at `check` (no qty in its input); a resume with
// data that has one passes; then it waits at a gate.
constexpr const char* kOrder = R"({"name": "order", "steps": [
  {"id": "check", "run": "printf '%s %s' \"$REWIND_RESUME_DATA\" \"$REWIND_INPUT\" | grep -q qty",
   "retry": {"max_attempts": 1}},
  {"id": "approve", "kind": "approval"},
  {"id": "ship", "run": "echo shipped"}]})";

class RewindClientTest : public ::testing::Test {
 protected:
  ProgramOutput Rewind(std::vector<std::string> args) { return cli_.Run(std::move(args)); }
  json Json(std::vector<std::string> args, int want = 0) { return cli_.Json(std::move(args), want); }
  std::string File(const std::string& name, const std::string& text) {
    const std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }
  std::string AccessFile() const { return data_ + "/server.json"; }

  // `rewind serve` on the journal with the order workflow (and `extra`
  // flags), once its local access file is there.
  std::unique_ptr<ChildProcess> Serve(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"serve", "--data", data_, "--json", "--workflows", order_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto serve = std::make_unique<ChildProcess>(REWIND_CLI, args);
    for (int i = 0; i < 3000 && !std::filesystem::exists(AccessFile()); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(std::filesystem::exists(AccessFile())) << "serve wrote no local access file";
    return serve;
  }

  TempDir dir_;
  std::string data_ = dir_.Sub("data");
  std::string order_ = File("order.json", kOrder);
  RewindCli cli_{REWIND_CLI, data_, dir_.path()};
};

// The operator's flow while the server runs: a run started through it fails,
// is resumed from its step with data and a reason (recorded as the user and
// the --actor), waits at the gate, is approved, and completes. Output and
// exit statuses are those of the commands on a journal of their own.
TEST_F(RewindClientTest, CommandsActThroughTheServerHoldingTheJournal) {
  auto serve = Serve();
  struct stat st {};
  ASSERT_EQ(::stat(AccessFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "only its owner may read the local access file";

  const json failed = Json({"run", order_, "--input", "{}"}, 1);
  ASSERT_EQ(failed["status"], "failed") << failed.dump();
  const std::string run = failed["run_id"];

  EXPECT_EQ(Rewind({"resume", run, "--resume-data", "{\"qty\": 2}"}).exit_code, 14)
      << "a server records why a run is resumed: --reason is required";
  const json preview = Json({"resume", run, "--from-step", "check", "--reason", "qty", "--dry-run"});
  EXPECT_EQ(preview["reset"], json({"check", "approve", "ship"}));
  const ProgramOutput resumed = Rewind({"resume", run, "--from-step", "check", "--reason", "qty given", "--resume-data",
                                        "{\"qty\": 2}", "--actor", "ana"});
  EXPECT_EQ(resumed.exit_code, 3) << resumed.out << resumed.err << " (paused at the gate)";
  EXPECT_NE(resumed.out.find("resumed from 'check' by "), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("/ana: qty given"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("waiting for approval"), std::string::npos) << resumed.out;

  const json approved = Json({"approve", run, "approve", "--note", "fine"});
  EXPECT_EQ(approved["status"], "completed");
  EXPECT_EQ(approved["steps"][2]["output"], "shipped\n");

  const json audit = Json({"audit", "--run", run});
  ASSERT_GE(audit["entries"].size(), 2u) << audit.dump();
  EXPECT_EQ(audit["entries"][1]["action"], "resume");
  EXPECT_EQ(audit["entries"][1]["detail"], "qty given");
  const std::string actor = audit["entries"][1]["actor"];
  EXPECT_TRUE(actor.ends_with("/ana")) << actor;

  // Refusals come back with the engine's exit statuses.
  EXPECT_EQ(Rewind({"approve", run, "approve"}).exit_code, 0) << "the decision it has: appends nothing";
  EXPECT_EQ(Rewind({"reject", run, "approve"}).exit_code, 11) << "the other decision: conflict";
  EXPECT_EQ(Rewind({"resume", std::string(32, 'a'), "--reason", "x"}).exit_code, 10) << "unknown run";
  EXPECT_EQ(Rewind({"pause", run, "--tenant", "acme"}).exit_code, 10) << "another tenant's run is unknown";
  const ProgramOutput other =
      Rewind({"run", File("other.json", R"({"name": "other", "steps": [{"id": "a", "run": "true"}]})")});
  EXPECT_EQ(other.exit_code, 12) << other.err;
  EXPECT_NE(other.err.find("does not run workflow 'other'"), std::string::npos) << other.err;
  const ProgramOutput changed =
      Rewind({"run", File("changed.json", R"({"name": "order", "steps": [{"id": "a", "run": "true"}]})")});
  EXPECT_EQ(changed.exit_code, 12) << changed.err;
  EXPECT_NE(changed.err.find("another definition"), std::string::npos) << changed.err;

  serve->Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(serve->Wait()), 0);
  EXPECT_FALSE(std::filesystem::exists(AccessFile())) << "a clean stop removes the local access file";
  EXPECT_EQ(Json({"status", run})["status"], "completed") << "and the commands open the journal themselves";
}

// A server that was SIGKILLed leaves its local access file behind: the
// commands find nothing answering there and open the journal themselves.
// `pause` through the server exits once the run is paused with its attempts
// in flight settled, as it does on a journal of its own.
TEST_F(RewindClientTest, PauseThroughTheServerWaitsForTheAttemptsInFlight) {
  const std::string slow = File("slow.json", R"({"name": "slow", "steps": [
    {"id": "nap", "run": "sleep 1; echo rested"}, {"id": "after", "run": "true"}]})");
  auto serve = Serve({"--workflows", slow});
  ChildProcess run_it(REWIND_CLI, {"run", slow, "--data", data_, "--json"});
  // The server prints each appended event: wait for the nap's start.
  std::string run;
  std::vector<std::string> lines;
  for (int i = 0; i < 100 && run.empty() && serve->ReadLines(100, &lines); ++i) {
    for (const std::string& line : lines) {
      const json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.value("event", "") == "StepStarted") run = e.value("run_id", "");
    }
    lines.clear();
  }
  ASSERT_FALSE(run.empty()) << "the server printed no StepStarted";
  const json paused = Json({"pause", run, "--reason", "look"});
  EXPECT_EQ(paused["status"], "paused") << paused.dump();
  EXPECT_EQ(paused["steps"][0]["status"], "completed") << "the nap in flight settled first: " << paused.dump();
  EXPECT_EQ(paused["steps"][0]["output"], "rested\n");
  EXPECT_EQ(paused["steps"][1]["status"], "pending");
  EXPECT_EQ(WEXITSTATUS(run_it.Wait()), 3) << "the run's own command reports it paused";
}

TEST_F(RewindClientTest, AFileLeftByAKilledServerIsIgnored) {
  auto serve = Serve();
  std::vector<std::string> lines;
  serve->KillAndDrain(&lines);
  ASSERT_TRUE(std::filesystem::exists(AccessFile()));
  const json failed = Json({"run", order_}, 1);
  EXPECT_EQ(failed["status"], "failed");
  const json resumed = Json({"resume", failed["run_id"], "--resume-data", "qty", "--reason", "r"}, 3);
  EXPECT_EQ(resumed["status"], "paused") << "driven by the command itself, without a reason checked by a server";

  // Another server has taken the dead one's port since: it refuses the
  // token minted with the old file's secret, and the file is ignored.
  const std::string other = dir_.Sub("other");
  ChildProcess other_serve(REWIND_CLI, {"serve", "--data", other, "--json"});
  for (int i = 0; i < 3000 && !std::filesystem::exists(other + "/server.json"); ++i) std::this_thread::sleep_for(10ms);
  std::ifstream in(other + "/server.json");
  const json theirs = json::parse(in, nullptr, false);
  ASSERT_TRUE(theirs.is_object());
  std::ifstream mine_in(AccessFile());
  json mine = json::parse(mine_in, nullptr, false);
  mine["url"] = theirs["url"];
  std::ofstream(AccessFile(), std::ios::trunc) << mine.dump();
  const json again = Json({"run", order_}, 1);
  EXPECT_EQ(again["status"], "failed") << "run on this journal, not the other server's";
  EXPECT_EQ(Json({"status", again["run_id"]})["run_id"], again["run_id"]);
}

// --server URL with --token: the token says who acts, in which tenant; a
// viewer is refused, a missing token is a clear error, another tenant's
// token sees nothing.
TEST_F(RewindClientTest, ServerAndTokenNameWhereAndWhoActs) {
  const std::string secret = File("secret", std::string(40, 's'));
  auto serve = Serve({"--listen", "127.0.0.1:0", "--token-secret-file", secret});
  const std::uint16_t port = ListeningPort(*serve);
  ASSERT_NE(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto token = [&](const std::string& subject, const std::string& tenant, const std::string& roles) {
    const ProgramOutput o = RunProgram(
        REWIND_CLI, {"token", "--secret-file", secret, "--subject", subject, "--tenant", tenant, "--roles", roles},
        dir_.path());
    EXPECT_EQ(o.exit_code, 0) << o.err;
    return o.out.substr(0, o.out.find('\n'));
  };
  const std::string ops = token("olga", "acme", "operator");
  const json failed = Json({"run", order_, "--server", url, "--token", ops}, 1);
  const std::string run = failed["run_id"];
  EXPECT_EQ(failed["tenant"], "acme") << "the token's tenant";

  const ProgramOutput no_token = Rewind({"pause", run, "--server", url});
  EXPECT_EQ(no_token.exit_code, 19) << no_token.err;
  EXPECT_NE(no_token.err.find("REWIND_TOKEN"), std::string::npos) << no_token.err;
  EXPECT_EQ(
      Rewind({"resume", run, "--reason", "r", "--server", url, "--token", token("vic", "acme", "viewer")}).exit_code,
      13)
      << "a viewer may not resume";
  EXPECT_EQ(Rewind({"status", run, "--server", url, "--token", token("eve", "globex", "operator")}).exit_code, 10)
      << "another tenant's run is unknown";
  EXPECT_EQ(Rewind({"status", run, "--server", "ftp://x", "--token", ops}).exit_code, 14) << "not a server url";

  ::setenv("REWIND_SERVER", url.c_str(), 1);
  ::setenv("REWIND_TOKEN", ops.c_str(), 1);
  const ProgramOutput resumed = Rewind({"resume", run, "--reason", "qty", "--resume-data", "qty"});
  ::unsetenv("REWIND_SERVER");
  ::unsetenv("REWIND_TOKEN");
  EXPECT_EQ(resumed.exit_code, 3) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("resumed from 'check' by olga: qty"), std::string::npos) << resumed.out;
  const json state = Json({"state", run, "--at-step", "check", "--server", url, "--token", ops});
  EXPECT_EQ(state["steps"][0]["status"], "completed");
  EXPECT_EQ(Json({"status", run, "--server", url, "--token", ops})["status"], "paused");
  serve->Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(serve->Wait()), 0);
}

// Over TLS: the local access file names the server's certificate, which the
// commands trust as it is; --server https needs a CA that signed it.
TEST_F(RewindClientTest, OverTlsCommandsTrustTheCertificateTheyAreGiven) {
  const TlsFiles tls = SelfSignedCertificate(dir_.path());
  const std::string secret = File("secret", std::string(40, 's'));
  EXPECT_EQ(Rewind({"serve", "--tls-cert", tls.cert}).exit_code, 2) << "a certificate needs its key";
  auto serve = Serve({"--listen", "127.0.0.1:0", "--token-secret-file", secret, "--tls-cert", tls.cert, "--tls-key",
                      tls.key});
  const std::uint16_t port = ListeningPort(*serve);
  ASSERT_NE(port, 0);
  std::ifstream in(AccessFile());
  const json access = json::parse(in, nullptr, false);
  EXPECT_EQ(access["url"], "https://127.0.0.1:" + std::to_string(port)) << access.dump();
  const json failed = Json({"run", order_}, 1);
  ASSERT_EQ(failed["status"], "failed") << "run through the server, over TLS";
  const std::string run = failed["run_id"];

  const ProgramOutput minted = RunProgram(REWIND_CLI, {"token", "--secret-file", secret, "--subject", "olga", "--roles",
                                                       "operator"}, dir_.path());
  const std::string token = minted.out.substr(0, minted.out.find('\n'));
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  const ProgramOutput untrusted = Rewind({"status", run, "--server", url, "--token", token});
  EXPECT_EQ(untrusted.exit_code, 16) << untrusted.err;
  EXPECT_NE(untrusted.err.find("certificate"), std::string::npos) << untrusted.err;
  EXPECT_EQ(Json({"status", run, "--server", url, "--token", token, "--ca-file", tls.cert})["status"], "failed");
  EXPECT_EQ(Rewind({"status", run, "--server", "http://127.0.0.1:" + std::to_string(port), "--token", token}).exit_code,
            16)
      << "plain HTTP to a TLS server";
  serve->Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(serve->Wait()), 0);
}

}  // namespace
}  // namespace rwd::test
