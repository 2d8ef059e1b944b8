#include "rewind/executor/http_step.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <future>

#include "executor/src/http_request.h"
#include "rewind/base/base64.h"
#include "rewind/executor/shell_step.h"
#include "rewind/server/auth.h"
#include "tests/support/matchers.h"
#include "tests/support/step_service.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Reply = StepService::Reply;

const std::string kSecret = "a-secret-of-thirty-two-bytes-or-more";

std::string Str(const Result<Bytes>& r) { return r.has_value() ? std::string(AsChars(*r)) : r.error().ToString(); }

class HttpStepTest : public ::testing::Test {
 protected:
  HttpStepTest() {
    step_.id = "charge";
    run_ = RunId::New();
  }
  StepContext Context(std::stop_token stop = {}) {
    StepContext c;
    c.run = run_;
    c.step = &step_;
    c.index = 1;
    c.epoch = 2;
    c.attempt = 3;
    c.idempotency_key = run_.ToString() + "/charge/2";
    c.input = input_;
    c.dependencies = &dependencies_;
    c.resume_data = resume_data_;
    c.stop = std::move(stop);
    return c;
  }
  HttpStepOptions Options(std::string_view target = "/charge") {
    return HttpStepOptions{.url = service_.Url(target), .token_secret = kSecret};
  }
  Result<Bytes> Call(HttpStepOptions options, std::stop_token stop = {}) {
    return HttpStep(std::move(options))(Context(std::move(stop)));
  }
  Result<Bytes> Call() { return Call(Options()); }
  // Every request answered with `reply`.
  void AnswerAlways(Reply reply) {
    service_.Answer([reply](const StepService::Hit&) { return reply; });
  }
  StepService::Hit OnlyHit() {
    const auto hits = service_.Hits();
    EXPECT_EQ(hits.size(), 1u);
    return hits.empty() ? StepService::Hit{} : hits[0];
  }

  StepService service_{kSecret};
  TempDir dir_;
  RunId run_;
  StepDef step_;
  Bytes input_ = ToBytes(R"({"order": 42})");
  Bytes resume_data_;
  std::map<std::string, Bytes> dependencies_;
};

// ---------------------------------------------------------------------------
// The answer.

TEST_F(HttpStepTest, A2xxAnswerIsTheOutputVerbatim) {
  AnswerAlways(Reply{.status = 201, .body = std::string("paid\n\0\xff", 7)});
  EXPECT_EQ(Str(Call()), std::string("paid\n\0\xff", 7));
}

TEST_F(HttpStepTest, NoContentIsAnEmptyOutput) {
  AnswerAlways(Reply{.status = 204, .body = ""});
  EXPECT_EQ(Str(Call()), "");
}

TEST_F(HttpStepTest, A4xxFailsForGoodNamingTheStatusTheUrlAndTheBodysTail) {
  AnswerAlways(Reply{.status = 404, .body = "line 1\nno such order\n"});
  const auto r = Call();
  ASSERT_THAT(r, HasCode(Code::kFailedPrecondition));
  EXPECT_EQ(r.error().message(), "http 404 from " + service_.Url("/charge") + ": line 1\nno such order");
  EXPECT_TRUE(IsPermanentFailure(r.error().code()));
}

