// API requests (server/src/api.h) on arbitrary bytes, after HTTP parsing:
// the method, the target (path and query, as the HTTP layer splits and
// decodes it), If-Match, Last-Event-ID and the body all come from the input,
// sent with a valid operator's token or with the input's own credential.
// Api::Handle must never crash, throw or answer 500: every answer is a
// documented status, JSON (or problem+json) that parses, or an event stream;
// a route it does not know is 404 (401 without a valid token) and its
// metrics label "other".
//
// Input: byte 0 picks the method and the token; the rest is lines:
// target \n If-Match \n Last-Event-ID \n body...
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "rewind/executor/engine.h"
#include "rewind/server/auth.h"
#include "server/src/api.h"
#include "server/src/feed.h"
#include "server/src/http.h"

namespace {

using namespace rwd;

const std::string kSecret(32, 's');

struct Fixture {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<server_internal::Feed> feed;
  std::unique_ptr<server_internal::Api> api;
  std::string token;
};

Fixture& Get() {
  static Fixture* f = [] {
    auto* out = new Fixture;
    char dir[] = "/tmp/rewind-request-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(dir) != nullptr);
    static std::string made = dir;
    std::atexit([] { std::filesystem::remove_all(made); });
    EngineOptions o;
    o.journal.directory = std::string(dir) + "/data";
    o.journal.durability = Durability::kNoSync;
    Workflow w("order");
    w.Step("validate", [](const StepContext&) -> Result<Bytes> { return ToBytes("ok"); });
    w.Approval("approve");
    const RunStarted definition = *w.Definition();
    o.workflows.push_back(std::move(w));
    auto engine = Engine::Open(std::move(o));
    FUZZ_CHECK(engine.has_value());
    out->engine = std::move(*engine);
    out->feed = std::make_unique<server_internal::Feed>(out->engine->journal(), server_internal::FeedOptions{});
    auto auth = server::Authenticator::Create({.hs256_secret = kSecret});
    FUZZ_CHECK(auth.has_value());
    out->api = std::make_unique<server_internal::Api>(*out->engine, *out->feed, *auth, std::vector<RunStarted>{definition},
                                                      [] { return std::int64_t{1'800'000'000}; });
    out->token = *server::MintHs256(
        {.subject = "ana", .tenant = "acme", .roles = {"operator"}, .expires_unix = 1'800'000'600}, kSecret);
    return out;
  }();
  return *f;
}

std::string Line(std::string& rest) {
  const std::size_t nl = rest.find('\n');
  std::string line = rest.substr(0, nl);
  rest = nl == std::string::npos ? std::string() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Fixture& f = Get();
  static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW"};
  server_internal::Request r;
  r.method = kMethods[data[0] % 8];
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string target = Line(rest);
  const std::size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    auto query = server_internal::ParseQuery(target.substr(q + 1));
    if (!query) return 0;  // the HTTP layer answers 400 itself
    r.query = std::move(*query);
  }
  r.if_match = Line(rest);
  r.last_event_id = Line(rest);
  r.authorization = (data[0] & 8) != 0 ? "Bearer " + f.token : Line(rest);
  r.body = rest;
  const server_internal::Response answer = f.api->Handle(r);
  static const std::set<int> kStatuses = {200, 201, 400, 401, 403, 404, 405, 409, 412, 503, 507};
  FUZZ_CHECK(kStatuses.count(answer.status) == 1);
  if (answer.stream) {
    FUZZ_CHECK(answer.status == 200 && answer.content_type == "text/event-stream");
    return 0;
  }
  if (answer.content_type.find("json") != std::string::npos) {
    const auto parsed = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(!parsed.is_discarded());
    if (answer.status >= 400) FUZZ_CHECK(parsed.contains("code") && parsed.contains("detail"));
  }
  // A route it does not know is 404 to anyone it knows (401 to the others: the
  // credential is checked before anything else under /v1).
  if (server_internal::RouteTemplate(r.path) == "other") {
    FUZZ_CHECK(answer.status == 404 || (answer.status == 401 && (data[0] & 8) == 0));
  }
  return 0;
}
