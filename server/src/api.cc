#include "server/src/api.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <limits>
#include <optional>
#include <set>
#include <vector>

#include "rewind/inspect/event_json.h"
#include "rewind/inspect/state_json.h"
#include "rewind/inspect/timeline.h"
#include "rewind/projections/history.h"
#include "rewind/server/api_json.h"
#include "server/src/console.h"

namespace rwd::server_internal {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPageRuns = 1000;
constexpr std::uint64_t kMaxPageEvents = 10'000;

using server::JsonText;

Response JsonResponse(int status, const json& body) { return Response{status, "application/json", JsonText(body), {}}; }

Status Invalid(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }

// A request body: a JSON object whose fields are read once each; a field
// that is not read is an error (Finish).
class Body {
 public:
  static Result<Body> Parse(const std::string& text) {
    if (text.empty()) return Body(json::object());
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Err(Invalid("the body is not JSON"));
    if (!j.is_object()) return Err(Invalid("the body is not a JSON object"));
    return Body(std::move(j));
  }

  // A string field; "" when absent and not required.
  Result<std::string> Text(const char* name, bool required = false) {
    const json* f = Find(name);
    if (f == nullptr) {
      if (required) return Err(Invalid(std::string(name) + ": missing"));
      return std::string();
    }
    if (!f->is_string()) return Err(Invalid(std::string(name) + ": expected a string"));
    return f->get<std::string>();
  }
  Result<std::optional<std::uint64_t>> Number(const char* name) {
    const json* f = Find(name);
    if (f == nullptr) return std::optional<std::uint64_t>();
    if (!f->is_number_unsigned()) return Err(Invalid(std::string(name) + ": expected a whole number >= 0"));
    return std::optional<std::uint64_t>(f->get<std::uint64_t>());
  }
  Result<bool> Flag(const char* name) {
    const json* f = Find(name);
    if (f == nullptr) return false;
    if (!f->is_boolean()) return Err(Invalid(std::string(name) + ": expected true or false"));
    return f->get<bool>();
  }
  // Any JSON value, as the bytes handed to the run: a string as its text,
  // anything else as its JSON; absent (or null): no bytes.
  Bytes Data(const char* name) {
    const json* f = Find(name);
    if (f == nullptr || f->is_null()) return {};
    return ToBytes(f->is_string() ? f->get<std::string>() : JsonText(*f));
  }
  Status Finish() const {
    for (const auto& [key, value] : j_.items()) {
      if (read_.count(key) == 0) return Invalid(key + ": not a field of this request");
    }
    return Status::Ok();
  }

 private:
  explicit Body(json j) : j_(std::move(j)) {}
  const json* Find(const char* name) {
    read_.insert(name);
    auto it = j_.find(name);
    return it == j_.end() ? nullptr : &*it;
  }
  json j_;
  std::set<std::string> read_;
};

// The path's segments, percent-decoded; nullopt for an empty segment or a
// bad escape (no route has either).
std::optional<std::vector<std::string>> Segments(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path[0] != '/') return std::nullopt;
  path.remove_prefix(1);
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    auto segment = PercentDecode(path.substr(0, slash));
    if (!segment || segment->empty()) return std::nullopt;
    out.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return std::nullopt;  // a trailing slash
  }
  return out;
}

Result<std::uint64_t> QueryNumber(const Request& r, const char* name, std::uint64_t fallback) {
  auto it = r.query.find(name);
  if (it == r.query.end()) return fallback;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || end != it->second.data() + it->second.size()) {
    return Err(Invalid(std::string(name) + ": expected a whole number >= 0"));
  }
  return v;
}

// The seq an If-Match header names ("12" or 12); nullopt when absent.
Result<std::optional<std::uint64_t>> IfMatch(const Request& r) {
  if (r.if_match.empty()) return std::optional<std::uint64_t>();
  std::string_view v = r.if_match;
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  std::uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seq);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return Err(Invalid("If-Match: expected the run's seq as its ETag gives it (\"12\")"));
  }
  return std::optional<std::uint64_t>(seq);
}

