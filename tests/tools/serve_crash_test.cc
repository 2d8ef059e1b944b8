// `rewind serve --listen` SIGKILLed while clients act on runs over HTTP and
// follow them on the tenant's event stream, then started again:
//   * every action answered 2xx is in the journal after the restart (a
//     started run exists; an approval answered 200 is recorded);
//   * a stream client that reconnects with the Last-Event-ID it last saw
//     gets every event of the journal exactly once, in order, across all
//     the restarts.
//
// REWIND_SERVE_CRASH_ROUNDS (default 50) and REWIND_SERVE_CRASH_SEED choose
// the kills.
#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rewind/journal/journal.h"
#include "rewind/projections/history.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/kill_schedule.h"
#include "tests/support/rewind_cli.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kGate = R"({"name": "gated", "steps": [
  {"id": "prepare", "run": "true"},
  {"id": "approve", "kind": "approval"},
  {"id": "ship", "run": "true"}]})";

struct Serve {
  std::unique_ptr<ChildProcess> process;
  std::uint16_t port = 0;
};

Serve Start(const std::string& data, const std::string& workflow, const std::string& secret) {
  Serve s;
  s.process = std::make_unique<ChildProcess>(
      REWIND_CLI, std::vector<std::string>{"serve", "--data", data, "--json", "--listen", "127.0.0.1:0", "--workflows",
                                           workflow, "--token-secret-file", secret});
  s.port = ListeningPort(*s.process);
  return s;
}

TEST(ServeCrashTest, AcknowledgedActionsSurviveAndStreamsResumeWithoutGapOrDuplicate) {
  KillSchedule schedule("REWIND_SERVE_CRASH", 50);
  std::mt19937_64& rng = schedule.rng();
  TempDir dir;
  const std::string data = dir.Sub("data"), workflow = dir.Sub("gate.json"), secret = dir.Sub("secret");
  std::ofstream(workflow) << kGate;
  std::ofstream(secret) << std::string(40, 'q');
  const ProgramOutput minted = RunProgram(
      REWIND_CLI, {"token", "--secret-file", secret, "--subject", "ana", "--roles", "operator"}, dir.path());
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  const std::string token = minted.out.substr(0, minted.out.find('\n'));

  std::set<std::string> started;                  // runs whose start was answered 201
  std::set<std::string> approved;                 // runs whose approval was answered 200
  std::vector<std::uint64_t> streamed;            // every id the stream delivered, in order
  std::uint64_t last_id = 0;
  std::uint64_t kills = 0, acknowledged = 0;
  for (std::uint64_t round = 0; round <= schedule.rounds(); ++round) {
    const bool last_round = round == schedule.rounds();
    Serve serve = Start(data, workflow, secret);
    ASSERT_NE(serve.port, 0) << "round " << round << ": serve did not listen";
    SseClient stream(serve.port, "/v1/tenants/default/stream", token, std::to_string(last_id));
    // The stream is read all along, as a page would; it ends when the server dies.
    std::atomic<std::uint64_t> drain_to{0};
    std::thread reader([&] {
      stream.ReadUntil(
          [&](const std::vector<SseEvent>& events) {
            const std::uint64_t target = drain_to.load();
            return target != 0 && (events.empty() ? last_id : events.back().id) >= target;
          },
          120'000);
    });
    std::atomic<bool> stop{false};
    std::thread actor([&] {
      // Start runs (keyed, so a retried start is the same run) and approve
      // those waiting at their gate.
      for (int i = 0; !stop.load(); ++i) {
        const std::string key = "r" + std::to_string(round) + "-" + std::to_string(i);
        const HttpAnswer a = Http(serve.port, {"POST", "/v1/tenants/default/runs", token,
                                               R"({"workflow": "gated", "idempotency_key": ")" + key + "\"}"});
        if (a.status != 201) break;
        const std::string run = a.json()["run_id"];
        started.insert(run);
        for (int tries = 0; tries < 50 && !stop.load(); ++tries) {
          const HttpAnswer ok = Http(serve.port, {"POST", "/v1/tenants/default/runs/" + run + "/approvals/approve",
                                                  token, R"({"decision": "approve"})"});
          if (ok.status == 200) {
            approved.insert(run);
            break;
          }
          if (ok.status == 0) return;  // the server is gone
          std::this_thread::sleep_for(2ms);
        }
      }
    });
    if (!last_round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 300)(rng)));
      serve.process->Signal(SIGKILL);
      ++kills;
      stop = true;
      actor.join();
    } else {
      std::this_thread::sleep_for(300ms);
      stop = true;
      actor.join();
      // Drain: everything the journal holds reaches the stream, then stop.
      std::this_thread::sleep_for(200ms);
      auto journal = Journal::Open({.directory = data, .read_only = true});
      ASSERT_TRUE(journal.has_value()) << journal.error().ToString();
      drain_to = std::max<std::uint64_t>(*(*journal)->LastPosition(), 1);
    }
    reader.join();
    if (last_round) serve.process->Signal(SIGTERM);
    for (const SseEvent& e : stream.ReadUntil([](const auto&) { return true; }, 0)) {
      streamed.push_back(e.id);
      last_id = e.id;
    }
    serve.process->Wait();
  }
  acknowledged = started.size() + approved.size();

  // The journal after the last restart holds every acknowledged action.
  auto journal = Journal::Open({.directory = data, .read_only = true});
  ASSERT_TRUE(journal.has_value()) << journal.error().ToString();
  for (const std::string& run : started) {
    auto history = RunHistory::Read(**journal, *RunId::Parse(run));
    ASSERT_TRUE(history.has_value()) << "acknowledged start of " << run << " lost";
    if (approved.count(run) == 0) continue;
    bool decided = false;
    for (const Event& e : history->events()) decided = decided || std::holds_alternative<ApprovalDecided>(e.body);
    EXPECT_TRUE(decided) << "acknowledged approval of " << run << " lost";
  }
  // The stream delivered positions 1..end, each once, in order.
  const std::uint64_t end = *(*journal)->LastPosition();
  ASSERT_EQ(streamed.size(), end) << "events streamed against events in the journal";
  for (std::uint64_t i = 0; i < streamed.size(); ++i) ASSERT_EQ(streamed[i], i + 1) << "at the " << i << "th event";
  std::printf("%llu kills, %llu acknowledged actions (%zu starts, %zu approvals) all in the journal; "
              "%llu events streamed across the restarts, each once\n",
              static_cast<unsigned long long>(kills), static_cast<unsigned long long>(acknowledged), started.size(),
              approved.size(), static_cast<unsigned long long>(end));
  EXPECT_GT(started.size(), schedule.rounds() / 2) << "the actor was not acting";
}

}  // namespace
}  // namespace rwd::test
