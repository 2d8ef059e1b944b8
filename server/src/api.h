// The /v1 API as a function from a request to its response (server.h lists
// the routes): authentication, routing, the engine call, and the answer or
// the problem. No sockets here, so every route is tested without them too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "rewind/executor/engine.h"
#include "rewind/server/auth.h"
#include "server/src/http.h"

namespace rwd::server_internal {

// The HTTP status of an error code: not_found 404, conflict 409,
// failed_precondition 412, permission_denied 403, invalid_argument 400,
// unauthenticated 401, unavailable 503, resource_exhausted 507, corruption
// and internal 500.
int HttpStatusFor(Code code);

// application/problem+json (RFC 9457) for `status`: type about:blank, the
// HTTP title, the message as detail, and "code": the Status code's name.
Response ProblemResponse(const Status& status);

class Api {
 public:
  Api(Engine& engine, std::shared_ptr<const server::Authenticator> auth, std::set<std::string> workflows,
      std::function<std::int64_t()> clock)
      : engine_(engine), auth_(std::move(auth)), workflows_(std::move(workflows)), clock_(std::move(clock)) {}

  // Thread-safe: called from the request pool concurrently.
  Response Handle(const Request& request) const;

 private:
  Engine& engine_;
  std::shared_ptr<const server::Authenticator> auth_;
  std::set<std::string> workflows_;
  std::function<std::int64_t()> clock_;
};

}  // namespace rwd::server_internal
