#include "rewind/inspect/event_json.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "tests/support/matchers.h"
#include "tests/support/sample_events.h"

namespace rwd::test {
namespace {

using inspect::BytesJson;
using inspect::EventFromJson;
using inspect::EventJson;
using nlohmann::json;

RC_GTEST_PROP(EventJsonTest, AnyEventRoundTrips, (const Event& event)) {
  const json j = EventJson(event);
  auto back = EventFromJson(j);
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == event);
  // Through text as well: what an export writes is what a reader gets.
  auto reparsed = EventFromJson(json::parse(j.dump()));
  RC_ASSERT(reparsed.has_value());
  RC_ASSERT(*reparsed == event);
}

RC_GTEST_PROP(EventJsonTest, AnyBytesRoundTrip, (const Bytes& bytes)) {
  Event e{1, std::nullopt, kSchemaVersion, RunCompleted{bytes}};
  auto back = EventFromJson(EventJson(e));
  RC_ASSERT(back.has_value());
  RC_ASSERT(std::get<RunCompleted>(back->body).output == bytes);
}

TEST(EventJsonTest, EverySampleEventRoundTrips) {
  for (const Event& e : SampleEvents()) {
    auto back = EventFromJson(EventJson(e));
    ASSERT_TRUE(back.has_value()) << back.error().ToString() << "\n" << EventJson(e).dump();
    EXPECT_EQ(*back, e);
  }
}

// Documents written before schema version 2 have no definition_stored.
TEST(EventJsonTest, AStartWithoutDefinitionStoredIsOneThatHoldsItsDefinition) {
  const Event start = SampleEvents()[1];
  json j = EventJson(start);
  ASSERT_EQ(j["body"]["definition_stored"], false);
  j["body"].erase("definition_stored");
  const auto read = EventFromJson(j);
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  EXPECT_EQ(*read, start);
  j["body"]["steps"].erase(0);  // any other field is still required
  j["body"].erase("tenant");
  EXPECT_FALSE(EventFromJson(j).has_value());
}

TEST(EventJsonTest, FieldsCarryTheSchemasNames) {
  Event e{1700000000000001, Actor{ActorKind::kUser, "alice", "acme"}, kSchemaVersion,
          StepFailed{2, 3, "exit_status", "exit 3", false, 1}};
  EXPECT_EQ(EventJson(e), json::parse(R"({"type": "StepFailed", "unix_us": 1700000000000001, "schema_version": 2,
      "actor": {"kind": "user", "subject": "alice", "tenant": "acme"},
      "body": {"step": 2, "attempt": 3, "code": "exit_status", "message": "exit 3", "retryable": false, "epoch": 1}})"));
}

TEST(EventJsonTest, NestedTablesAreObjectsAndEnumsAreNames) {
  StepDef gate{"approve", StepKind::kApproval, {0}, RetryPolicy{}, 0, "", 0, {}};
  RunStarted def{"order", 2, {}, {StepDef{"a"}, gate}, ToBytes("{\"qty\":3}"), "acme", "key-1"};
  const json j = EventJson(Event{5, std::nullopt, kSchemaVersion, def});
  EXPECT_TRUE(j["actor"].is_null());
  EXPECT_EQ(j["body"]["steps"][1]["kind"], "approval");
  EXPECT_EQ(j["body"]["steps"][1]["depends_on"], json::array({0}));
  EXPECT_EQ(j["body"]["steps"][1]["retry"]["max_attempts"], 1);
  EXPECT_EQ(j["body"]["input"], "{\"qty\":3}");
  const json paused = EventJson(Event{5, std::nullopt, kSchemaVersion, RunPaused{1, PauseReason::kSignalWait, ""}});
  EXPECT_EQ(paused["body"]["reason"], "signal_wait");
}

TEST(EventJsonTest, BytesAreTextWhenTheyAreTextAndBase64Otherwise) {
  EXPECT_EQ(BytesJson(AsBytes("line one\nline two\ttab é")), "line one\nline two\ttab é");
  EXPECT_EQ(BytesJson(AsBytes("")), "");
  EXPECT_EQ(BytesJson(Bytes{0x00, 0xFF}), json({{"base64", "AP8="}}));
  EXPECT_EQ(BytesJson(AsBytes("bell\a")), json({{"base64", "YmVsbAc="}}));
  EXPECT_EQ(BytesJson(Bytes{0xC0, 0x80}), json({{"base64", "wIA="}}));        // overlong NUL
  EXPECT_EQ(BytesJson(Bytes{0xED, 0xA0, 0x80}), json({{"base64", "7aCA"}}));  // a surrogate
  EXPECT_EQ(BytesJson(Bytes{0xE2, 0x82}), json({{"base64", "4oI="}}));        // cut short
}

TEST(EventJsonTest, StringsThatAreNotUtf8AreBase64) {
  const Event e{1, Actor{ActorKind::kUser, std::string("caf\xE8", 4), "acme"}, kSchemaVersion, TimerFired{0}};
  const json j = EventJson(e);
  EXPECT_EQ(j["actor"]["subject"], json({{"base64", "Y2Fm6A=="}}));
  EXPECT_EQ(*EventFromJson(j), e);
  EXPECT_EQ(EventJson(Event{1, std::nullopt, kSchemaVersion, CancelRequested{"a\x01" "b"}})["body"]["reason"], "a\x01" "b")
      << "strings keep control characters; JSON escapes them";
}

TEST(EventJsonTest, ForksNameTheirParentInHex) {
  const RunId parent = *RunId::Parse("0123456789abcdef0123456789abcdef");
  RunForked fork{parent, 7, 1, RunStarted{"w", 1, {}, {StepDef{"a"}, StepDef{"b"}}, {}, "t", ""},
                 {StepOutput{0, ToBytes("A")}}};
  const json j = EventJson(Event{1, std::nullopt, kSchemaVersion, fork});
  EXPECT_EQ(j["body"]["parent_run"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(j["body"]["kept"][0]["output"], "A");
}

// Each refusal names where the JSON is wrong.
TEST(EventJsonTest, MalformedEventsAreRefusedNamingTheField) {
  const Event e{1, std::nullopt, kSchemaVersion, StepStarted{1, 2, 0}};
  auto refused = [&](const std::function<void(json&)>& change, std::string_view where) {
    json j = EventJson(e);
    change(j);
    auto r = EventFromJson(j);
    ASSERT_FALSE(r.has_value()) << j.dump();
    EXPECT_THAT(r.error(), HasCode(Code::kInvalidArgument));
    EXPECT_NE(r.error().message().find(where), std::string::npos) << r.error().message();
  };
  refused([](json& j) { j["body"].erase("attempt"); }, "body.attempt");
  refused([](json& j) { j["body"]["extra"] = 1; }, "body");
  refused([](json& j) { j["body"]["step"] = "one"; }, "body.step");
  refused([](json& j) { j["body"]["step"] = -1; }, "body.step");
  refused([](json& j) { j["body"]["step"] = 1ull << 32; }, "body.step");
  refused([](json& j) { j["type"] = "StepExploded"; }, "type");
  refused([](json& j) { j.erase("unix_us"); }, "unix_us");
  refused([](json& j) { j["schema_version"] = 70000; }, "schema_version");
  refused([](json& j) { j["actor"] = {{"kind", "robot"}, {"subject", "x"}, {"tenant", ""}}; }, "actor.kind");
  refused([](json& j) { j["surprise"] = true; }, "event");
  refused([](json& j) { j = json::array(); }, "object");
}

TEST(EventJsonTest, BadBytesAreRefused) {
  auto output = [](json value) {
    json j = EventJson(Event{1, std::nullopt, kSchemaVersion, RunCompleted{}});
    j["body"]["output"] = std::move(value);
    return EventFromJson(j);
  };
  EXPECT_FALSE(output(json({{"base64", "not base64!"}})).has_value());
  EXPECT_FALSE(output(json({{"base64", "aGk="}})).has_value()) << "text must be spelled as a string";
  EXPECT_FALSE(output(json({{"hex", "00"}})).has_value());
  EXPECT_FALSE(output(json("bell\a")).has_value()) << "control characters must be base64";
  EXPECT_TRUE(output(json({{"base64", "AP8="}})).has_value());
}

}  // namespace
}  // namespace rwd::test
