#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

// The generated FlatBuffers code (build tree), to write bytes Encode never writes.
#include "events_generated.h"
#include "rewind/schemas/events.h"
#include "tests/support/matchers.h"
#include "tests/support/sample_events.h"

namespace rwd {
namespace {

using test::HasCode;
using test::IsOk;
using test::SampleEvents;

Bytes Copy(ByteView bytes) { return Bytes(bytes.begin(), bytes.end()); }

// An Event table written with FlatBuffers directly, with a TimerFired{3} body.
Bytes BuildEvent(std::uint16_t schema_version, fb::Body body_type) {
  flatbuffers::FlatBufferBuilder b;
  const auto body = fb::CreateTimerFired(b, 3).Union();
  b.Finish(fb::CreateEvent(b, 42, 0, schema_version, body_type, body));
  return Bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

// Decode's contract on any input: Corruption or FailedPrecondition, or an event
// that passed FlatBuffers verification and survives Encode and Decode unchanged.
void CheckDecodeIsSafe(ByteView bytes) {
  const Result<Event> event = Decode(bytes);
  if (!event.has_value()) {
    const Code code = event.error().code();
    RC_ASSERT(code == Code::kCorruption || code == Code::kFailedPrecondition);
    return;
  }
  const Bytes aligned = Copy(bytes);  // new[] memory: aligned for the verifier
  flatbuffers::Verifier verifier(aligned.data(), aligned.size());
  RC_ASSERT(fb::VerifyEventBuffer(verifier));
  Event expected = *event;  // Encode writes the current version
  expected.schema_version = kSchemaVersion;
  const Result<Event> again = Decode(Encode(*event));
  RC_ASSERT(again.has_value());
  RC_ASSERT(*again == expected);
}

void CheckRoundTrip(const Event& event) {
  const Result<Event> decoded = Decode(Encode(event));
  if (!decoded.has_value()) RC_FAIL(decoded.error().ToString());
  RC_ASSERT(*decoded == event);
}

// ---------------------------------------------------------------- round trip

RC_GTEST_PROP(CodecTest, AnyEventRoundTrips, (const Event& event)) { CheckRoundTrip(event); }

// One property per body type, so each gets the full number of cases.
#define REWIND_ROUND_TRIP_PROP(Body)                                                       \
  RC_GTEST_PROP(CodecTest, Body##EventsRoundTrip, ()) {                                    \
    CheckRoundTrip(*test::GenEvent(rc::gen::cast<EventBody>(rc::gen::arbitrary<Body>()))); \
  }

REWIND_ROUND_TRIP_PROP(RunStarted)
REWIND_ROUND_TRIP_PROP(StepStarted)
REWIND_ROUND_TRIP_PROP(StepCompleted)
REWIND_ROUND_TRIP_PROP(StepFailed)
REWIND_ROUND_TRIP_PROP(RetryScheduled)
REWIND_ROUND_TRIP_PROP(StepAbandoned)
REWIND_ROUND_TRIP_PROP(RunPaused)
REWIND_ROUND_TRIP_PROP(ApprovalDecided)
REWIND_ROUND_TRIP_PROP(SignalReceived)
REWIND_ROUND_TRIP_PROP(TimerScheduled)
REWIND_ROUND_TRIP_PROP(TimerFired)
REWIND_ROUND_TRIP_PROP(ResumeRequested)
REWIND_ROUND_TRIP_PROP(RunForked)
REWIND_ROUND_TRIP_PROP(CancelRequested)
REWIND_ROUND_TRIP_PROP(RunCancelled)
REWIND_ROUND_TRIP_PROP(RunCompleted)
REWIND_ROUND_TRIP_PROP(RunFailed)

#undef REWIND_ROUND_TRIP_PROP

TEST(CodecTest, EverySampleEventRoundTrips) {
  for (const Event& event : SampleEvents()) {
    const Result<Event> decoded = Decode(Encode(event));
    ASSERT_THAT(decoded, IsOk()) << EventTypeName(event.body);
    EXPECT_EQ(*decoded, event);
  }
}

// ---------------------------------------------------------------- determinism

RC_GTEST_PROP(CodecTest, EqualEventsEncodeToIdenticalBytes, (const Event& a, const Event& b)) {
  const Bytes first = Encode(a);
  RC_ASSERT(Encode(b) == Encode(Event(b)));  // the builder is reused in between
  RC_ASSERT(Encode(Event(a)) == first);
  const Result<Event> decoded = Decode(first);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(Encode(*decoded) == first);
}

// ---------------------------------------------------------------- damaged input

// FlatBuffers pads a buffer's end to its alignment and the verifier does not
// know where the data ends, so a cut inside that zero padding (at most 7 bytes)
// still decodes, to the very same event. Any other cut must be Corruption.
// Returns what went wrong for the first truncation that breaks this, or "".
std::string TruncationProblem(const Event& event) {
  const Bytes bytes = Encode(event);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const Result<Event> decoded = Decode(Copy(ByteView(bytes).first(n)));
    const std::string at = std::to_string(n) + " of " + std::to_string(bytes.size()) + " bytes: ";
    if (!decoded.has_value()) {
      if (decoded.error().code() != Code::kCorruption) return at + decoded.error().ToString();
      continue;
    }
    const bool only_padding =
        bytes.size() - n < 8 && std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(n),
                                            bytes.end(), [](std::uint8_t b) { return b == 0; });
    if (!only_padding || *decoded != event) return at + "decodes";
  }
  return "";
}

TEST(CodecTest, EveryTruncationOfASampleIsCorruptionOrDropsOnlyPadding) {
  for (const Event& event : SampleEvents()) {
    EXPECT_EQ(TruncationProblem(event), "") << EventTypeName(event.body);
  }
}

RC_GTEST_PROP(CodecTest, EveryTruncationIsCorruptionOrDropsOnlyPadding, (const Event& event)) {
  RC_ASSERT(TruncationProblem(event) == "");
}

RC_GTEST_PROP(CodecTest, RandomBytesDecodeToAnErrorOrAValidEvent, (const Bytes& bytes)) {
  CheckDecodeIsSafe(bytes);
}

RC_GTEST_PROP(CodecTest, DamagedEncodingsDecodeToAnErrorOrAValidEvent, (const Event& event)) {
  Bytes bytes = Encode(event);
  const int flips = *rc::gen::inRange(1, 4);
  for (int i = 0; i < flips; ++i) {
    const auto at = *rc::gen::inRange<std::size_t>(0, bytes.size());
    bytes[at] ^= static_cast<std::uint8_t>(*rc::gen::inRange(1, 256));
  }
  CheckDecodeIsSafe(bytes);
}

TEST(CodecTest, EmptyShortAndOversizedInputsAreCorruption) {
  const Bytes one = {0};
  EXPECT_THAT(Decode(Bytes{}), HasCode(Code::kCorruption));
  EXPECT_THAT(Decode(ByteView(one).subspan(1)), HasCode(Code::kCorruption));  // empty, misaligned
  EXPECT_THAT(Decode(Bytes{1, 2, 3}), HasCode(Code::kCorruption));
  EXPECT_THAT(Decode(Bytes(kMaxEncodedEventBytes + 1)), HasCode(Code::kCorruption));
}

// ---------------------------------------------------------------- versions and types

TEST(CodecTest, HandBuiltCurrentVersionEventDecodes) {
  const Result<Event> event = Decode(BuildEvent(kSchemaVersion, fb::Body::TimerFired));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->unix_us, 42);
  EXPECT_EQ(event->body, EventBody(TimerFired{3}));
}

