// StepService: the other side of an http step (rewind/executor/http_step.h),
// a small HTTP service of the tests' own. It listens on 127.0.0.1 (a free
// port), checks each request's token with its secret, keeps every request,
// and answers as the test's script says: any status and body, no answer at
// all (hang), or a closed connection.
//
// Thread-safety: every method may be called from any thread; the script runs
// on the service's thread, one request at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rewind/base/status.h"

namespace rwd::test {

// Checks `authorization` ("Bearer <token>") as a service should check an
// http step's: an HS256 JWT signed with `secret`, "sub" "rewind", "aud"
// `audience`, "exp" after `now_unix`, "iat" not after it. Returns the claims,
// or Unauthenticated saying what is wrong.
Result<nlohmann::json> VerifyStepToken(std::string_view authorization, std::string_view secret,
                                       std::string_view audience, std::int64_t now_unix);

class StepService {
 public:
  // What the service does with a request.
  struct Reply {
    unsigned status = 200;
    std::string body = "ok";
    std::vector<std::pair<std::string, std::string>> headers;
    bool hang = false;   // never answer; the connection stays open until the client closes it
    bool close = false;  // close the connection without an answer
  };
  // A request as it came.
  struct Hit {
    std::string method, target, content_type, user_agent, authorization, idempotency_key;
    std::string body;
    nlohmann::json json;            // the body parsed; discarded when it is not JSON
    Result<nlohmann::json> claims;  // VerifyStepToken's verdict on the request
  };
  using Script = std::function<Reply(const Hit&)>;

  // Starts the service; the default script answers 200 "ok".
  explicit StepService(std::string secret);
  ~StepService();
  StepService(const StepService&) = delete;
  StepService& operator=(const StepService&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>": the audience tokens must name.
  std::string Origin() const;
  // Origin() + target.
  std::string Url(std::string_view target = "/step") const { return Origin() + std::string(target); }
  // Answers the next requests as `script` says.
  void Answer(Script script);
  // Checks tokens for this audience from now on (default: Origin()).
  void ExpectAudience(std::string audience);

  std::vector<Hit> Hits() const;
  // Requests so far, to any target or to `target` (the path and query).
  std::size_t HitCount() const;
  std::size_t HitCount(std::string_view target) const;
  // Waits until `n` requests came (true) or `timeout` passed (false).
  bool AwaitHits(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // Waits until clients closed `n` connections the service hung on.
  bool AwaitHangsClosed(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

// A port on 127.0.0.1 that nothing listens on while this lives (bound, never
// listening): a connection to it is refused.
class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace rwd::test
