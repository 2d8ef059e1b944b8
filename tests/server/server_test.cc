// The API over real sockets on loopback: every status code the routes give,
// the users' flows end to end, tenant isolation and roles.
#include "rewind/server/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "rewind/journal/hash.h"
#include "server/src/api.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace rwd::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Http;
using test::HttpAnswer;
using test::HttpCall;
using ::testing::HasSubstr;

const std::string kSecret(40, 'k');

// "order": validate → charge (fails until resumed with data, one attempt) →
// approve (a gate) → ship.
Workflow Order() {
  Workflow w("order");
  w.Step("validate", [](const StepContext&) -> Result<Bytes> { return ToBytes("ok"); });
  w.Step("charge", [](const StepContext& c) -> Result<Bytes> {
     if (c.resume_data.empty()) return Err(Code::kUnavailable, "card declined");
     // "slow": the run stays running a while (a second request meets it running).
     if (std::string_view(reinterpret_cast<const char*>(c.resume_data.data()), c.resume_data.size()) == "slow") {
       std::this_thread::sleep_for(500ms);
     }
     return ToBytes("charged");
   }).Retry(RetryPolicy{1, 0, 1.0, 0, 0});
  w.Approval("approve");
  w.Step("ship", [](const StepContext&) -> Result<Bytes> { return ToBytes("shipped"); });
  return w;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions o;
    o.journal.directory = dir_.Sub("data");
    o.workflows.push_back(Order());
    auto engine = Engine::Open(std::move(o));
    ASSERT_TRUE(engine.has_value()) << engine.error().ToString();
    engine_ = std::move(*engine);
    auto auth = Authenticator::Create({.hs256_secret = kSecret});
    ASSERT_TRUE(auth.has_value());
    auto server = Server::Start(*engine_, {.auth = *auth, .workflows = {*Order().Definition()}, .max_body_bytes = 4096});
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    server_ = std::move(*server);
  }

  static std::string Token(const std::string& subject, const std::string& tenant, std::vector<std::string> roles) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    return *MintHs256({.subject = subject, .tenant = tenant, .roles = std::move(roles), .expires_unix = now + 600},
                      kSecret);
  }

  HttpAnswer Call(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::string& token = Operator(), std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Http(server_->port(), HttpCall{method, target, token, body, std::move(headers)});
  }
  static std::string Operator() { return Token("ana", "acme", {"operator"}); }
  static std::string Viewer() { return Token("vic", "acme", {"viewer"}); }
  static std::string Stranger() { return Token("eve", "globex", {"operator", "admin"}); }

  static std::string Runs() { return "/v1/tenants/acme/runs"; }
  static std::string Run(const std::string& id) { return Runs() + "/" + id; }

  // Starts an order and waits until it stops (failed at charge).
  std::string FailedRun() {
    const HttpAnswer started = Call("POST", Runs(), R"({"workflow": "order", "input": {"order": 42}})");
    EXPECT_EQ(started.status, 201) << started.body;
    const std::string id = started.json()["run_id"];
    EXPECT_EQ(started.headers.at("location"), Run(id));
    EXPECT_EQ(WaitFor(id, "failed")["status"], "failed");
    return id;
  }

  json WaitFor(const std::string& id, const std::string& status) {
    json state;
    for (int i = 0; i < 500; ++i) {
      state = Call("GET", Run(id)).json();
      if (state["status"] == status) break;
      std::this_thread::sleep_for(10ms);
    }
    return state;
  }

  test::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, HealthNeedsNoTokenAndEverythingElseDoes) {
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);
  const HttpAnswer anonymous = Call("GET", Runs(), "", "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers.at("content-type"), "application/problem+json");
  EXPECT_EQ(anonymous.headers.at("www-authenticate"), "Bearer");
  EXPECT_EQ(anonymous.json()["code"], "unauthenticated");
  const std::string forged = Operator() + "x";
  EXPECT_EQ(Call("GET", Runs(), "", forged).status, 401);
  const std::string expired = *MintHs256({.subject = "ana", .tenant = "acme", .expires_unix = 1000}, kSecret);
  EXPECT_THAT(Call("GET", Runs(), "", expired).json()["detail"].get<std::string>(), HasSubstr("expired"));
}

// Who a token says the caller is, and the workflows the server starts,
// with the hashes a client compares its own definition with.
TEST_F(ServerTest, MeAndWorkflowsAnswerAnyAuthenticatedCaller) {
  const json me = Call("GET", "/v1/me", "", Viewer()).json();
  EXPECT_EQ(me, json({{"subject", "vic"}, {"tenant", "acme"}, {"roles", {"viewer"}}}));
  EXPECT_EQ(Call("GET", "/v1/me", "", "").status, 401);
  EXPECT_EQ(Call("POST", "/v1/me").status, 405);
  const json workflows = Call("GET", "/v1/workflows", "", Stranger()).json();
  ASSERT_EQ(workflows["workflows"].size(), 1u) << workflows.dump();
  const json& order = workflows["workflows"][0];
  EXPECT_EQ(order["name"], "order");
  EXPECT_EQ(order["definition_hash"], HexEncode(DefinitionHash(*Order().Definition())));
  EXPECT_EQ(order["steps"][1], json({{"id", "charge"}, {"kind", "code"}, {"depends_on", {"validate"}}}));
  EXPECT_EQ(Call("GET", "/v1/workflows", "", "").status, 401);
}

