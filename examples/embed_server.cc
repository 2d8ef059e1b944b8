// Embedding the server: a service that drives its own workflows mounts the
// HTTP API on its engine, so operators, the Run Console and the `rewind`
// commands on this machine reach the runs it holds.
//
//   embed_server [--data DIR] [--serve]   (default: a fresh directory under /tmp)
//
// "refund": check (C++) -> approve (a gate) -> pay (C++). The service
// accepts bearer tokens signed with its secret, and writes the journal
// directory's local access file so that `rewind approve RUN approve --data DIR`
// run by the same OS user goes through it. Without --serve it shows the
// round trip itself and exits: a refund started over HTTP, followed on its
// event stream to the gate, approved over HTTP, and followed to its end.
// With --serve it prints a token and waits for Ctrl-C.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "rewind/executor/engine.h"
#include "rewind/server/auth.h"
#include "rewind/server/client.h"
#include "rewind/server/local_access.h"
#include "rewind/server/server.h"

namespace {

using rwd::Bytes;
using rwd::Result;
using rwd::StepContext;

rwd::Workflow Refund() {
  rwd::Workflow w("refund");
  w.Step("check", [](const StepContext& c) -> Result<Bytes> {
    if (c.input.empty()) return rwd::Err(rwd::Code::kInvalidArgument, "a refund names an order");
    return rwd::ToBytes("refundable");
  });
  w.Approval("approve");
  w.Step("pay", [](const StepContext& c) -> Result<Bytes> { return rwd::ToBytes("paid, key " + c.idempotency_key); });
  return w;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "embed_server: %s\n", what.c_str());
  return 1;
}

// Reads the run's stream until an event of `type` (the stream resumes
// after `position`, which it advances).
bool AwaitEvent(std::uint16_t port, const std::string& path, const std::string& token, std::uint64_t& position,
                const std::string& type) {
  rwd::server::SseClient stream(port, path, token, std::to_string(position));
  bool seen = false;
  stream.ReadUntil(
      [&](const std::vector<rwd::server::SseEvent>& events) {
        for (const auto& e : events) {
          if (e.id <= position) continue;
          position = e.id;
          std::printf("  seq %-3s %s\n", e.data["seq"].dump().c_str(), e.data["type"].get<std::string>().c_str());
          seen = seen || e.data["type"] == type;
        }
        return seen;
      },
      10'000);
  return seen;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data;
  bool serve = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--data") == 0 && i + 1 < argc) data = argv[++i];
    if (std::strcmp(argv[i], "--serve") == 0) serve = true;
  }
  if (data.empty()) {
    char dir[] = "/tmp/rewind-embed-server-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return Fail("cannot make a directory under /tmp");
    data = dir;
  }
  rwd::EngineOptions options;
  options.journal.directory = data;
  rwd::Workflow refund = Refund();
  auto definition = refund.Definition();
  options.workflows.push_back(std::move(refund));
  auto engine = rwd::Engine::Open(std::move(options));
  if (!engine.has_value()) return Fail(engine.error().ToString());

  // Who may call: tokens signed with the service's secret, and local tokens.
  const std::string secret = rwd::server::NewLocalSecret(), local = rwd::server::NewLocalSecret();
  auto auth = rwd::server::Authenticator::Create({.hs256_secret = secret, .local_secret = local});
  if (!auth.has_value()) return Fail(auth.error().ToString());
  auto server = rwd::server::Server::Start(**engine, {.auth = *auth, .workflows = {*definition}});
  if (!server.has_value()) return Fail(server.error().ToString());
  const std::uint16_t port = (*server)->port();
  auto access = rwd::server::LocalAccessFile::Publish(
      data, {::getpid(), rwd::server::LocalUrl("127.0.0.1", port), local, ""});
  if (!access.has_value()) return Fail(access.error().ToString());
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string token = *rwd::server::MintHs256(
      {.subject = "ops", .tenant = "default", .roles = {"operator"}, .expires_unix = now + 3600}, secret);
  std::printf("serving the API of journal %s on http://127.0.0.1:%u\n", data.c_str(), port);

  if (serve) {
    std::printf("token: %s\nCtrl-C stops\n", token.c_str());
    std::fflush(stdout);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    int sig = 0;
    sigwait(&stop, &sig);
    return 0;
  }

  const rwd::server::HttpAnswer started = rwd::server::Http(
      port, {"POST", "/v1/tenants/default/runs", token, R"({"workflow": "refund", "input": {"order": 7}})", {}});
  if (started.status != 201) return Fail("start: HTTP " + std::to_string(started.status) + " " + started.body);
  const std::string run = started.json()["run_id"];
  const std::string path = "/v1/tenants/default/runs/" + run;
  std::printf("started refund %s over HTTP; its stream:\n", run.c_str());
  std::uint64_t position = 0;
  if (!AwaitEvent(port, path + "/stream", token, position, "RunPaused")) return Fail("the run never reached its gate");
  const rwd::server::HttpAnswer approved = rwd::server::Http(
      port, {"POST", path + "/approvals/approve", token, R"({"decision": "approve", "note": "refund ok"})", {}});
  if (approved.status != 200) return Fail("approve: HTTP " + std::to_string(approved.status) + " " + approved.body);
  std::printf("approved over HTTP; the stream goes on:\n");
  if (!AwaitEvent(port, path + "/stream", token, position, "RunCompleted")) return Fail("the run never completed");
  std::printf("refund %s completed\n", run.c_str());
  return 0;
}
