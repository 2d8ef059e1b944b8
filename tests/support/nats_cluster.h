// NatsCluster: nats-server processes with JetStream, clustered on loopback,
// for the JetStream journal's tests: each node can be killed, paused (a
// partition, as its peers see it) and restarted on its own store.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rewind/jetstream/stream_log.h"
#include "tests/support/child_process.h"

namespace rwd::test {

class NatsCluster {
 public:
  // Starts `nodes` servers named n1, n2, … under `dir` (their stores, configs
  // and logs), each listening on free loopback ports, and returns once
  // JetStream takes a stream of `nodes` replicas. A node that cannot have
  // its ports makes it start again on others; throws after five tries (the
  // nodes' logs say why).
  static std::unique_ptr<NatsCluster> Start(const std::string& dir, int nodes = 3);
  ~NatsCluster();  // kills every node

  // "nats://127.0.0.1:PORT" of every node, and "nats://HOST:PORT,…/stream".
  std::vector<std::string> urls() const;
  std::string JournalUrl(const std::string& stream) const;
  int size() const { return static_cast<int>(nodes_.size()); }
  // The index of the node leading `log`'s stream, once it has one (an
  // election takes a few seconds); -1 when it has none within 30 s.
  int LeaderOf(jetstream::StreamLog& log) const;

  void Kill(int node);     // SIGKILL
  void Pause(int node);    // SIGSTOP: it answers nothing, its peers see it gone
  void Resume(int node);   // SIGCONT
  // Starts a killed node again on its store; returns once it answers
  // JetStream requests (at most a minute).
  void Restart(int node);
  bool Running(int node) const { return nodes_[node].process != nullptr; }

 private:
  struct Node {
    std::string name, config;
    int client_port = 0;
    std::unique_ptr<ChildProcess> process;
  };
  NatsCluster() = default;
  // Starts `nodes` nodes on ports picked from `random`; false when one of
  // them exited or the cluster was not ready within a minute.
  bool Launch(const std::string& dir, int nodes, std::mt19937& random);
  void Launch(Node& node);
  std::vector<Node> nodes_;
};

}  // namespace rwd::test