// Refused actions are recorded where auditors look: a viewer's resume, and
// another tenant's operator acting on this tenant's path; each tenant sees
// the refusals of its people and those on its runs, and no others.
TEST_F(ServerTest, RefusedActionsAreRecordedAndShownToTheTenantsTheyConcern) {
  const std::string id = FailedRun();
  EXPECT_EQ(Call("POST", Run(id) + "/resume", R"({"reason": "mine now"})", Viewer()).status, 403);
  EXPECT_EQ(Call("POST", Run(id) + "/cancel", "{}", Stranger()).status, 404);
  EXPECT_EQ(Call("POST", "/v1/tenants/globex/runs/" + id + "/pause", "{}", Stranger()).status, 404);
  EXPECT_EQ(Call("GET", Run(id), "", Stranger()).status, 404) << "a refused read is not recorded";

  const json acme = Call("GET", "/v1/tenants/acme/refusals", "", Viewer()).json();
  ASSERT_EQ(acme["refusals"].size(), 3u) << acme.dump();
  EXPECT_EQ(acme["refusals"][2]["subject"], "vic");
  EXPECT_EQ(acme["refusals"][2]["action"], "resume");
  EXPECT_EQ(acme["refusals"][2]["run"], id);
  EXPECT_THAT(acme["refusals"][2]["reason"].get<std::string>(), HasSubstr("needs the operator role"));
  EXPECT_EQ(acme["refusals"][1]["subject"], "eve");
  EXPECT_EQ(acme["refusals"][1]["actor_tenant"], "globex");
  EXPECT_EQ(acme["refusals"][1]["run_tenant"], "acme") << "the tenant whose path was tried";
  EXPECT_EQ(acme["refusals"][0]["action"], "pause");
  EXPECT_EQ(acme["refusals"][0]["run_tenant"], "acme") << "the run's own tenant, as the engine knew it";
  EXPECT_EQ(acme["refusals"][1]["prev"], HexEncode(Sha256(AsBytes(acme["refusals"][2].dump()))))
      << "each names the hash of the one before, as stored";

  const json globex = Call("GET", "/v1/tenants/globex/refusals", "", Stranger()).json();
  ASSERT_EQ(globex["refusals"].size(), 2u) << "only eve's: " << globex.dump();
  const json page = Call("GET", "/v1/tenants/acme/refusals?limit=1&actor=vic", "", Viewer()).json();
  ASSERT_EQ(page["refusals"].size(), 1u);
  EXPECT_EQ(page["refusals"][0]["subject"], "vic");
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/refusals?limit=0").status, 400);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/refusals?run=zz").status, 400);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/refusals", "", Stranger()).status, 404);

  ASSERT_EQ(Call("POST", Run(id) + "/resume", R"({"reason": "card fixed", "data": "ok"})").status, 200);
  const json audit = Call("GET", "/v1/tenants/acme/audit?run=" + id, "", Viewer()).json();
  ASSERT_GE(audit["entries"].size(), 1u) << audit.dump();
  EXPECT_EQ(audit["entries"].back()["action"], "resume");
  EXPECT_EQ(audit["entries"].back()["actor"], "ana");
  EXPECT_EQ(audit["entries"].back()["detail"], "card fixed");
  EXPECT_EQ(Call("GET", "/v1/tenants/globex/audit", "", Stranger()).json()["entries"].size(), 0u);
}