TEST(CodecTest, NewerSchemaVersionIsFailedPrecondition) {
  const auto newer = static_cast<std::uint16_t>(kSchemaVersion + 1);
  EXPECT_THAT(Decode(BuildEvent(newer, fb::Body::TimerFired)), HasCode(Code::kFailedPrecondition));
  EXPECT_THAT(Decode(BuildEvent(0xffff, fb::Body::TimerFired)), HasCode(Code::kFailedPrecondition));
}

TEST(CodecTest, SchemaVersionZeroIsCorruption) {
  EXPECT_THAT(Decode(BuildEvent(0, fb::Body::TimerFired)), HasCode(Code::kCorruption));
}

TEST(CodecTest, UnknownUnionTypeIsFailedPrecondition) {
  const auto next = static_cast<fb::Body>(static_cast<int>(fb::Body::MAX) + 1);
  EXPECT_THAT(Decode(BuildEvent(kSchemaVersion, next)), HasCode(Code::kFailedPrecondition));
  EXPECT_THAT(Decode(BuildEvent(kSchemaVersion, static_cast<fb::Body>(255))),
              HasCode(Code::kFailedPrecondition));
}

TEST(CodecTest, BodyTypeNoneIsCorruption) {
  EXPECT_THAT(Decode(BuildEvent(kSchemaVersion, fb::Body::NONE)), HasCode(Code::kCorruption));
}

