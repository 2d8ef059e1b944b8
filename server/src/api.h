// The /v1 API as a function from a request to its response (server.h lists
// the routes): authentication, routing, the engine call, and the answer or
// the problem. No sockets here, so every route is tested without them too.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "rewind/base/bounded_cache.h"
#include "rewind/executor/engine.h"
#include "rewind/schemas/events.h"
#include "rewind/server/auth.h"
#include "server/src/feed.h"
#include "server/src/http.h"
#include "server/src/metrics.h"

namespace rwd::server_internal {

// The HTTP status of an error code: not_found 404, conflict 409,
// failed_precondition 412, permission_denied 403, invalid_argument 400,
// unauthenticated 401, unavailable 503, resource_exhausted 507, corruption
// and internal 500.
int HttpStatusFor(Code code);

// application/problem+json (RFC 9457) for `status`: type about:blank, the
// HTTP title, the message as detail, and "code": the Status code's name.
Response ProblemResponse(const Status& status);

// Every route: its method and path template, as /metrics labels requests
// and the OpenAPI document lists them.
struct RouteName {
  std::string method;
  std::string path;
  friend auto operator<=>(const RouteName&, const RouteName&) = default;
};
const std::vector<RouteName>& Routes();

// The template of the route `path` names ("/v1/tenants/{t}/runs/{id}"), or
// "other" for a path that names none.
std::string RouteTemplate(std::string_view path);

// The OpenAPI 3.1 document of the routes (server/openapi.json, built in).
std::string_view OpenApiDocument();

class Api {
 public:
  // `feed` serves the streams; engine and feed outlive the Api.
  // `workflows`: the definitions POST …/runs may start (by workflow name).
  Api(Engine& engine, Feed& feed, std::shared_ptr<const server::Authenticator> auth,
      const std::vector<RunStarted>& workflows, std::function<std::int64_t()> clock);

  // Thread-safe: called from the request pool concurrently. Counts the
  // answer in the metrics.
  Response Handle(const Request& request) const;
  // True when Handle answers `request` without blocking, so the io thread
  // may (http.h IsQuick): health, the OpenAPI document, who the caller is,
  // the workflows, and a run's current state (Engine::State reads the
  // journal and never waits for the run). Time travel, lists, actions and
  // streams go to the pool.
  bool Quick(const Request& request) const;

 private:
  Response Route(const Request& request) const;
  // A stream ends when the credential that opened it expires (`valid_until`,
  // Unix seconds): the client's reconnection is then asked for a new one.
  Response Stream(const Request& request, const Principal& who, std::optional<RunId> run,
                  std::int64_t valid_until) const;
  // The tenant's audit entries, or its refusals (refusals.h).
  Response Audit(const Request& request, const Principal& who, bool refusals) const;
  // 200 with the run's current state and its seq as the ETag.
  Response CurrentStateResponse(const RunState& state) const;

  Engine& engine_;
  Feed& feed_;
  std::shared_ptr<const server::Authenticator> auth_;
  std::map<std::string, RunStarted> workflows_;
  std::function<std::int64_t()> clock_;
  mutable Metrics metrics_;
  // The current states' JSON by run, with their seq: a run's state at a seq
  // never changes, nor does its text.
  mutable BoundedCache<RunId, std::pair<std::uint64_t, std::shared_ptr<const std::string>>> state_texts_{16 << 20};
};

}  // namespace rwd::server_internal