// The Run Console's request: a failed run resumed from the failed step with
// a reason and data, seen completing after an approval.
TEST_F(ServerTest, AFailedRunIsResumedFromItsStepAndCompletesAfterApproval) {
  const std::string id = FailedRun();
  const HttpAnswer state = Call("GET", Run(id));
  ASSERT_EQ(state.status, 200);
  const std::string etag = state.headers.at("etag");
  EXPECT_EQ(etag, "\"" + std::to_string(state.json()["seq"].get<std::uint64_t>()) + "\"");

  const HttpAnswer preview =
      Call("POST", Run(id) + "/resume", R"({"from_step": "charge", "reason": "card replaced", "dry_run": true})");
  ASSERT_EQ(preview.status, 200) << preview.body;
  EXPECT_EQ(preview.json()["kept"], json({"validate"}));
  EXPECT_EQ(preview.json()["reset"], json({"charge", "approve", "ship"}));
  EXPECT_EQ(Call("GET", Run(id)).headers.at("etag"), etag) << "a dry run appends nothing";

  const HttpAnswer resumed =
      Call("POST", Run(id) + "/resume",
           R"({"from_step": "charge", "reason": "card replaced", "data": {"card": "new"}, "request_id": "r-1"})",
           Operator(), {{"If-Match", etag}});
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(resumed.json()["epoch"], 1);
  EXPECT_FALSE(resumed.json()["repeated"].get<bool>());

  const json paused = WaitFor(id, "paused");
  EXPECT_EQ(paused["paused_step"], "approve");
  const HttpAnswer approved = Call("POST", Run(id) + "/approvals/approve", R"({"decision": "approve", "note": "ok"})");
  ASSERT_EQ(approved.status, 200) << approved.body;
  const json done = WaitFor(id, "completed");
  EXPECT_EQ(done["output"], "shipped");
  ASSERT_EQ(done["resumes"].size(), 1u);
  EXPECT_EQ(done["resumes"][0]["request_id"], "r-1");

  // The same request id again: the first resume's answer, nothing appended.
  const HttpAnswer again = Call("POST", Run(id) + "/resume", R"({"from_step": "charge", "reason": "x", "request_id": "r-1"})");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(again.json()["repeated"].get<bool>());

  // Who did it and why is in the history.
  const json timeline = Call("GET", Run(id) + "/timeline").json();
  bool seen = false;
  for (const json& e : timeline["entries"]) {
    if (e["type"] == "ResumeRequested") {
      seen = true;
      EXPECT_EQ(e["actor"], "ana@acme");
      EXPECT_THAT(e["what"].get<std::string>(), HasSubstr("card replaced"));
    }
  }
  EXPECT_TRUE(seen) << timeline.dump();
}