TEST_F(HttpStepTest, TheBodysTailIsAtMost2KiB) {
  AnswerAlways(Reply{.status = 400, .body = std::string(10'000, 'x')});
  const auto r = Call();
  ASSERT_THAT(r, HasCode(Code::kFailedPrecondition));
  EXPECT_EQ(r.error().message(), "http 400 from " + service_.Url("/charge") + ": " + std::string(2048, 'x'));
}

TEST_F(HttpStepTest, TimeoutAndTooManyRequestsAreRetryable) {
  for (unsigned status : {408u, 429u}) {
    AnswerAlways(Reply{.status = status, .body = "later"});
    const auto r = Call();
    ASSERT_THAT(r, HasCode(Code::kUnavailable)) << status;
    EXPECT_EQ(r.error().message(), "http " + std::to_string(status) + " from " + service_.Url("/charge") + ": later");
  }
}

TEST_F(HttpStepTest, A5xxIsRetryable) {
  AnswerAlways(Reply{.status = 503, .body = "overloaded"});
  const auto r = Call();
  ASSERT_THAT(r, HasCode(Code::kUnavailable));
  EXPECT_FALSE(IsPermanentFailure(r.error().code()));
  EXPECT_EQ(r.error().message(), "http 503 from " + service_.Url("/charge") + ": overloaded");
}

TEST_F(HttpStepTest, ARedirectIsNotFollowed) {
  AnswerAlways(Reply{.status = 302, .body = "", .headers = {{"Location", service_.Url("/elsewhere")}}});
  const auto r = Call();
  ASSERT_THAT(r, HasCode(Code::kFailedPrecondition));
  EXPECT_EQ(r.error().message(), "http 302 from " + service_.Url("/charge") +
                                     ": redirects are not followed (Location: " + service_.Url("/elsewhere") + ")");
  EXPECT_EQ(service_.HitCount("/elsewhere"), 0u);
}

TEST_F(HttpStepTest, AnOutputOver1MiBFailsForGoodAndOneOf1MiBIsKept) {
  AnswerAlways(Reply{.body = std::string(kMaxStepOutputBytes + 1, 'x')});
  const auto r = Call();
  ASSERT_THAT(r, HasCode(Code::kInvalidArgument));
  EXPECT_EQ(r.error().message(), "step output exceeds 1 MiB");
  AnswerAlways(Reply{.body = std::string(kMaxStepOutputBytes, 'x')});
  EXPECT_EQ(Call().value_or(Bytes()).size(), kMaxStepOutputBytes);
}

TEST_F(HttpStepTest, ARefusedConnectionIsRetryable) {
  const ClosedPort closed;
  const auto r = Call({.url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/x", .token_secret = kSecret});
  ASSERT_THAT(r, HasCode(Code::kUnavailable));
  EXPECT_NE(r.error().message().find("cannot connect to 127.0.0.1:" + std::to_string(closed.port())), std::string::npos)
      << r.error().message();
}

TEST_F(HttpStepTest, AConnectionClosedWithoutAnAnswerIsRetryable) {
  AnswerAlways(Reply{.close = true});
  const auto r = Call();
  ASSERT_THAT(r, HasCode(Code::kUnavailable));
  EXPECT_NE(r.error().message().find("closed before a complete answer"), std::string::npos) << r.error().message();
}

TEST_F(HttpStepTest, AStopAbortsARequestInFlightPromptly) {
  AnswerAlways(Reply{.hang = true});
  std::stop_source stop;
  auto result = std::async(std::launch::async, [&] { return Call(Options(), stop.get_token()); });
  ASSERT_TRUE(service_.AwaitHits(1)) << "the request never came";
  const auto asked = std::chrono::steady_clock::now();
  stop.request_stop();
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready) << "the request was not aborted";
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
  const auto r = result.get();
  ASSERT_THAT(r, HasCode(Code::kUnavailable));
  EXPECT_NE(r.error().message().find("stopped"), std::string::npos) << r.error().message();
  EXPECT_TRUE(service_.AwaitHangsClosed(1)) << "the connection stayed open";
}

TEST_F(HttpStepTest, AStopRequestedBeforehandSendsNothing) {
  std::stop_source stop;
  stop.request_stop();
  EXPECT_THAT(Call(Options(), stop.get_token()), HasCode(Code::kUnavailable));
  EXPECT_EQ(service_.HitCount(), 0u);
}

// ---------------------------------------------------------------------------
// The request.

TEST_F(HttpStepTest, TheRequestIsAJsonPostWithEveryField) {
  dependencies_ = {{"reserve", ToBytes(R"({"id": "R-1"})")}, {"note", ToBytes("plain text\n")}};
  ASSERT_THAT(Call(Options("/charge?v=2")), IsOk());
  const StepService::Hit hit = OnlyHit();
  EXPECT_EQ(hit.method, "POST");
  EXPECT_EQ(hit.target, "/charge?v=2");
  EXPECT_EQ(hit.content_type, "application/json");
  EXPECT_EQ(hit.user_agent, "rewind");
  EXPECT_EQ(hit.idempotency_key, run_.ToString() + "/charge/2");
  const json expected = {{"run", run_.ToString()},
                         {"step", "charge"},
                         {"epoch", 2},
                         {"attempt", 3},
                         {"idempotency_key", run_.ToString() + "/charge/2"},
                         {"input", {{"order", 42}}},
                         {"dependencies", {{"reserve", {{"id", "R-1"}}}}},
                         {"dependencies_base64", {{"note", Base64Encode(AsBytes("plain text\n"))}}}};
  EXPECT_EQ(hit.json, expected) << hit.body;
}

TEST_F(HttpStepTest, JsonIsEmbeddedVerbatimAndOtherBytesAreBase64) {
  input_ = ToBytes(" [1, 2.50, 1e3] ");
  ASSERT_THAT(Call(), IsOk());
  EXPECT_NE(OnlyHit().body.find(R"("input": [1, 2.50, 1e3] ,)"), std::string::npos) << OnlyHit().body;
  input_ = Bytes{0xEF, 0xBB, 0xBF, '1'};  // a byte-order mark
  EXPECT_FALSE(http_internal::IsJsonText(input_));
  EXPECT_FALSE(http_internal::IsJsonText(Bytes{}));
  EXPECT_FALSE(http_internal::IsJsonText(ToBytes("1e400")));
  EXPECT_FALSE(http_internal::IsJsonText(ToBytes("\"\xff\"")));
  EXPECT_FALSE(http_internal::IsJsonText(Bytes{'1', 0, 'x'})) << "a NUL byte ends nlohmann's input";
  EXPECT_TRUE(http_internal::IsJsonText(ToBytes("\"text\"")));
}

TEST_F(HttpStepTest, ResumeDataIsSentOnlyWhenThereIsSome) {
  ASSERT_THAT(Call(), IsOk());
  resume_data_ = ToBytes(R"({"qty": 3})");
  ASSERT_THAT(Call(), IsOk());
  const auto hits = service_.Hits();
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_FALSE(hits[0].json.contains("resume_data"));
  EXPECT_FALSE(hits[0].json.contains("resume_data_base64"));
  EXPECT_EQ(hits[1].json["resume_data"], json({{"qty", 3}}));
}

TEST_F(HttpStepTest, AnIdempotencyKeyOutsidePrintableAsciiIsPercentEncodedInTheHeader) {
  EXPECT_EQ(http_internal::IdempotencyHeader("run/a b%c\r\n\xc3\xa9/1"), "run/a b%25c%0D%0A%C3%A9/1");
  EXPECT_EQ(http_internal::IdempotencyHeader("0123/charge-eu/2"), "0123/charge-eu/2");
}

// ---------------------------------------------------------------------------
// The token.

TEST_F(HttpStepTest, TheTokenVerifiesAndNamesTheAttempt) {
  ASSERT_THAT(Call(), IsOk());
  const StepService::Hit hit = OnlyHit();
  ASSERT_THAT(hit.claims, IsOk());
  const json& claims = *hit.claims;
  EXPECT_EQ(claims["sub"], "rewind");
  EXPECT_EQ(claims["aud"], service_.Origin());
  EXPECT_EQ(claims["run"], run_.ToString());
  EXPECT_EQ(claims["step"], "charge");
  EXPECT_EQ(claims["epoch"], 2);
  EXPECT_EQ(claims["attempt"], 3);
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), kStepTokenLifetime.count());
}

TEST_F(HttpStepTest, ATokenDoesNotVerifyWithAnotherSecret) {
  ASSERT_THAT(Call(), IsOk());
  const auto forged = VerifyStepToken(OnlyHit().authorization, "another-secret-of-thirty-two-bytes!", service_.Origin(),
                                      std::time(nullptr));
  EXPECT_THAT(forged, HasCode(Code::kUnauthenticated));
  ASSERT_THAT(Call({.url = service_.Url("/charge"), .token_secret = "another-secret-of-thirty-two-bytes!"}), IsOk());
  EXPECT_THAT(service_.Hits()[1].claims, HasCode(Code::kUnauthenticated));
}

TEST_F(HttpStepTest, AConfiguredAudienceReplacesTheOrigin) {
  service_.ExpectAudience("payments");
  ASSERT_THAT(Call({.url = service_.Url("/charge"), .audience = "payments", .token_secret = kSecret}), IsOk());
  ASSERT_THAT(OnlyHit().claims, IsOk());
}

TEST_F(HttpStepTest, RewindsOwnApiRefusesAStepsToken) {
  ASSERT_THAT(Call(), IsOk());
  auto api = server::Authenticator::Create({.hs256_secret = kSecret});
  ASSERT_THAT(api, IsOk());
  EXPECT_THAT((*api)->Authenticate(OnlyHit().authorization, std::time(nullptr)), HasCode(Code::kUnauthenticated));
}

TEST_F(HttpStepTest, TheSecretComesFromTheFileTheVariableNames) {
  const std::string file = dir_.Sub("secret");
  std::ofstream(file) << kSecret << "\n";
  ASSERT_EQ(::setenv(std::string(kStepTokenSecretVariable).c_str(), file.c_str(), 1), 0);
  const auto r = Call({.url = service_.Url("/charge")});
  ::unsetenv(std::string(kStepTokenSecretVariable).c_str());
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(OnlyHit().claims, IsOk()) << "the trailing newline is not part of the secret";
}

TEST_F(HttpStepTest, WithoutASecretNothingIsSentAndTheStepFailsForGood) {
  ::unsetenv(std::string(kStepTokenSecretVariable).c_str());
  const auto r = Call({.url = service_.Url("/charge")});
  ASSERT_THAT(r, HasCode(Code::kFailedPrecondition));
  EXPECT_NE(r.error().message().find("REWIND_STEP_TOKEN_SECRET_FILE"), std::string::npos) << r.error().message();
  EXPECT_EQ(service_.HitCount(), 0u);
}

TEST_F(HttpStepTest, AShortOrUnreadableSecretIsRefused) {
  const std::string file = dir_.Sub("short");
  std::ofstream(file) << "too short\n";
  const std::string variable(kStepTokenSecretVariable);
  for (const std::string& path : {file, dir_.Sub("absent")}) {
    ASSERT_EQ(::setenv(variable.c_str(), path.c_str(), 1), 0);
    const auto r = ReadStepTokenSecret();
    EXPECT_THAT(r, HasCode(Code::kFailedPrecondition));
    if (!r.has_value()) {
      EXPECT_NE(r.error().message().find(variable + "=" + path), std::string::npos);
    }
  }
  ::unsetenv(variable.c_str());
  EXPECT_THAT(Call({.url = service_.Url("/charge"), .token_secret = "too short"}), HasCode(Code::kFailedPrecondition));
  EXPECT_EQ(service_.HitCount(), 0u);
}

// ---------------------------------------------------------------------------
// URLs.

TEST_F(HttpStepTest, AUrlIsSplitIntoHostPortAndTarget) {
  const auto url = ParseHttpUrl("http://Payments.Internal:8080/v1/charge?card=1%202");
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(*url, (HttpUrl{"payments.internal", 8080, "/v1/charge?card=1%202", false}));
  EXPECT_EQ(url->Origin(), "http://payments.internal:8080");
  EXPECT_EQ(ParseHttpUrl("http://127.0.0.1/").value_or(HttpUrl()).Origin(), "http://127.0.0.1");
  EXPECT_EQ(ParseHttpUrl("http://127.0.0.1:80/").value_or(HttpUrl()).Authority(), "127.0.0.1");
  const auto v6 = ParseHttpUrl("http://[::1]:9000/x");
  ASSERT_THAT(v6, IsOk());
  EXPECT_EQ(*v6, (HttpUrl{"::1", 9000, "/x", true}));
  EXPECT_EQ(v6->Origin(), "http://[::1]:9000");
}

TEST_F(HttpStepTest, BadUrlsAreRefusedSayingWhy) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"ftp://host/x", "must be an http:// URL"},
      {"https://host/x", "https:// is not supported"},
      {"http://user:pw@host/x", "must not hold user info"},
      {"http://host", "must have a path"},
      {"http://host?q", "must have a path"},
      {"http://host:0/x", "the port must be a number from 1 to 65535, not '0'"},
      {"http://host:65536/x", "not '65536'"},
      {"http://host:/x", "the port after ':' is missing"},
      {"http:///x", "has no host"},
      {"http://ho st/x", "must not contain spaces"},
      {"http://host/caf\xc3\xa9", "bytes outside ASCII"},
      {"http://host/x#top", "must not have a fragment"},
      {"http://host/a%2", "'%' in the path"},
      {"http://host/a\"b", "'\"' must be percent-encoded"},
      {"http://ho$t/x", "the host may hold"},
      {"http://[::g]/x", "is not an IPv6 address"},
  };
  for (const auto& [url, why] : cases) {
    const auto r = ParseHttpUrl(url);
    ASSERT_THAT(r, HasCode(Code::kInvalidArgument)) << url;
    EXPECT_NE(r.error().message().find(why), std::string::npos) << url << ": " << r.error().message();
  }
  EXPECT_THAT(ParseHttpUrl("http://h/" + std::string(2048, 'x')), HasCode(Code::kInvalidArgument));
}

