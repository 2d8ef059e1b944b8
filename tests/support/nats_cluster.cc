#include "tests/support/nats_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>


namespace rwd::test {
namespace {

namespace fs = std::filesystem;

// A loopback port nothing listens on now, chosen at random below the
// kernel's ephemeral range: the kernel hands a port just freed to the next
// process that asks, so two test processes picking ports at once (ctest -j)
// would otherwise often pick the same.
int FreePort(std::mt19937& random) {
  std::uniform_int_distribution<int> pick(20000, 31999);
  for (int tries = 0; tries < 1000; ++tries) {
    const int port = pick(random);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    if (free) return port;
  }
  throw std::runtime_error("no free loopback port");
}

// nats-server from PATH, or where Debian puts it.
std::string ServerProgram() {
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/local/sbin:/sbin";
  for (std::size_t at = 0; at <= path.size();) {
    const std::size_t colon = std::min(path.find(':', at), path.size());
    const fs::path candidate = fs::path(path.substr(at, colon - at)) / "nats-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    at = colon + 1;
  }
  throw std::runtime_error("nats-server is not installed (scripts/setup.sh installs it)");
}

}  // namespace

std::unique_ptr<NatsCluster> NatsCluster::Start(const std::string& dir, int nodes) {
  std::mt19937 random(std::random_device{}());
  // A node that cannot have its ports (another process took one since they
  // were picked) exits at once: the cluster is then started again elsewhere.
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::unique_ptr<NatsCluster> cluster(new NatsCluster());
    if (cluster->Launch(dir, nodes, random)) return cluster;
  }
  throw std::runtime_error("the NATS cluster under " + dir + " did not start (its nodes' logs say why)");
}

bool NatsCluster::Launch(const std::string& dir, int nodes, std::mt19937& random) {
  std::vector<int> route_ports;
  std::set<int> taken;
  auto fresh = [&] {
    int p = FreePort(random);
    while (!taken.insert(p).second) p = FreePort(random);
    return p;
  };
  for (int i = 0; i < nodes; ++i) {
    Node& n = nodes_.emplace_back();
    n.name = "n" + std::to_string(i + 1);
    n.client_port = fresh();
    route_ports.push_back(fresh());
  }
  std::string routes;
  for (int p : route_ports) routes += (routes.empty() ? "" : ", ") + std::string("nats-route://127.0.0.1:") + std::to_string(p);
  // A name of its own: no other test's cluster can route into it.
  const std::string name = "rewind-test-" + std::to_string(::getpid()) + "-" + std::to_string(random());
  for (int i = 0; i < nodes; ++i) {
    Node& n = nodes_[i];
    const fs::path home = fs::path(dir) / n.name;
    fs::remove_all(home);  // what an attempt before this one left
    fs::create_directories(home);
    n.config = home / "server.conf";
    std::ofstream conf(n.config);
    conf << "server_name: " << n.name << "\n"
         << "listen: 127.0.0.1:" << n.client_port << "\n"
         << "jetstream { store_dir: \"" << (home / "store").string() << "\" }\n"
         << "log_file: \"" << (home / "server.log").string() << "\"\n";
    if (nodes > 1) {
      conf << "cluster { name: " << name << ", listen: 127.0.0.1:" << route_ports[i] << ", routes: [" << routes
           << "] }\n";
    }
  }
  for (Node& n : nodes_) Launch(n);
  // Ready once a stream of every node can be made (the meta leader is
  // elected), every node still running: then each holds its own ports.
  jetstream::StreamOptions probe;
  probe.servers = urls();
  probe.stream = "probe";
  probe.replicas = nodes;
  probe.timeout = std::chrono::milliseconds(2000);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    for (Node& n : nodes_) {
      if (n.process->Exited()) return false;
    }
    if (jetstream::StreamLog::Open(probe).has_value()) break;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (Node& n : nodes_) {
    if (n.process->Exited()) return false;
  }
  return true;
}

NatsCluster::~NatsCluster() {
  for (Node& n : nodes_) {
    if (n.process) n.process->Signal(SIGCONT);  // a paused node dies too
    n.process.reset();
  }
}

void NatsCluster::Launch(Node& node) { node.process = std::make_unique<ChildProcess>(ServerProgram(), std::vector<std::string>{"-c", node.config}); }

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (const Node& n : nodes_) out.push_back("nats://127.0.0.1:" + std::to_string(n.client_port));
  return out;
}

std::string NatsCluster::JournalUrl(const std::string& stream) const {
  std::string hosts;
  for (const Node& n : nodes_) hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(n.client_port);
  return "nats://" + hosts + "/" + stream;
}

int NatsCluster::LeaderOf(jetstream::StreamLog& log) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    if (Result<std::string> leader = log.Leader(); leader.has_value()) {
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].name == *leader) return static_cast<int>(i);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return -1;
}

void NatsCluster::Kill(int node) {
  std::vector<std::string> ignored;
  nodes_[node].process->KillAndDrain(&ignored);
  nodes_[node].process.reset();
}

void NatsCluster::Pause(int node) { nodes_[node].process->Signal(SIGSTOP); }
void NatsCluster::Resume(int node) { nodes_[node].process->Signal(SIGCONT); }

void NatsCluster::Restart(int node) {
  if (nodes_[node].process) return;
  Launch(nodes_[node]);
  // Back once it answers JetStream requests itself: a client that reconnects
  // to it earlier hears "no responders" until it has caught up.
  jetstream::StreamOptions probe;
  probe.servers = {urls()[node]};
  probe.stream = "probe";
  probe.replicas = size();
  probe.timeout = std::chrono::milliseconds(2000);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!jetstream::StreamLog::Open(probe).has_value() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace rwd::test