TEST_F(ServerTest, ResumeAnswersEachOfItsErrorsWithItsCode) {
  const std::string id = FailedRun();
  auto resume = [&](const std::string& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Call("POST", Run(id) + "/resume", body, Operator(), std::move(headers));
  };
  EXPECT_EQ(resume(R"({"reason": "x"})", {{"If-Match", "\"1\""}}).status, 409) << "a stale seq";
  EXPECT_EQ(resume(R"({"from_step": "nope", "reason": "x"})").status, 404);
  const HttpAnswer dependency = resume(R"({"from_step": "ship", "reason": "x"})");
  EXPECT_EQ(dependency.status, 412) << dependency.body;
  EXPECT_THAT(dependency.json()["detail"].get<std::string>(), HasSubstr("'approve', which is pending"));
  EXPECT_EQ(resume(R"({"from_step": "charge"})").json()["detail"], "reason: missing");
  EXPECT_EQ(resume(R"({"from_step": 3, "reason": "x"})").status, 400);
  const HttpAnswer unknown = resume(R"({"reason": "x", "form_step": "charge"})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.json()["detail"], "form_step: not a field of this request");
  EXPECT_EQ(resume("{not json").status, 400);
  EXPECT_EQ(resume(R"(["a"])").status, 400);
  EXPECT_EQ(resume(R"({"reason": "x"})", {{"If-Match", "soon"}}).status, 400);
  EXPECT_EQ(Call("POST", Run(id) + "/resume", R"({"reason": "x"})", Viewer()).status, 403);
  EXPECT_EQ(Call("POST", Run("0123456789abcdef0123456789abcdef") + "/resume", R"({"reason": "x"})").status, 404);
  EXPECT_EQ(Call("POST", Run("not-a-run") + "/resume", R"({"reason": "x"})").status, 404);
  EXPECT_EQ(Call("GET", Run(id) + "/resume").status, 405);
  EXPECT_EQ(Call("GET", Run(id) + "/resume").headers.at("allow"), "POST");
}

TEST_F(ServerTest, TwoResumesAtOnceOneSucceedsTheOtherConflicts) {
  const std::string id = FailedRun();
  std::atomic<int> go{0};
  auto resume = [&] {
    ++go;
    while (go.load() < 2) std::this_thread::yield();
    return Call("POST", Run(id) + "/resume", R"({"from_step": "charge", "reason": "both at once", "data": "slow"})")
        .status;
  };
  auto a = std::async(std::launch::async, resume), b = std::async(std::launch::async, resume);
  std::multiset<int> codes{a.get(), b.get()};
  EXPECT_EQ(codes, (std::multiset<int>{200, 409}));
}

// A run's state is answered by the io thread from the journal: it never
// waits for the request pool, nor for the run, and after an action it shows
// what the action appended. Here the pool's only thread is held by a start
// that waits for room (the one active run holds it), and the held run's own
// state is read meanwhile.
TEST(ServerReadsTest, ARunsStateIsAnsweredWhileEveryRequestThreadWaits) {
  test::TempDir dir;
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  Workflow held("held");
  held.Step("wait", [released](const StepContext&) -> Result<Bytes> {
    released.wait();
    return Bytes{};
  });
  EngineOptions o;
  o.journal.directory = dir.Sub("data");
  o.workflows.push_back(held);
  o.max_active_runs = 1;
  o.start_wait = 3s;
  auto engine = Engine::Open(std::move(o));
  ASSERT_TRUE(engine.has_value()) << engine.error().ToString();
  auto auth = Authenticator::Create({.hs256_secret = kSecret});
  ASSERT_TRUE(auth.has_value());
  auto server = Server::Start(**engine, {.auth = *auth, .workflows = {*held.Definition()}, .threads = 1});
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string token =
      *MintHs256({.subject = "ana", .tenant = "acme", .roles = {"operator"}, .expires_unix = now + 600}, kSecret);
  const std::uint16_t port = (*server)->port();
  const HttpAnswer first = Http(port, {"POST", "/v1/tenants/acme/runs", token, R"({"workflow": "held"})"});
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string run = "/v1/tenants/acme/runs/" + std::string(first.json()["run_id"]);

  auto waiting = std::async(std::launch::async, [&] {
    return Http(port, {"POST", "/v1/tenants/acme/runs", token, R"({"workflow": "held"})"}).status;
  });
  std::this_thread::sleep_for(200ms);  // the start holds the pool's thread, waiting for room
  const auto t0 = std::chrono::steady_clock::now();
  const HttpAnswer state = Http(port, {"GET", run, token, ""});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(state.status, 200) << state.body;
  EXPECT_EQ(state.json()["status"], "running");
  EXPECT_EQ(waiting.wait_for(0s), std::future_status::timeout) << "the start was not waiting";
  EXPECT_EQ(Http(port, {"GET", "/healthz", "", ""}).status, 200);
  EXPECT_EQ(Http(port, {"GET", "/v1/tenants/globex/runs/" + std::string(first.json()["run_id"]), token, ""}).status,
            404);

  // Once the run goes on, the next read shows it, whatever was read (and
  // cached) before; the waiting start gets the room the run leaves.
  release->set_value();
  json done;
  for (int i = 0; i < 500 && done["status"] != "completed"; ++i) {
    const HttpAnswer now_state = Http(port, {"GET", run, token, ""});
    done = now_state.json();
    if (done["status"] == "completed") {
      EXPECT_NE(now_state.headers.at("etag"), state.headers.at("etag"));
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(done["status"], "completed");
  EXPECT_GT(done["seq"], state.json()["seq"]);
  EXPECT_EQ(waiting.get(), 201);  // room once the first run stopped
}

// Approvals are idempotent (Engine::Approve): the same decision twice at
// once is 200 for both with one ApprovalDecided appended; opposite decisions
// at once are one 200 and one 409.
TEST_F(ServerTest, TwoDecisionsAtOnceAppendOneAndConflictOnlyWhenTheyDiffer) {
  auto gated = [&] {
    const std::string id = FailedRun();
    EXPECT_EQ(Call("POST", Run(id) + "/resume", R"({"from_step": "charge", "reason": "paid", "data": "card"})").status,
              200);
    EXPECT_EQ(WaitFor(id, "paused")["paused_step"], "approve");
    return id;
  };
  auto both = [&](const std::string& id, const char* first, const char* second) {
    std::atomic<int> go{0};
    auto decide = [&](const char* decision) {
      ++go;
      while (go.load() < 2) std::this_thread::yield();
      return Call("POST", Run(id) + "/approvals/approve", std::string(R"({"decision": ")") + decision + R"("})").status;
    };
    auto a = std::async(std::launch::async, decide, first), b = std::async(std::launch::async, decide, second);
    return std::multiset<int>{a.get(), b.get()};
  };
  auto decided = [&](const std::string& id) {
    int n = 0;
    const json events = Call("GET", Run(id) + "/events").json();
    for (const json& e : events["events"]) n += e["type"] == "ApprovalDecided" ? 1 : 0;
    return n;
  };
  const std::string same = gated();
  EXPECT_EQ(both(same, "approve", "approve"), (std::multiset<int>{200, 200}));
  EXPECT_EQ(decided(same), 1);
  const std::string opposite = gated();
  EXPECT_EQ(both(opposite, "approve", "reject"), (std::multiset<int>{200, 409}));
  EXPECT_EQ(decided(opposite), 1);
}

// Another tenant's run is 404 exactly as an unknown one, on every route.
TEST_F(ServerTest, AnotherTenantSeesNothingOnAnyRoute) {
  const std::string id = FailedRun();
  const std::string unknown = "0123456789abcdef0123456789abcdef";
  struct Route {
    std::string method, suffix, body;
  };
  const std::vector<Route> routes = {
      {"GET", "", ""},
      {"GET", "/events", ""},
      {"GET", "/timeline", ""},
      {"POST", "/resume", R"({"reason": "x"})"},
      {"POST", "/pause", R"({"reason": "x"})"},
      {"POST", "/cancel", R"({"reason": "x"})"},
      {"POST", "/fork", R"({"from_step": "charge"})"},
      {"POST", "/approvals/approve", R"({"decision": "approve"})"},
      {"POST", "/signals/go", R"({"payload": 1})"},
  };
  for (const Route& r : routes) {
    for (const std::string& tenant : {std::string("acme"), std::string("globex")}) {
      const HttpAnswer theirs =
          Call(r.method, "/v1/tenants/" + tenant + "/runs/" + id + r.suffix, r.body, Stranger());
      const HttpAnswer none = Call(r.method, "/v1/tenants/globex/runs/" + unknown + r.suffix, r.body, Stranger());
      EXPECT_EQ(theirs.status, 404) << r.method << " " << r.suffix << " in " << tenant << ": " << theirs.body;
      EXPECT_EQ(none.status, 404) << r.suffix;
      EXPECT_EQ(theirs.json()["code"], "not_found");
    }
  }
  EXPECT_EQ(Call("GET", Runs(), "", Stranger()).status, 404);
  EXPECT_EQ(Call("GET", "/v1/tenants/globex/runs", "", Stranger()).json()["runs"].size(), 0u);
  EXPECT_EQ(Call("GET", Run(id)).json()["status"], "failed") << "nothing happened to the run";
}

TEST_F(ServerTest, AViewerReadsButCannotAct) {
  const std::string id = FailedRun();
  EXPECT_EQ(Call("GET", Run(id), "", Viewer()).status, 200);
  EXPECT_EQ(Call("GET", Runs(), "", Viewer()).status, 200);
  for (const auto& [suffix, body] : std::vector<std::pair<std::string, std::string>>{
           {"/resume", R"({"reason": "x"})"},
           {"/pause", R"({"reason": "x"})"},
           {"/cancel", R"({"reason": "x"})"},
           {"/fork", R"({"from_step": "charge"})"},
           {"/approvals/approve", R"({"decision": "approve"})"}}) {
    const HttpAnswer refused = Call("POST", Run(id) + suffix, body, Viewer());
    EXPECT_EQ(refused.status, 403) << suffix << ": " << refused.body;
    EXPECT_EQ(refused.json()["code"], "permission_denied");
  }
}

TEST_F(ServerTest, ListsPagesAndFiltersTheTenantsRuns) {
  const std::string failed = FailedRun();
  FailedRun();
  const json page = Call("GET", Runs() + "?limit=1").json();
  ASSERT_EQ(page["runs"].size(), 1u);
  ASSERT_TRUE(page["next_page"].is_string());
  const json next = Call("GET", Runs() + "?limit=1&page_token=" + page["next_page"].get<std::string>()).json();
  ASSERT_EQ(next["runs"].size(), 1u);
  EXPECT_NE(next["runs"][0]["run_id"], page["runs"][0]["run_id"]);
  EXPECT_EQ(Call("GET", Runs() + "?status=failed&workflow=order").json()["runs"].size(), 2u);
  EXPECT_EQ(Call("GET", Runs() + "?status=completed").json()["runs"].size(), 0u);
  EXPECT_EQ(Call("GET", Runs() + "?status=done").status, 400);
  EXPECT_EQ(Call("GET", Runs() + "?limit=0").status, 400);
  EXPECT_EQ(Call("GET", Runs() + "?limit=x").status, 400);
  EXPECT_EQ(Call("GET", Runs() + "?status=%zz").status, 400);
}

TEST_F(ServerTest, StatesTravelInTimeAndEventsCarryTheirHashes) {
  const std::string id = FailedRun();
  const json at2 = Call("GET", Run(id) + "?at_seq=2").json();
  EXPECT_EQ(at2["seq"], 2);
  EXPECT_EQ(Call("GET", Run(id) + "?at_step=validate").json()["steps"][0]["status"], "completed");
  EXPECT_EQ(Call("GET", Run(id) + "?at_step=ship").status, 412) << "it never started";
  EXPECT_EQ(Call("GET", Run(id) + "?at_seq=999").status, 404);
  EXPECT_EQ(Call("GET", Run(id) + "?at_seq=1&at_step=validate").status, 400);
  const json first = Call("GET", Run(id) + "/events?limit=2").json();
  ASSERT_EQ(first["events"].size(), 2u);
  EXPECT_EQ(first["next_after_seq"], 2);
  EXPECT_EQ(first["events"][0]["type"], "RunStarted");
  EXPECT_EQ(first["events"][0]["hash"].get<std::string>().size(), 64u);
  const json rest = Call("GET", Run(id) + "/events?after_seq=2").json();
  EXPECT_EQ(rest["events"][0]["seq"], 3);
  EXPECT_EQ(rest["events"][0]["prev_hash"], first["events"][1]["hash"]) << "the chain links across pages";
  EXPECT_TRUE(rest["next_after_seq"].is_null());
}

TEST_F(ServerTest, PauseCancelForkAndSignalAnswerAsTheEngineDoes) {
  const std::string id = FailedRun();
  EXPECT_EQ(Call("POST", Run(id) + "/pause", R"({"reason": "x"})").status, 409) << "a failed run is not running";
  const HttpAnswer fork = Call("POST", Run(id) + "/fork", R"({"from_step": "validate"})");
  ASSERT_EQ(fork.status, 201) << fork.body;
  const std::string child = fork.json()["run_id"];
  EXPECT_EQ(Call("GET", Run(child)).json()["parent_run"], id);
  EXPECT_EQ(Call("POST", Run(id) + "/cancel", R"({"reason": "x"})").status, 409) << "a failed run is finished";
  ASSERT_EQ(Call("POST", Run(id) + "/resume", R"({"from_step": "charge", "reason": "x", "data": 1})").status, 200);
  EXPECT_EQ(WaitFor(id, "paused")["paused_step"], "approve");
  const HttpAnswer cancelled = Call("POST", Run(id) + "/cancel", R"({"reason": "customer left"})");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.json()["status"], "cancelled");
  EXPECT_EQ(Call("POST", Run(id) + "/cancel", R"({"reason": "again"})").status, 409);
  EXPECT_EQ(Call("POST", Run(id) + "/signals/go", R"({"payload": {"a": 1}})").status, 412);
  EXPECT_EQ(Call("POST", Run(id) + "/approvals/approve", R"({"decision": "maybe"})").status, 400);
}

TEST_F(ServerTest, StartingRefusesUnknownWorkflowsAndBadBodies) {
  EXPECT_EQ(Call("POST", Runs(), R"({"workflow": "rm -rf"})").status, 404);
  EXPECT_EQ(Call("POST", Runs(), R"({"input": 1})").status, 400);
  EXPECT_EQ(Call("POST", Runs(), R"({"workflow": "order", "command": "ls"})").status, 400);
  EXPECT_EQ(Call("POST", Runs(), R"({"workflow": "order"})", Viewer()).status, 201) << "starting is for any member";
  const std::string key = R"({"workflow": "order", "idempotency_key": "order-7"})";
  const json a = Call("POST", Runs(), key).json(), b = Call("POST", Runs(), key).json();
  EXPECT_EQ(a["run_id"], b["run_id"]);
}

TEST_F(ServerTest, OversizedAndMalformedRequestsAreRefusedWithoutHarm) {
  const HttpAnswer big = Call("POST", Runs(), R"({"workflow": "order", "input": ")" + std::string(8000, 'x') + "\"}");
  EXPECT_EQ(big.status, 413);
  const std::string garbage = test::RawHttp(server_->port(), "HELLO\r\n\r\n");
  EXPECT_THAT(garbage, HasSubstr("400"));
  const std::string huge_header =
      test::RawHttp(server_->port(), "GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_THAT(huge_header, HasSubstr("431"));
  EXPECT_EQ(Call("GET", "/nowhere").status, 404);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/runs/").status, 404);
  EXPECT_EQ(Call("DELETE", Runs()).status, 405);
  // The server still answers.
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

bool HasType(const std::vector<test::SseEvent>& events, const std::string& type, const std::string& run = "") {
  for (const test::SseEvent& e : events) {
    if (e.data["type"] == type && (run.empty() || e.data["run_id"] == run)) return true;
  }
  return false;
}

// Run updates are pushed as they are appended; a client that reconnects
// with the last id it saw gets exactly what it missed.
TEST_F(ServerTest, StreamsPushEveryEventAndAReconnectMissesNothing) {
  test::SseClient tenant(server_->port(), "/v1/tenants/acme/stream", Operator());
  test::SseClient stranger(server_->port(), "/v1/tenants/globex/stream", Stranger());
  tenant.ReadUntil([&](const auto&) { return tenant.attached(); });
  stranger.ReadUntil([&](const auto&) { return stranger.attached(); });
  ASSERT_EQ(tenant.status(), 200) << tenant.head();
  EXPECT_THAT(tenant.head(), HasSubstr("text/event-stream"));
  const std::string id = FailedRun();
  const auto& seen = tenant.ReadUntil([&](const auto& events) { return HasType(events, "RunFailed", id); });
  ASSERT_TRUE(HasType(seen, "RunFailed", id)) << seen.size() << " events";
  ASSERT_EQ(seen.front().data["type"], "RunStarted");
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].data["seq"], i + 1) << "every event once, in order";
    EXPECT_EQ(seen[i].data["position"], seen[i].id);
  }

  // The run goes on while nobody listens; a reconnect from the middle.
  const std::uint64_t middle = seen[2].id;
  ASSERT_EQ(Call("POST", Run(id) + "/resume", R"({"from_step": "charge", "reason": "x", "data": 1})").status, 200);
  WaitFor(id, "paused");
  test::SseClient again(server_->port(), "/v1/tenants/acme/runs/" + id + "/stream", Operator(),
                        std::to_string(middle));
  const auto& caught_up = again.ReadUntil([&](const auto& events) { return HasType(events, "RunPaused", id); });
  ASSERT_TRUE(HasType(caught_up, "RunPaused", id));
  EXPECT_EQ(caught_up.front().data["seq"], 4) << "right after the last event it saw";
  for (std::size_t i = 1; i < caught_up.size(); ++i) {
    EXPECT_EQ(caught_up[i].data["seq"], caught_up[i - 1].data["seq"].get<int>() + 1) << "no gap, no duplicate";
  }
  // Live again after the catch-up: the approval's events arrive.
  ASSERT_EQ(Call("POST", Run(id) + "/approvals/approve", R"({"decision": "approve"})").status, 200);
  EXPECT_TRUE(HasType(again.ReadUntil([&](const auto& e) { return HasType(e, "RunCompleted"); }), "RunCompleted"));

  stranger.ReadUntil([](const auto&) { return false; }, 200);
  EXPECT_TRUE(stranger.ReadUntil([](const auto&) { return true; }).empty()) << "another tenant sees none of it";
  test::SseClient refused(server_->port(), "/v1/tenants/globex/runs/" + id + "/stream", Stranger());
  refused.ReadUntil([](const auto&) { return true; });
  EXPECT_EQ(refused.status(), 404);
  test::SseClient bad(server_->port(), "/v1/tenants/acme/stream", Operator(), "yesterday");
  bad.ReadUntil([](const auto&) { return true; });
  EXPECT_EQ(bad.status(), 400);
  test::SseClient anonymous(server_->port(), "/v1/tenants/acme/stream", "");
  anonymous.ReadUntil([](const auto&) { return true; });
  EXPECT_EQ(anonymous.status(), 401);
}

// The document lists every route the server has, and nothing else.
TEST_F(ServerTest, TheOpenApiDocumentListsEveryRouteAndNothingElse) {
  const HttpAnswer doc = Call("GET", "/v1/openapi.json", "", "");
  ASSERT_EQ(doc.status, 200);
  const json openapi = doc.json();
  ASSERT_EQ(openapi["openapi"], "3.1.0");
  std::set<server_internal::RouteName> documented;
  for (const auto& [path, item] : openapi["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert({upper, path});
      EXPECT_TRUE(op.contains("responses")) << method << " " << path;
    }
  }
  const std::set<server_internal::RouteName> served(server_internal::Routes().begin(), server_internal::Routes().end());
  EXPECT_EQ(documented, served);
  // Each route is one the server answers (not "no such route").
  for (const server_internal::RouteName& r : served) {
    std::string target = r.path;
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"{t}", "acme"}, {"{id}", "0123456789abcdef0123456789abcdef"}, {"{step}", "approve"}, {"{name}", "go"}}) {
      if (const std::size_t at = target.find(name); at != std::string::npos) target.replace(at, name.size(), value);
    }
    if (r.path.ends_with("/stream")) continue;  // a stream answers as it goes: the stream test reads them
    const HttpAnswer a = Call(r.method, target, r.method == "POST" ? "{}" : "");
    EXPECT_EQ(server_internal::RouteTemplate(target), r.path);
    EXPECT_THAT(a.body, ::testing::Not(HasSubstr("no such route"))) << r.method << " " << target;
  }
}