TEST_F(HttpStepTest, AnInvalidUrlFailsEachAttemptForGood) {
  EXPECT_THAT(Call({.url = "https://example.com/x", .token_secret = kSecret}), HasCode(Code::kInvalidArgument));
}

// ---------------------------------------------------------------------------
// Properties of the body.

// Pieces of JSON texts and of other bytes, joined; past the last piece is a
// NUL byte, which no C string can hold.
Bytes Joined(const std::vector<std::size_t>& chosen) {
  static const char* const kPieces[] = {"{", "}",    "[",      "]",    "\"a\"", ":",  ",",    " ",
                                        "1", "true", "-2.5e3", "null", "\n",    "\"", "\xff", "\"\\u00e9\""};
  std::string s;
  for (std::size_t i : chosen) s += i < std::size(kPieces) ? std::string(kPieces[i]) : std::string(1, '\0');
  return ToBytes(s);
}

// Bytes that are JSON texts, nearly JSON texts, and anything else.
rc::Gen<Bytes> Value() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, 17)), Joined),
      rc::gen::element(ToBytes(R"({"a": [1, {"b": null}], "c": "\u2192"})"), ToBytes("  42 "), ToBytes("\"\""),
                       ToBytes("[]"), Bytes{}),
      rc::gen::arbitrary<Bytes>());
}

