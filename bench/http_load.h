// HTTP load on loopback for server_bench: a closed-loop GET generator, and
// the floor it is compared with, a bare Boost.Beast server answering every
// request with fixed bytes.
//
// The generator keeps `connections` keep-alive connections to 127.0.0.1,
// each with one request in flight, all driven by one thread (Asio), so the
// server, not a thread per client, decides the rate; it stops by itself after
// `seconds`. The floor server does only what any HTTP server must (accept,
// parse the request with Beast, write an answer) on one io thread, as the
// Rewind server answers a quick request: the same generator against both in
// the same run gives what Rewind's own work costs, whatever the machine.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "rewind/base/status.h"

namespace rwd::bench {

struct LoadResult {
  std::uint64_t answered = 0;  // answers with status 200
  double seconds = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(answered) / seconds : 0; }
};

// GETs `target` (with `Authorization: Bearer token` when a token is given)
// as fast as the server answers. Internal when an answer is not 200 or a
// connection fails before the time is up.
Result<LoadResult> GetLoad(std::uint16_t port, const std::string& target, const std::string& token,
                           unsigned connections, double seconds);

// A bare Beast server on 127.0.0.1 (any free port) answering every request
// with `body` as application/json, until destroyed.
class FloorServer {
 public:
  static Result<std::unique_ptr<FloorServer>> Start(std::string body);
  ~FloorServer();
  std::uint16_t port() const;

  struct State;

 private:
  explicit FloorServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace rwd::bench
