// server_bench: what the HTTP API costs, on loopback, beside the engine's
// own floors measured in the same run.
//
//   resume   POST …/resume of a failed run, one request at a time, each
//            beside one sample of the durable commit floor (engine_util.h):
//            p50 and p99, and p99 above the floor's p99 (target <= 5 ms);
//   approve  POST …/approvals/approve of a run paused at its gate until the
//            next step's StepStarted arrives on the run's event stream: p50
//            and p99 (target p99 <= 20 ms);
//   get      GET …/runs/{id} over --connections keep-alive connections
//            driven by one thread for --seconds: requests/s (target >=
//            20,000), beside a bare Beast server giving the same answer to
//            the same load (bench/http_load.h): the ratio is Rewind's own cost;
//   streams  runs/s of a 3-step no-op workflow started and awaited by
//            --clients threads for --seconds, first with no stream client,
//            then with --streams clients attached to the tenant's stream and
//            read all along, --rounds times: the median ratio (target >=
//            0.9).
// Traffic goes to 127.0.0.1 only and every phase stops by itself.
//
// Output: a table for people; with --json FILE also JSON rows for the report.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/engine_util.h"
#include "bench/flags.h"
#include "bench/http_load.h"
#include "rewind/executor/engine.h"
#include "rewind/server/client.h"
#include "rewind/server/server.h"

namespace rwd {
namespace {

using namespace bench;  // NOLINT: the bench helpers
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace http = beast::http;

struct Settings {
  unsigned runs = 200;
  unsigned clients = 2;
  unsigned connections = 16;
  double seconds = 3;
  unsigned streams = 1000;
  unsigned rounds = 5;
  std::string dir = "bench-tmp";
  std::string json;
};

const std::string kSecret(40, 'b');

Workflow FailsOnce() {
  Workflow w("fails-once");
  w.Step("work", [](const StepContext& c) -> Result<Bytes> {
    if (c.epoch == 0) return Err(Code::kFailedPrecondition, "fails until resumed");
    return Bytes{};
  });
  return w;
}

Workflow Gated() {
  Workflow w("gated");
  w.Step("prepare", [](const StepContext&) -> Result<Bytes> { return Bytes{}; });
  w.Approval("approve");
  w.Step("ship", [](const StepContext&) -> Result<Bytes> { return Bytes{}; });
  return w;
}

std::string Token() {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  return *server::MintHs256(
      {.subject = "bench", .tenant = "default", .roles = {"operator"}, .expires_unix = now.count() + 3600}, kSecret);
}

// Starts `n` runs of `workflow` and waits until each has stopped.
Result<std::vector<RunId>> Stopped(Engine& engine, const std::string& workflow, unsigned n) {
  std::vector<RunId> runs;
  for (unsigned i = 0; i < n; ++i) {
    REWIND_ASSIGN_OR_RETURN(RunId run, engine.Start({.workflow = workflow, .actor = BenchPrincipal()}));
    runs.push_back(run);
  }
  for (const RunId& run : runs) REWIND_RETURN_IF_ERROR(internal::StatusOf(engine.Await(run, BenchPrincipal(), 30s)));
  return runs;
}

// This thread runs only when nothing else wants a core, and is preempted at
// once when something does (SCHED_IDLE; a nice value only shares time).
void IdlePriority() {
  sched_param none{};
  ::sched_setscheduler(0, SCHED_IDLE, &none);
}

// A busy loop on every core at idle priority while it lives. The streams
// phase runs both of its halves beside it: a core that reads streams never
// sleeps, and one that sleeps answers a wake-up later (more so in a VM), so
// without it the half with streams would gain from its busy cores.
class IdleSpinners {
 public:
  IdleSpinners() {
    for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i) {
      threads_.emplace_back([this] {
        IdlePriority();
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
    }
  }
  ~IdleSpinners() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// `n` clients of the tenant's event stream that read everything and keep
// nothing: plain sockets read by one thread through epoll, bytes counted and
// never parsed, so what they cost is as little as a reader can (a browser
// reads on another machine, not on these 2 cores).
class StreamSinks {
 public:
  StreamSinks(std::uint16_t port, const std::string& token, unsigned n) : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    const std::string request = "GET /v1/tenants/default/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                token + "\r\nAccept: text/event-stream\r\n\r\n";
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (unsigned i = 0; i < n && epoll_ >= 0; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.fd = fd;
      if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 ||
          ::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()) ||
          ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e) != 0) {
        if (fd >= 0) ::close(fd);
        continue;
      }
      fds_.push_back(fd);
    }
    reader_ = std::thread([this] {
      // Browsers read on other machines: here the reading takes only what the
      // server leaves of these cores, and gives way the moment it wants them.
      IdlePriority();
      std::vector<char> buf(1 << 16);
      std::vector<epoll_event> ready(256);
      while (!stop_.load()) {
        const int count = ::epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), 5);
        for (int i = 0; i < count; ++i) {
          const int fd = ready[static_cast<std::size_t>(i)].data.fd;
          const ssize_t got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);  // the server ended it
            ++ended_;
          } else if (got > 0) {
            bytes_ += static_cast<std::uint64_t>(got);
          }
        }
      }
    });
  }
  ~StreamSinks() {
    stop_ = true;
    reader_.join();
    for (const int fd : fds_) ::close(fd);
    if (epoll_ >= 0) ::close(epoll_);
  }
  std::size_t attached() const { return fds_.size(); }
  std::uint64_t bytes() const { return bytes_.load(); }
  std::uint64_t ended() const { return ended_.load(); }  // streams the server ended

 private:
  const int epoll_;
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::uint64_t> ended_{0};
  std::thread reader_;
};