// The bytes the body says `name` holds: the value's text, or base64 decoded.
std::optional<Bytes> Recovered(const json& object, const std::string& name, const Bytes& sent) {
  if (object.contains(name)) {
    // A JSON value: equal to the one the bytes denote.
    if (!http_internal::IsJsonText(sent) || json::parse(sent.begin(), sent.end()) != object[name]) return std::nullopt;
    return sent;
  }
  if (!object.contains(name + "_base64") || !object[name + "_base64"].is_string()) return std::nullopt;
  return Base64Decode(object[name + "_base64"].get<std::string>());
}

RC_GTEST_PROP(HttpStepProperty, TheBodyIsJsonFromWhichEveryValueIsRecovered, ()) {
  const Bytes input = *Value();
  const Bytes resume_data = *Value();
  std::map<std::string, Bytes> dependencies;
  for (const std::string& id : *rc::gen::container<std::vector<std::string>>(
           rc::gen::element<std::string>("a", "b-1", "quote\"d", "\xc3\xa9"))) {
    dependencies[id] = *Value();
  }
  StepDef step;
  step.id = *rc::gen::element<std::string>("charge", "with \"quotes\" and \\", "\xe2\x86\x92");
  StepContext ctx;
  ctx.run = RunId::New();
  ctx.step = &step;
  ctx.epoch = *rc::gen::arbitrary<std::uint32_t>();
  ctx.attempt = *rc::gen::arbitrary<std::uint32_t>();
  ctx.idempotency_key = ctx.run.ToString() + "/" + step.id + "/" + std::to_string(ctx.epoch);
  ctx.input = input;
  ctx.dependencies = &dependencies;
  ctx.resume_data = resume_data;

  const std::string body = http_internal::RequestBody(ctx);
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  RC_ASSERT(j.is_object());
  RC_ASSERT(j["run"] == ctx.run.ToString());
  RC_ASSERT(j["step"] == step.id);
  RC_ASSERT(j["epoch"] == ctx.epoch);
  RC_ASSERT(j["attempt"] == ctx.attempt);
  RC_ASSERT(j["idempotency_key"] == ctx.idempotency_key);
  RC_ASSERT(j.contains("input") != j.contains("input_base64"));
  RC_ASSERT(j.contains("input") == http_internal::IsJsonText(input));
  RC_ASSERT(Recovered(j, "input", input) == input);
  if (resume_data.empty()) {
    RC_ASSERT(!j.contains("resume_data") && !j.contains("resume_data_base64"));
  } else {
    RC_ASSERT(Recovered(j, "resume_data", resume_data) == resume_data);
  }
  RC_ASSERT(j["dependencies"].size() + j["dependencies_base64"].size() == dependencies.size());
  for (const auto& [id, output] : dependencies) {
    const bool as_value = j["dependencies"].contains(id);
    RC_ASSERT(as_value != j["dependencies_base64"].contains(id));
    const json holder =
        as_value ? json{{"v", j["dependencies"][id]}} : json{{"v_base64", j["dependencies_base64"][id]}};
    RC_ASSERT(Recovered(holder, "v", output) == output);
  }
}

}  // namespace
}  // namespace rwd::test