TEST_F(ServerTest, MetricsCountRunsCommitsRequestsAndStreamsWithoutTenants) {
  const std::string id = FailedRun();
  Call("GET", Run(id));
  Call("GET", Run(id), "", Stranger());
  test::SseClient stream(server_->port(), "/v1/tenants/acme/stream", Operator());
  stream.ReadUntil([&](const auto&) { return stream.attached(); });
  const HttpAnswer m = Call("GET", "/metrics", "", "");
  ASSERT_EQ(m.status, 200);
  EXPECT_THAT(m.headers.at("content-type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(m.body, HasSubstr("rewind_runs{status=\"failed\"} 1\n"));
  EXPECT_THAT(m.body, HasSubstr("# TYPE rewind_journal_commit_seconds histogram"));
  EXPECT_THAT(m.body, HasSubstr("rewind_journal_commit_seconds_bucket{le=\"+Inf\"}"));
  EXPECT_THAT(m.body, HasSubstr("rewind_http_requests_total{route=\"/v1/tenants/{t}/runs/{id}\",method=\"GET\",code=\"200\"}"));
  EXPECT_THAT(m.body, HasSubstr("rewind_http_requests_total{route=\"/v1/tenants/{t}/runs/{id}\",method=\"GET\",code=\"404\"} 1"));
  EXPECT_THAT(m.body, HasSubstr("rewind_stream_clients 1\n"));
  EXPECT_THAT(m.body, ::testing::Not(HasSubstr("acme")));
  EXPECT_THAT(m.body, ::testing::Not(HasSubstr(id)));
  // Every sample line is `name{labels} value`.
  std::size_t samples = 0;
  for (std::size_t from = 0; from < m.body.size();) {
    const std::size_t nl = m.body.find('\n', from);
    const std::string line = m.body.substr(from, nl - from);
    from = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    ++samples;
    EXPECT_TRUE(line.rfind("rewind_", 0) == 0 && line.find(' ') != std::string::npos) << line;
  }
  EXPECT_GT(samples, 15u);
}

// Step statistics of the caller's tenant only; another tenant's path is 404.
TEST_F(ServerTest, StatsAreTheTenantsOwn) {
  FailedRun();
  const HttpAnswer mine = Call("GET", "/v1/tenants/acme/stats?workflow=order");
  ASSERT_EQ(mine.status, 200) << mine.body;
  const json stats = mine.json()["stats"];
  ASSERT_FALSE(stats.empty());
  for (const json& s : stats) {
    EXPECT_EQ(s["tenant"], "acme");
    EXPECT_EQ(s["workflow"], "order");
  }
  EXPECT_EQ(stats[0]["executions"], 1);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/stats", "", Stranger()).status, 404);
  const HttpAnswer theirs = Call("GET", "/v1/tenants/globex/stats", "", Stranger());
  ASSERT_EQ(theirs.status, 200);
  EXPECT_TRUE(theirs.json()["stats"].empty()) << "acme's runs are not globex's";
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/stats", "{}").status, 405);
}

// The Run Console's page and files are served to anyone (they hold no
// data), with a policy that lets the page load only its own files and talk
// only to this server; a file the client has is 304; nothing else is a file.
TEST_F(ServerTest, TheConsoleIsServedWithItsPolicyAndNothingElseIsAFile) {
  const HttpAnswer page = Call("GET", "/", "", "");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.headers.at("content-type"), HasSubstr("text/html"));
  EXPECT_THAT(page.body, HasSubstr("/console/app.js"));
  EXPECT_THAT(page.headers.at("content-security-policy"), HasSubstr("default-src 'none'; script-src 'self'"));
  EXPECT_THAT(page.headers.at("content-security-policy"), HasSubstr("frame-ancestors 'none'"));
  EXPECT_EQ(page.headers.at("x-content-type-options"), "nosniff");
  const HttpAnswer script = Call("GET", "/console/app.js", "", "");
  ASSERT_EQ(script.status, 200);
  EXPECT_THAT(script.headers.at("content-type"), HasSubstr("text/javascript"));
  const HttpAnswer again = Call("GET", "/console/app.js", "", "", {{"If-None-Match", script.headers.at("etag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(Call("GET", "/console/vendor/LICENSES.txt", "", "").status, 200) << "the vendored library's licenses";
  EXPECT_EQ(Call("GET", "/console/nothing.js", "", "").status, 404);
  EXPECT_EQ(Call("GET", "/console/../CMakeLists.txt", "", "").status, 404);
  EXPECT_EQ(Call("POST", "/", "{}", Operator()).status, 405);
}

// A stream whose client went away is let go at once, though a finished
// run's stream has nothing more to write (before, it stayed until a
// heartbeat found it).
TEST_F(ServerTest, AStreamIsLetGoAsSoonAsItsClientLeaves) {
  const std::string id = FailedRun();
  auto clients = [&] {
    const std::string m = Call("GET", "/metrics", "", "").body;
    const std::size_t at = m.find("\nrewind_stream_clients ");
    return at == std::string::npos ? std::string("?") : m.substr(at + 23, m.find('\n', at + 1) - at - 23);
  };
  {
    test::SseClient stream(server_->port(), "/v1/tenants/acme/runs/" + id + "/stream", Operator(), "0");
    ASSERT_FALSE(stream.ReadUntil([&](const auto& e) { return HasType(e, "RunFailed"); }).empty());
    EXPECT_EQ(clients(), "1");
  }
  std::string left = clients();
  for (int i = 0; i < 200 && left != "0"; ++i) {
    std::this_thread::sleep_for(5ms);
    left = clients();
  }
  EXPECT_EQ(left, "0");
}

TEST_F(ServerTest, AStreamEndsWhenItsTokenExpiresAndCannotBeReopenedWithIt) {
  auto auth = Authenticator::Create({.hs256_secret = kSecret, .leeway = 0s});
  ASSERT_TRUE(auth.has_value());
  auto strict = Server::Start(*engine_, {.auth = *auth, .workflows = {*Order().Definition()}});
  ASSERT_TRUE(strict.has_value()) << strict.error().ToString();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string brief =
      *MintHs256({.subject = "ana", .tenant = "acme", .roles = {"viewer"}, .expires_unix = now + 2}, kSecret);
  const auto t0 = std::chrono::steady_clock::now();
  test::SseClient stream((*strict)->port(), "/v1/tenants/acme/stream", brief);
  stream.ReadUntil([&](const auto&) { return stream.closed(); }, 8000);
  const auto lasted = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(stream.status(), 200);
  EXPECT_TRUE(stream.closed()) << "the stream outlived its token";
  EXPECT_GE(lasted, 1s);
  EXPECT_LE(lasted, 5s);
  EXPECT_EQ(Http((*strict)->port(), HttpCall{"GET", "/v1/tenants/acme/stream", brief}).status, 401);
}

TEST_F(ServerTest, ConnectionsAreKeptAliveAndStoppingIsClean) {
  const std::string two = test::RawHttp(server_->port(),
                                        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t answers = 0;
  for (std::size_t at = two.find("HTTP/1.1 200"); at != std::string::npos; at = two.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 2u);
  const std::uint16_t port = server_->port();
  server_.reset();
  EXPECT_EQ(Http(port, HttpCall{"GET", "/healthz"}).status, 0) << "a stopped server closed its port";
}

}  // namespace
}  // namespace rwd::server