Response WithHeader(Response r, std::string name, std::string value) {
  r.headers.emplace_back(std::move(name), std::move(value));
  return r;
}


}  // namespace

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kFailedPrecondition: return 412;
    case Code::kPermissionDenied: return 403;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kUnavailable: return 503;
    case Code::kResourceExhausted: return 507;
    case Code::kCorruption:
    case Code::kInternal: return 500;
  }
  return 500;
}

Response ProblemResponse(const Status& s) {
  Response r = Problem(HttpStatusFor(s.code()), CodeName(s.code()), s.message());
  if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

namespace {

Response MethodNotAllowed(const std::string& allow) {
  Response r = Problem(405, "invalid_argument", "this route takes " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

Response NotFound(const std::string& what) { return ProblemResponse(Status(Code::kNotFound, what)); }

// The answer, or its problem.
template <typename T, typename F>
Response Answer(const Result<T>& result, F&& render) {
  if (!result.has_value()) return ProblemResponse(result.error());
  return render(*result);
}

// Server-Sent Events of a subscription (FeedEvent::sse each, shared with
// every other stream, not copied); a comment line first, so a client knows
// the stream is attached.
class SseStream : public StreamBody {
 public:
  SseStream(std::shared_ptr<Subscription> sub, std::optional<std::chrono::steady_clock::time_point> ends)
      : sub_(std::move(sub)), ends_(ends) {}
  ~SseStream() override { sub_->Close(); }

  std::optional<Pieces> Next() override {
    auto events = sub_->Next();
    if (!events) return std::nullopt;
    Pieces out;
    out.reserve(events->size() + 1);
    if (!started_) {
      static const auto kAttached = std::make_shared<const std::string>(": attached\nretry: 1000\n\n");
      out.push_back(kAttached);
      started_ = true;
    }
    for (auto& e : *events) out.emplace_back(e, &e->sse);  // shares the event's ownership
    return out;
  }
  void OnReady(std::function<void()> wake) override { sub_->OnReady(std::move(wake)); }
  void Close() override { sub_->Close(); }
  std::optional<std::chrono::steady_clock::time_point> EndsAt() const override { return ends_; }

 private:
  std::shared_ptr<Subscription> sub_;
  const std::optional<std::chrono::steady_clock::time_point> ends_;
  bool started_ = false;
};

// The action a POST under /v1/tenants/{t}/runs asks for; nullopt for a
// path that is no action.
std::optional<Action> ActionOf(const std::vector<std::string>& p) {
  if (p.size() == 4) return Action::kStart;
  if (p.size() == 6 && p[5] == "resume") return Action::kResume;
  if (p.size() == 6 && p[5] == "pause") return Action::kPause;
  if (p.size() == 6 && p[5] == "cancel") return Action::kCancel;
  if (p.size() == 6 && p[5] == "fork") return Action::kFork;
  if (p.size() == 7 && p[5] == "approvals") return Action::kApprove;
  if (p.size() == 7 && p[5] == "signals") return Action::kSignal;
  return std::nullopt;
}

// A past state (time travel): no ETag, which names the current seq.
Response StateResponse(const RunState& state) { return JsonResponse(200, inspect::StateJson(state)); }

}  // namespace

Api::Api(Engine& engine, Feed& feed, std::shared_ptr<const server::Authenticator> auth,
         const std::vector<RunStarted>& workflows, std::function<std::int64_t()> clock)
    : engine_(engine), feed_(feed), auth_(std::move(auth)), clock_(std::move(clock)) {
  for (const RunStarted& w : workflows) workflows_.emplace(w.workflow, w);
}

const std::vector<RouteName>& Routes() {
  static const std::vector<RouteName> routes = {
      {"GET", "/healthz"},
      {"GET", "/readyz"},
      {"GET", "/metrics"},
      {"GET", "/v1/openapi.json"},
      {"GET", "/v1/me"},
      {"GET", "/v1/workflows"},
      {"GET", "/v1/tenants/{t}/runs"},
      {"POST", "/v1/tenants/{t}/runs"},
      {"GET", "/v1/tenants/{t}/stream"},
      {"GET", "/v1/tenants/{t}/audit"},
      {"GET", "/v1/tenants/{t}/refusals"},
      {"GET", "/v1/tenants/{t}/stats"},
      {"GET", "/v1/tenants/{t}/runs/{id}"},
      {"GET", "/v1/tenants/{t}/runs/{id}/events"},
      {"GET", "/v1/tenants/{t}/runs/{id}/timeline"},
      {"GET", "/v1/tenants/{t}/runs/{id}/stream"},
      {"POST", "/v1/tenants/{t}/runs/{id}/resume"},
      {"POST", "/v1/tenants/{t}/runs/{id}/pause"},
      {"POST", "/v1/tenants/{t}/runs/{id}/cancel"},
      {"POST", "/v1/tenants/{t}/runs/{id}/fork"},
      {"POST", "/v1/tenants/{t}/runs/{id}/approvals/{step}"},
      {"POST", "/v1/tenants/{t}/runs/{id}/signals/{name}"},
  };
  return routes;
}

std::string RouteTemplate(std::string_view path) {
  if (FindConsoleFile(path)) return "/console";
  const auto segments = Segments(path);
  if (!segments) return "other";
  const std::vector<std::string>& s = *segments;
  std::string t;
  if (s.size() == 1) {
    t = "/" + s[0];
  } else if (s.size() == 2 && s[0] == "v1") {
    t = "/v1/" + s[1];
  } else if (s.size() >= 4 && s[0] == "v1" && s[1] == "tenants") {
    t = "/v1/tenants/{t}/" + s[3];
    if (s.size() >= 5) t += "/{id}";
    if (s.size() >= 6) t += "/" + s[5];
    if (s.size() == 7) t += s[5] == "approvals" ? "/{step}" : s[5] == "signals" ? "/{name}" : "/?";
  }
  for (const RouteName& r : Routes()) {
    if (r.path == t) return t;
  }
  return "other";
}

Response Api::Handle(const Request& request) const {
  Response r = Route(request);
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  metrics_.Count(RouteTemplate(request.path), kMethods.count(request.method) ? request.method : "other", r.status);
  return r;
}

namespace {

// A console file; 304 when the client has it already.
Response ConsoleResponse(const Request& request, const ConsoleFile& file) {
  if (request.method != "GET") return MethodNotAllowed("GET");
  Response r{200, file.content_type, "", ConsoleHeaders(), nullptr};
  r.headers.emplace_back("ETag", file.etag);
  r.headers.emplace_back("Cache-Control", "no-cache");  // kept, but asked about each time: a new server, new files
  if (request.if_none_match == file.etag) {
    r.status = 304;
  } else {
    r.body = std::string(file.bytes);
  }
  return r;
}

}  // namespace

Response Api::CurrentStateResponse(const RunState& state) const {
  std::shared_ptr<const std::string> text;
  if (auto known = state_texts_.Find(state.run); known && known->first == state.seq) {
    text = known->second;
  } else {
    text = std::make_shared<const std::string>(JsonText(inspect::StateJson(state)));
    state_texts_.Put(state.run, {state.seq, text}, text->size());
  }
  return WithHeader(Response{200, "application/json", *text, {}, nullptr}, "ETag",
                    "\"" + std::to_string(state.seq) + "\"");
}

bool Api::Quick(const Request& request) const {
  if (request.method != "GET") return false;
  if (FindConsoleFile(request.path)) return true;
  const auto p = Segments(request.path);
  if (!p || p->size() == 2) return true;          // no route, or /v1/openapi.json, /v1/me, /v1/workflows
  if (p->size() == 1) return (*p)[0] != "metrics";  // /healthz, /readyz
  return p->size() == 5 && (*p)[3] == "runs" && !request.query.contains("at_seq") &&
         !request.query.contains("at_step");
}

Response Api::Route(const Request& request) const {
  if (auto file = FindConsoleFile(request.path)) return ConsoleResponse(request, *file);
  const auto path = Segments(request.path);
  if (!path) return NotFound("no such route: " + request.path);
  const std::vector<std::string>& p = *path;
  if (p.size() == 1 && (p[0] == "healthz" || p[0] == "readyz" || p[0] == "metrics")) {
    if (request.method != "GET") return MethodNotAllowed("GET");
    if (p[0] == "metrics") {
      return Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Exposition(engine_, feed_.subscribers()),
                      {}, nullptr};
    }
    if (p[0] == "readyz") {
      // Ready once the engine drove recovery (it did before the server
      // started) and while it can write its journal.
      if (Status health = engine_.Health(); !health.ok()) return ProblemResponse(health);
    }
    return JsonResponse(200, json{{"status", "ok"}});
  }
  if (p.size() == 2 && p[0] == "v1" && p[1] == "openapi.json") {
    if (request.method != "GET") return MethodNotAllowed("GET");
    return Response{200, "application/json", std::string(OpenApiDocument()), {}, nullptr};
  }
  if (p.size() == 2 && p[0] == "v1" && (p[1] == "me" || p[1] == "workflows")) {
    auto who = auth_->Authenticate(request.authorization, clock_());
    if (!who.has_value()) return ProblemResponse(who.error());
    if (request.method != "GET") return MethodNotAllowed("GET");
    if (p[1] == "me") {
      return JsonResponse(200, json{{"subject", who->subject}, {"tenant", who->tenant}, {"roles", who->roles}});
    }
    json list = json::array();
    for (const auto& [name, w] : workflows_) list.push_back(server::WorkflowJson(w));
    return JsonResponse(200, json{{"workflows", std::move(list)}});
  }
  const bool tenant_wide =
      p.size() == 4 && (p[3] == "stream" || p[3] == "audit" || p[3] == "refusals" || p[3] == "stats");
  if (p.size() < 4 || p[0] != "v1" || p[1] != "tenants" || (p[3] != "runs" && !tenant_wide)) {
    return NotFound("no such route: " + request.path);
  }
  std::int64_t valid_until = 0;
  auto who = auth_->Authenticate(request.authorization, clock_(), &valid_until);
  if (!who.has_value()) return ProblemResponse(who.error());
  const std::string& tenant = p[2];
  const std::string& method = request.method;
  // Another tenant is as unknown as a run that does not exist; an action
  // there is a refusal, recorded as the engine records its own.
  if (who->tenant != tenant) {
    const Status unknown(Code::kNotFound,
                         p.size() >= 5 ? "run " + p[4] + " is unknown" : "tenant '" + tenant + "' is unknown");
    if (method != "POST" || p[3] != "runs") return ProblemResponse(unknown);
    const std::optional<Action> action = ActionOf(p);
    if (!action) return ProblemResponse(unknown);
    std::optional<RunId> run;
    if (p.size() >= 5) {
      if (auto id = RunId::Parse(p[4]); id.has_value()) run = *id;
    }
    return ProblemResponse(engine_.RecordRefusal(*who, *action, run, tenant, unknown));
  }
  const Principal& me = *who;
  if (p[3] == "stream") {
    if (method != "GET") return MethodNotAllowed("GET");
    return Stream(request, me, std::nullopt, valid_until);
  }
  if (p[3] == "audit" || p[3] == "refusals") {
    if (method != "GET") return MethodNotAllowed("GET");
    return Audit(request, me, p[3] == "refusals");
  }
  if (p[3] == "stats") {
    if (method != "GET") return MethodNotAllowed("GET");
    const Projections* projections = engine_.projections();
    if (projections == nullptr) return ProblemResponse(Status(Code::kUnavailable, "this engine keeps no statistics"));
    std::string workflow;
    if (auto it = request.query.find("workflow"); it != request.query.end()) workflow = it->second;
    return Answer(projections->Stats(workflow, tenant),
                  [](const std::vector<StepStats>& stats) { return JsonResponse(200, server::StepStatsJson(stats)); });
  }

  if (p.size() == 4) {
    if (method == "GET") {
      const Projections* projections = engine_.projections();
      if (projections == nullptr) return ProblemResponse(Status(Code::kUnavailable, "this engine keeps no run index"));
      RunQuery q;
      q.tenant = tenant;
      if (auto it = request.query.find("status"); it != request.query.end()) {
        q.status = ParseRunStatus(it->second);
        if (!q.status) return ProblemResponse(Invalid("status: '" + it->second + "' is no run status"));
      }
      if (auto it = request.query.find("workflow"); it != request.query.end()) q.workflow = it->second;
      auto limit = QueryNumber(request, "limit", 50);
      if (!limit.has_value()) return ProblemResponse(limit.error());
      if (*limit == 0 || *limit > kMaxPageRuns) {
        return ProblemResponse(Invalid("limit: 1.." + std::to_string(kMaxPageRuns)));
      }
      q.limit = *limit;
      if (auto it = request.query.find("page_token"); it != request.query.end()) q.page = it->second;
      return Answer(projections->ListRuns(q), [](const RunPage& page) { return JsonResponse(200, server::RunPageJson(page)); });
    }
    if (method == "POST") {
      auto body = Body::Parse(request.body);
      if (!body.has_value()) return ProblemResponse(body.error());
      auto workflow = body->Text("workflow", /*required=*/true);
      if (!workflow.has_value()) return ProblemResponse(workflow.error());
      StartRequest start{.workflow = *workflow, .input = body->Data("input"), .actor = me};
      auto key = body->Text("idempotency_key");
      if (!key.has_value()) return ProblemResponse(key.error());
      start.idempotency_key = *key;
      if (Status s = body->Finish(); !s.ok()) return ProblemResponse(s);
      if (!workflows_.contains(*workflow)) {
        return NotFound("workflow '" + *workflow + "' is not one this server runs");
      }
      return Answer(engine_.Start(start), [&](const RunId& run) {
        return WithHeader(JsonResponse(201, json{{"run_id", run.ToString()}}), "Location",
                          "/v1/tenants/" + tenant + "/runs/" + run.ToString());
      });
    }
    return MethodNotAllowed("GET, POST");
  }

  auto run = RunId::Parse(p[4]);
  if (!run.has_value()) return NotFound("run " + p[4] + " is unknown");
  const RunId id = *run;

  if (p.size() == 5) {
    if (method != "GET") return MethodNotAllowed("GET");
    const bool at_seq = request.query.count("at_seq") != 0, at_step = request.query.count("at_step") != 0;
    if (at_seq && at_step) return ProblemResponse(Invalid("give at_seq or at_step, not both"));
    if (at_seq) {
      auto seq = QueryNumber(request, "at_seq", 0);
      if (!seq.has_value()) return ProblemResponse(seq.error());
      return Answer(engine_.StateAt(id, *seq, me), [](const RunState& s) { return StateResponse(s); });
    }
    if (at_step) {
      return Answer(engine_.StateAtStep(id, request.query.at("at_step"), me),
                    [](const RunState& s) { return StateResponse(s); });
    }
    return Answer(engine_.State(id, me), [&](const RunState& s) { return CurrentStateResponse(s); });
  }

  const std::string& what = p[5];
  if (p.size() == 6 && what == "stream") {
    if (method != "GET") return MethodNotAllowed("GET");
    if (auto state = engine_.State(id, me); !state.has_value()) return ProblemResponse(state.error());
    return Stream(request, me, id, valid_until);
  }
  if (p.size() == 6 && (what == "events" || what == "timeline")) {
    if (method != "GET") return MethodNotAllowed("GET");
    if (what == "timeline") {
      auto events = engine_.Events(id, me);
      if (!events.has_value()) return ProblemResponse(events.error());
      return Answer(inspect::Timeline(id, *events), [&](const std::vector<inspect::TimelineEntry>& entries) {
        return JsonResponse(200, json{{"run_id", id.ToString()}, {"entries", inspect::TimelineJson(entries)}});
      });
    }
    auto after = QueryNumber(request, "after_seq", 0);
    if (!after.has_value()) return ProblemResponse(after.error());
    auto limit = QueryNumber(request, "limit", 1000);
    if (!limit.has_value()) return ProblemResponse(limit.error());
    if (*limit == 0 || *limit > kMaxPageEvents) {
      return ProblemResponse(Invalid("limit: 1.." + std::to_string(kMaxPageEvents)));
    }
    auto state = engine_.State(id, me);  // the tenant and permission check
    if (!state.has_value()) return ProblemResponse(state.error());
    json events = json::array();
    std::uint64_t last = *after;
    const std::uint64_t to = std::min(state->seq, *after + *limit);
    if (*after < to) {
      const Status read = engine_.journal().ReadRun(id, *after + 1, to, [&](const EventRecord& r) -> Status {
        REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
        events.push_back(inspect::RecordJson(r, e));
        last = r.seq;
        return Status::Ok();
      });
      if (!read.ok()) return ProblemResponse(read);
    }
    return JsonResponse(200, json{{"run_id", id.ToString()},
                                  {"events", std::move(events)},
                                  {"next_after_seq", last < state->seq ? json(last) : json(nullptr)}});
  }

  const bool action = (p.size() == 6 && (what == "resume" || what == "pause" || what == "cancel" || what == "fork")) ||
                      (p.size() == 7 && (what == "approvals" || what == "signals"));
  if (!action) return NotFound("no such route: " + request.path);
  if (method != "POST") return MethodNotAllowed("POST");
  auto body = Body::Parse(request.body);
  if (!body.has_value()) return ProblemResponse(body.error());
  // After an action the answer is the run as it stands (a resume says what it did).
  auto state_now = [&](const Status& done) {
    if (!done.ok()) return ProblemResponse(done);
    return Answer(engine_.State(id, me), [&](const RunState& s) { return CurrentStateResponse(s); });
  };

  if (p.size() == 6 && what == "resume") {
    ResumeRequest r{.run = id, .actor = me};
    auto from = body->Text("from_step");
    auto reason = body->Text("reason", /*required=*/true);
    auto request_id = body->Text("request_id");
    auto dry = body->Flag("dry_run");
    for (const Status& s : {from.has_value() ? Status::Ok() : from.error(),
                            reason.has_value() ? Status::Ok() : reason.error(),
                            request_id.has_value() ? Status::Ok() : request_id.error(),
                            dry.has_value() ? Status::Ok() : dry.error()}) {
      if (!s.ok()) return ProblemResponse(s);
    }
    if (reason->empty()) return ProblemResponse(Invalid("reason: say why the run is resumed"));
    r.from_step = *from;
    r.reason = *reason;
    r.request_id = *request_id;
    r.dry_run = *dry;
    r.data = body->Data("data");
    if (Status s = body->Finish(); !s.ok()) return ProblemResponse(s);
    auto expected = IfMatch(request);
    if (!expected.has_value()) return ProblemResponse(expected.error());
    r.expected_seq = *expected;
    return Answer(engine_.Resume(r), [&](const ResumeResult& result) {
      return JsonResponse(200, server::ResumeJson(id, result, r.dry_run));
    });
  }
  if (p.size() == 6 && (what == "pause" || what == "cancel")) {
    auto reason = body->Text("reason");
    if (!reason.has_value()) return ProblemResponse(reason.error());
    if (Status s = body->Finish(); !s.ok()) return ProblemResponse(s);
    return state_now(what == "pause" ? engine_.Pause(id, me, *reason) : engine_.Cancel(id, me, *reason));
  }
  if (p.size() == 6 && what == "fork") {
    ForkRequest f{.run = id, .actor = me};
    auto from = body->Text("from_step", /*required=*/true);
    auto at = body->Number("at_seq");
    auto request_id = body->Text("request_id");
    if (!from.has_value()) return ProblemResponse(from.error());
    if (!at.has_value()) return ProblemResponse(at.error());
    if (!request_id.has_value()) return ProblemResponse(request_id.error());
    if (Status s = body->Finish(); !s.ok()) return ProblemResponse(s);
    f.from_step = *from;
    f.at_seq = *at;
    f.request_id = *request_id;
    return Answer(engine_.Fork(f), [&](const RunId& child) {
      return WithHeader(JsonResponse(201, json{{"run_id", child.ToString()}}), "Location",
                        "/v1/tenants/" + tenant + "/runs/" + child.ToString());
    });
  }
  if (p.size() == 7 && what == "approvals") {
    auto decision = body->Text("decision", /*required=*/true);
    auto note = body->Text("note");
    if (!decision.has_value()) return ProblemResponse(decision.error());
    if (!note.has_value()) return ProblemResponse(note.error());
    if (*decision != "approve" && *decision != "reject") {
      return ProblemResponse(Invalid("decision: \"approve\" or \"reject\""));
    }
    if (Status s = body->Finish(); !s.ok()) return ProblemResponse(s);
    const std::string& step = p[6];
    return state_now(*decision == "approve" ? engine_.Approve(id, step, me, ToBytes(*note))
                                            : engine_.Reject(id, step, me, ToBytes(*note)));
  }
  if (p.size() == 7 && what == "signals") {
    Bytes payload = body->Data("payload");
    if (Status s = body->Finish(); !s.ok()) return ProblemResponse(s);
    return state_now(engine_.Signal(id, p[6], std::move(payload), me));
  }
  return NotFound("no such route: " + request.path);
}

Response Api::Audit(const Request& request, const Principal& who, bool refusals) const {
  std::optional<RunId> run;
  if (auto it = request.query.find("run"); it != request.query.end()) {
    auto id = RunId::Parse(it->second);
    if (!id.has_value()) return ProblemResponse(Invalid("run: " + id.error().message()));
    run = *id;
  }
  std::optional<std::string> actor;
  if (auto it = request.query.find("actor"); it != request.query.end()) actor = it->second;
  auto limit = QueryNumber(request, "limit", 100);
  if (!limit.has_value()) return ProblemResponse(limit.error());
  if (*limit == 0 || *limit > kMaxPageRuns) return ProblemResponse(Invalid("limit: 1.." + std::to_string(kMaxPageRuns)));
  auto before = QueryNumber(request, "before", 0);
  if (!before.has_value()) return ProblemResponse(before.error());
  json list = json::array();
  std::optional<std::uint64_t> next;
  if (refusals) {
    // The tenant's people's refusals, and others' on the tenant's runs.
    auto found = ReadRefusals(engine_.journal(), RefusalQuery{who.tenant, run, actor, *limit, *before});
    if (!found.has_value()) return ProblemResponse(found.error());
    for (const Refusal& r : *found) list.push_back(server::RefusalObject(r));
    if (found->size() == *limit) next = found->back().number;
    return JsonResponse(200, json{{"refusals", std::move(list)}, {"next_before", next ? json(*next) : json(nullptr)}});
  }
  const Projections* projections = engine_.projections();
  if (projections == nullptr) return ProblemResponse(Status(Code::kUnavailable, "this engine keeps no audit index"));
  auto entries = projections->Audit(AuditQuery{run, actor, who.tenant, *limit, *before});
  if (!entries.has_value()) return ProblemResponse(entries.error());
  for (const AuditEntry& e : *entries) list.push_back(server::AuditEntryJson(e));
  if (entries->size() == *limit) next = entries->back().position;
  return JsonResponse(200, json{{"entries", std::move(list)}, {"next_before", next ? json(*next) : json(nullptr)}});
}

Response Api::Stream(const Request& request, const Principal& who, std::optional<RunId> run,
                     std::int64_t valid_until) const {
  // Where the client stands: the id of the last event it saw (a reconnecting
  // EventSource sends it), or ?after= for a first connection; neither: from now.
  std::optional<std::uint64_t> after;
  std::string given = request.last_event_id;
  if (given.empty()) {
    if (auto it = request.query.find("after"); it != request.query.end()) given = it->second;
  }
  if (!given.empty()) {
    std::uint64_t position = 0;
    const auto [end, ec] = std::from_chars(given.data(), given.data() + given.size(), position);
    if (ec != std::errc() || end != given.data() + given.size()) {
      return ProblemResponse(Invalid("Last-Event-ID: expected an event's position as its stream gave it"));
    }
    after = position;
  }
  auto sub = feed_.Subscribe(who.tenant, run, after);
  if (!sub.has_value()) return ProblemResponse(sub.error());
  Response r{200, "text/event-stream", "", {{"X-Accel-Buffering", "no"}}, nullptr};
  std::optional<std::chrono::steady_clock::time_point> ends;
  if (valid_until != std::numeric_limits<std::int64_t>::max()) {
    // The credential is good through second valid_until: the stream ends
    // right after it (the clock is the API's, in whole seconds).
    const std::int64_t left = std::max<std::int64_t>(0, valid_until - clock_() + 1);
    ends = std::chrono::steady_clock::now() + std::chrono::seconds(left);
  }
  r.stream = std::make_shared<SseStream>(std::move(*sub), ends);
  return r;
}

}  // namespace rwd::server_internal