// The server's rewind_stream_clients gauge (from /metrics).
std::uint64_t StreamClients(std::uint16_t port, const std::string& token) {
  const std::string metrics = server::Http(port, {"GET", "/metrics", token, ""}).body;
  const std::string_view name = "\nrewind_stream_clients ";
  const std::size_t at = metrics.find(name);
  return at == std::string::npos ? ~0ull : std::strtoull(metrics.c_str() + at + name.size(), nullptr, 10);
}

double Median(std::vector<double> values) { return Percentile(values, 0.5); }

// Runs started and awaited by `threads` threads for `seconds`: runs/s.
double Throughput(Engine& engine, unsigned threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> done{0};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      while (!stop.load()) {
        auto run = engine.Start({.workflow = "noop3", .actor = BenchPrincipal()});
        if (!run.has_value() || !engine.Await(*run, BenchPrincipal(), 30s).has_value()) return;
        done.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  return PerSecond(done.load(), Seconds(Clock::now() - start));
}

Status Measure(const Settings& s, const fs::path& dir, JsonRows& rows) {
  EngineOptions o;
  o.journal.directory = (dir / "data").string();
  o.workflows.push_back(FailsOnce());
  o.workflows.push_back(Gated());
  o.workflows.push_back(NoopWorkflow("noop3", 3));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Open(std::move(o)));
  REWIND_ASSIGN_OR_RETURN(auto auth, server::Authenticator::Create({.hs256_secret = kSecret}));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<server::Server> srv,
                          server::Server::Start(*engine, {.auth = auth, .max_streams_per_tenant = s.streams + 16}));
  const std::uint16_t port = srv->port();
  const std::string token = Token();
  const std::string base = "/v1/tenants/default/runs/";

  // resume
  CommitFloor floor(engine->journal());
  REWIND_ASSIGN_OR_RETURN(std::vector<RunId> failed, Stopped(*engine, "fails-once", s.runs));
  std::vector<double> resume_ms;
  for (const RunId& run : failed) {
    const auto t0 = Clock::now();
    const server::HttpAnswer a =
        server::Http(port, {"POST", base + run.ToString() + "/resume", token, R"({"reason": "bench"})"});
    resume_ms.push_back(Millis(Clock::now() - t0));
    if (a.status != 200) return Status(Code::kInternal, "resume answered " + std::to_string(a.status) + ": " + a.body);
    REWIND_RETURN_IF_ERROR(floor.Sample());
  }
  const double resume_p50 = Percentile(resume_ms, 0.5), resume_p99 = Percentile(resume_ms, 0.99);
  std::printf("resume over HTTP   p50 %.2f ms  p99 %.2f ms   durable commit p50 %.2f ms  p99 %.2f ms   "
              "p99 above the commit's: %.2f ms (target <= 5)\n",
              resume_p50, resume_p99, floor.P50(), floor.P99(), resume_p99 - floor.P99());
  rows.Add({{"phase", "resume"}, {"p50_ms", resume_p50}, {"p99_ms", resume_p99}, {"commit_p50_ms", floor.P50()},
            {"commit_p99_ms", floor.P99()}, {"above_commit_p99_ms", resume_p99 - floor.P99()}, {"runs", s.runs}});

  // approve → StepStarted on the stream
  REWIND_ASSIGN_OR_RETURN(std::vector<RunId> gated, Stopped(*engine, "gated", s.runs));
  std::vector<double> approve_ms;
  for (const RunId& run : gated) {
    server::SseClient stream(port, base + run.ToString() + "/stream", token);
    stream.ReadUntil([&](const auto&) { return stream.attached(); });
    const auto t0 = Clock::now();
    const server::HttpAnswer a =
        server::Http(port, {"POST", base + run.ToString() + "/approvals/approve", token, R"({"decision": "approve"})"});
    if (a.status != 200) return Status(Code::kInternal, "approve answered " + std::to_string(a.status));
    // StepStarted may come in one read with what follows it (the step is quick).
    auto started = [](const std::vector<server::SseEvent>& e) {
      return std::any_of(e.begin(), e.end(), [](const server::SseEvent& x) { return x.data["type"] == "StepStarted"; });
    };
    if (!started(stream.ReadUntil(started))) {
      return Status(Code::kInternal, "no StepStarted on the stream after an approval");
    }
    approve_ms.push_back(Millis(Clock::now() - t0));
  }
  const double approve_p50 = Percentile(approve_ms, 0.5), approve_p99 = Percentile(approve_ms, 0.99);
  std::printf("approve -> StepStarted on the stream   p50 %.2f ms  p99 %.2f ms (target p99 <= 20)\n", approve_p50,
              approve_p99);
  rows.Add({{"phase", "approve"}, {"p50_ms", approve_p50}, {"p99_ms", approve_p99}, {"runs", s.runs}});

  // GET a run's state, and the same answer from a bare Beast server
  {
    const std::string target = base + gated.front().ToString();
    const server::HttpAnswer sample = server::Http(port, {"GET", target, token, ""});
    if (sample.status != 200) return Status(Code::kInternal, "GET answered " + std::to_string(sample.status));
    REWIND_ASSIGN_OR_RETURN(LoadResult got, GetLoad(port, target, token, s.connections, s.seconds));
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<FloorServer> bare, FloorServer::Start(sample.body));
    REWIND_ASSIGN_OR_RETURN(LoadResult floor_got, GetLoad(bare->port(), target, token, s.connections, s.seconds));
    const double rate = got.per_second(), floor_rate = floor_got.per_second();
    std::printf("GET a run's state  %.0f requests/s over %u keep-alive connections (target >= 20,000); "
                "a bare Beast server with the same answer %.0f (ratio %.2f)\n",
                rate, s.connections, floor_rate, floor_rate > 0 ? rate / floor_rate : 0);
    rows.Add({{"phase", "get"}, {"requests_per_s", rate}, {"floor_requests_per_s", floor_rate},
              {"ratio", floor_rate > 0 ? rate / floor_rate : 0}, {"connections", s.connections}});
  }

  // stream clients' cost to the engine: rounds of runs alone, then with
  // the clients attached, so both halves of a ratio share the machine's
  // mood of the moment, each beside idle-priority spinners; the medians are
  // reported.
  std::vector<double> alone, watched, ratios;
  std::uint64_t received = 0, ended = 0;
  for (unsigned round = 0; round < s.rounds; ++round) {
    const IdleSpinners spinners;
    // Odd rounds measure the watched half first: what the order does (a
    // journal grown by the first half, caches warmed by it) cancels out.
    if (round % 2 == 0) alone.push_back(Throughput(*engine, s.clients, s.seconds));
    {
      StreamSinks sinks(port, token, s.streams);
      if (sinks.attached() != s.streams) {
        return Status(Code::kInternal,
                      std::to_string(sinks.attached()) + " of " + std::to_string(s.streams) + " streams attached");
      }
      std::this_thread::sleep_for(200ms);  // every stream attached before the runs start
      watched.push_back(Throughput(*engine, s.clients, s.seconds));
      received += sinks.bytes();
      ended += sinks.ended();
    }
    // No stream is left once its client has gone (the server watches for it).
    const auto t0 = Clock::now();
    while (StreamClients(port, token) != 0 && Clock::now() - t0 < 10s) std::this_thread::sleep_for(10ms);
    if (const std::uint64_t left = StreamClients(port, token); left != 0) {
      return Status(Code::kInternal, std::to_string(left) + " streams still attached 10 s after their clients left");
    }
    if (round % 2 == 1) alone.push_back(Throughput(*engine, s.clients, s.seconds));
    ratios.push_back(alone.back() > 0 ? watched.back() / alone.back() : 0);
  }
  const double mb_per_s = static_cast<double>(received) / 1e6 / (s.seconds * s.rounds);
  const double ratio = Median(ratios);
  std::printf("runs/s of a 3-step workflow  %.0f alone, %.0f with %u stream clients (median of %u rounds; ratio %.2f, "
              "rounds %.2f..%.2f, target >= 0.9); %.0f MB/s of events delivered to them, %llu streams ended\n",
              Median(alone), Median(watched), s.streams, s.rounds, ratio,
              *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()),
              mb_per_s, static_cast<unsigned long long>(ended));
  rows.Add({{"phase", "streams"}, {"runs_per_s_alone", Median(alone)}, {"runs_per_s_with_streams", Median(watched)},
            {"ratio", ratio}, {"rounds", s.rounds}, {"seconds", s.seconds}, {"streams", s.streams}, {"delivered_mb_per_s", mb_per_s},
            {"cut_off", ended}});
  srv.reset();
  return ProjectionsHealthy(*engine);
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  using namespace rwd;
  using namespace std::chrono_literals;
  Settings s;
  CLI::App app("server_bench: the HTTP API's costs on loopback, beside the engine's floors");
  app.add_option("--runs", s.runs, "runs resumed and approved, one at a time")->capture_default_str();
  app.add_option("--clients", s.clients, "threads starting and awaiting runs in the throughput phases")
      ->capture_default_str();
  app.add_option("--connections", s.connections, "keep-alive connections of the GET phase, one request in flight each")
      ->capture_default_str();
  app.add_option("--seconds", s.seconds, "length of the GET and throughput phases")->capture_default_str();
  app.add_option("--streams", s.streams, "stream clients attached while runs go on")->capture_default_str();
  app.add_option("--rounds", s.rounds, "rounds of the streams phase (runs alone, then watched)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench::AddOutputFlags(app, s.dir, s.json);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  // A client and a server socket per stream, in one process.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  bench::JsonRows rows("server", s.json);
  auto scratch = bench::ScratchDir::Create(s.dir, "server-bench");
  if (!scratch.has_value()) {
    std::fprintf(stderr, "server_bench: %s\n", scratch.error().ToString().c_str());
    return 1;
  }
  if (Status done = Measure(s, (*scratch)->path(), rows); !done.ok()) {
    std::fprintf(stderr, "server_bench: %s\n", done.ToString().c_str());
    return 1;
  }
  if (Status written = rows.Write(); !written.ok()) {
    std::fprintf(stderr, "server_bench: %s\n", written.ToString().c_str());
    return 1;
  }
  return 0;
}