// ---------------------------------------------------------------- semantic checks

Event EventWith(EventBody body) {
  Event event;
  event.body = std::move(body);
  return event;
}

StepDef Step(std::string id, std::vector<std::uint32_t> depends_on = {}) {
  StepDef step;
  step.id = std::move(id);
  step.depends_on = std::move(depends_on);
  return step;
}

Event WithSteps(std::vector<StepDef> steps) {
  RunStarted start;
  start.workflow = "w";
  start.steps = std::move(steps);
  return EventWith(std::move(start));
}

Result<Event> EncodeAndDecode(const Event& event) { return Decode(Encode(event)); }

TEST(CodecTest, StepDependingOnItselfOrOutOfRangeIsCorruption) {
  EXPECT_THAT(EncodeAndDecode(WithSteps({Step("a", {0})})), HasCode(Code::kCorruption));
  EXPECT_THAT(EncodeAndDecode(WithSteps({Step("a"), Step("b", {2})})), HasCode(Code::kCorruption));
  EXPECT_THAT(EncodeAndDecode(WithSteps({Step("a"), Step("b", {0})})), IsOk());
}

TEST(CodecTest, StepWithoutIdIsCorruption) {
  EXPECT_THAT(EncodeAndDecode(WithSteps({Step("")})), HasCode(Code::kCorruption));
}

TEST(CodecTest, UnknownEnumValuesAreCorruption) {
  StepDef step = Step("a");
  step.kind = static_cast<StepKind>(9);
  EXPECT_THAT(EncodeAndDecode(WithSteps({step})), HasCode(Code::kCorruption));
  EXPECT_THAT(EncodeAndDecode(EventWith(RunPaused{1, static_cast<PauseReason>(3), ""})),
              HasCode(Code::kCorruption));
  Event event = EventWith(TimerFired{1});
  event.actor = Actor{static_cast<ActorKind>(3), "x", ""};
  EXPECT_THAT(EncodeAndDecode(event), HasCode(Code::kCorruption));
}

TEST(CodecTest, DefinitionHashOfWrongSizeIsCorruption) {
  Event event = WithSteps({Step("a")});
  std::get<RunStarted>(event.body).definition_hash = Bytes(31, 0xab);
  EXPECT_THAT(EncodeAndDecode(event), HasCode(Code::kCorruption));
}

TEST(CodecTest, RetryPolicyOutOfRangeIsCorruption) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto& [multiplier, jitter] : std::vector<std::pair<double, double>>{
           {-1, 0}, {2e6, 0}, {nan, 0}, {2, 1.5}, {2, -0.1}, {2, nan}}) {
    StepDef step = Step("a");
    step.retry.multiplier = multiplier;
    step.retry.jitter = jitter;
    EXPECT_THAT(EncodeAndDecode(WithSteps({step})), HasCode(Code::kCorruption)) << multiplier;
  }
}

// ---------------------------------------------------------------- alignment

RC_GTEST_PROP(CodecTest, DecodeWorksOnAMisalignedBuffer, (const Event& event)) {
  const Bytes bytes = Encode(event);
  Bytes shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  const Result<Event> decoded = Decode(ByteView(shifted).subspan(1));
  if (!decoded.has_value()) RC_FAIL(decoded.error().ToString());
  RC_ASSERT(*decoded == event);
}

// ---------------------------------------------------------------- names

template <std::size_t... I>
std::vector<std::string_view> NamesOfEveryBodyType(std::index_sequence<I...>) {
  return {EventTypeName(EventBody(std::in_place_index<I>))...};
}

TEST(CodecTest, EventTypeNameIsTheSchemaName) {
  const std::vector<std::string_view> names =
      NamesOfEveryBodyType(std::make_index_sequence<std::variant_size_v<EventBody>>());
  EXPECT_EQ(names, (std::vector<std::string_view>{
                       "RunStarted", "StepStarted", "StepCompleted", "StepFailed", "RetryScheduled",
                       "StepAbandoned", "RunPaused", "ApprovalDecided", "SignalReceived",
                       "TimerScheduled", "TimerFired", "ResumeRequested", "RunForked",
                       "CancelRequested", "RunCancelled", "RunCompleted", "RunFailed"}));
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(names[i], fb::EnumNamesBody()[i + 1]);
}

}  // namespace
}  // namespace rwd
