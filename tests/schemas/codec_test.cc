#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// The generated FlatBuffers code (build tree), to write bytes Encode never writes.
#include "events_generated.h"
#include "rewind/journal/hash.h"
#include "rewind/schemas/events.h"
#include "tests/support/matchers.h"
#include "tests/support/sample_events.h"

namespace rwd {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using test::HasCode;
using test::IsOk;
using test::SampleEvents;
using ::testing::HasSubstr;

Bytes Copy(ByteView bytes) { return Bytes(bytes.begin(), bytes.end()); }

// An Event table written with FlatBuffers directly: `build_body` writes the
// body (of type `body_type`) into the builder it is given.
template <typename BuildBody>
Bytes BuildEvent(std::uint16_t schema_version, fb::Body body_type, BuildBody build_body) {
  FlatBufferBuilder b;
  const Offset<void> body = build_body(b);
  b.Finish(fb::CreateEvent(b, 42, 0, schema_version, body_type, body));
  return Bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

// An Event with a TimerFired{3} body, whatever `body_type` says.
Bytes BuildEvent(std::uint16_t schema_version, fb::Body body_type) {
  return BuildEvent(schema_version, body_type,
                    [](FlatBufferBuilder& b) { return fb::CreateTimerFired(b, 3).Union(); });
}

// The message of an error, "" for an event.
std::string ErrorMessage(const Result<Event>& result) {
  return result.has_value() ? std::string() : result.error().message();
}

// Sub-objects that many references share, which Encode never writes.

// A RunStarted whose `steps` names one StepDef `copies` times; the step has a
// `config` of `config_bytes` and a default retry policy table.
Bytes SharedStepEvent(std::size_t config_bytes, std::size_t copies) {
  return BuildEvent(kSchemaVersion, fb::Body::RunStarted, [&](FlatBufferBuilder& b) {
    const auto id = b.CreateString("s");
    const auto retry = fb::CreateRetryPolicy(b);
    const auto config = b.CreateVector(Bytes(config_bytes, 0x5a));
    const auto step = fb::CreateStepDef(b, id, fb::StepKind::Code, 0, retry, 0, 0, 0, config);
    const auto steps = b.CreateVector(std::vector<Offset<fb::StepDef>>(copies, step));
    const auto workflow = b.CreateString("w");
    return fb::CreateRunStarted(b, workflow, 0, 0, steps).Union();
  });
}

// A RunForked of a one-step run that keeps one StepOutput of `output_bytes`
// `copies` times.
Bytes SharedKeptOutputEvent(std::size_t output_bytes, std::size_t copies) {
  return BuildEvent(kSchemaVersion, fb::Body::RunForked, [&](FlatBufferBuilder& b) {
    const auto parent = b.CreateVector(Bytes(RunId::kSize, 1));
    const auto id = b.CreateString("s");
    const auto steps = b.CreateVector(std::vector{fb::CreateStepDef(b, id)});
    const auto workflow = b.CreateString("w");
    const auto start = fb::CreateRunStarted(b, workflow, 0, 0, steps);
    const auto output = b.CreateVector(Bytes(output_bytes, 0x5a));
    const auto kept = fb::CreateStepOutput(b, 0, output);
    const auto kept_vec = b.CreateVector(std::vector<Offset<fb::StepOutput>>(copies, kept));
    return fb::CreateRunForked(b, parent, 1, 0, start, kept_vec).Union();
  });
}

// A StepFailed whose code and message are one string of `n` bytes.
Bytes SharedStringEvent(std::size_t n) {
  return BuildEvent(kSchemaVersion, fb::Body::StepFailed, [&](FlatBufferBuilder& b) {
    const auto text = b.CreateString(std::string(n, 'x'));
    return fb::CreateStepFailed(b, 0, 1, text, text).Union();
  });
}

// Bytes that malloc has handed out and not taken back (glibc; 0 elsewhere,
// and under a sanitizer, whose allocator glibc does not see).
std::size_t HeapInUse() {
#if defined(__GLIBC__)
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#else
  return 0;
#endif
}

// How much more heap a fresh thread holds after `work` than before it, that
// is, what `work` left in thread_local state.
template <typename Work>
std::size_t HeapKeptByAFreshThread(Work work) {
  std::size_t before = 0;
  std::size_t after = 0;
  std::thread([&] {
    before = HeapInUse();
    work();
    after = HeapInUse();
  }).join();
  return after > before ? after - before : 0;
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

// A body type this build does not know can only come from a newer build, which
// writes a newer schema version; in an event of this version it is damage.
TEST(CodecTest, UnknownUnionTypeOfTheCurrentVersionIsCorruption) {
  const auto next = static_cast<fb::Body>(static_cast<int>(fb::Body::MAX) + 1);
  EXPECT_THAT(Decode(BuildEvent(kSchemaVersion, next)), HasCode(Code::kCorruption));
  EXPECT_THAT(Decode(BuildEvent(kSchemaVersion, static_cast<fb::Body>(255))),
              HasCode(Code::kCorruption));
}

TEST(CodecTest, UnknownUnionTypeOfANewerVersionIsFailedPrecondition) {
  const auto newer = static_cast<std::uint16_t>(kSchemaVersion + 1);
  const auto next = static_cast<fb::Body>(static_cast<int>(fb::Body::MAX) + 1);
  EXPECT_THAT(Decode(BuildEvent(newer, next)), HasCode(Code::kFailedPrecondition));
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

RunForked ForkOfThreeSteps(std::uint32_t from_step, std::vector<StepOutput> kept) {
  RunForked fork;
  fork.from_step = from_step;
  fork.start = std::get<RunStarted>(WithSteps({Step("a"), Step("b", {0}), Step("c", {1})}).body);
  fork.kept = std::move(kept);
  return fork;
}

TEST(CodecTest, ForkFromAStepOutsideItsDefinitionIsCorruption) {
  EXPECT_THAT(EncodeAndDecode(EventWith(ForkOfThreeSteps(2, {}))), IsOk());
  const Result<Event> decoded = EncodeAndDecode(EventWith(ForkOfThreeSteps(3, {})));
  EXPECT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_THAT(ErrorMessage(decoded), HasSubstr("step index 3 of 3"));
}

TEST(CodecTest, ForkKeepingAStepOutsideItsDefinitionIsCorruptionNamingTheEntry) {
  EXPECT_THAT(EncodeAndDecode(EventWith(ForkOfThreeSteps(2, {{0, {1}}, {1, {}}}))), IsOk());
  const Result<Event> decoded = EncodeAndDecode(EventWith(ForkOfThreeSteps(2, {{0, {1}}, {7, {}}})));
  EXPECT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_THAT(ErrorMessage(decoded), HasSubstr("kept output 1"));
}

// ---------------------------------------------------------------- shared sub-objects

// The Verifier accepts a sub-object referenced from many places; Decode would
// copy it once per reference. Here 64 x 1 MiB, or 1.6 TB for the second.
TEST(CodecTest, StepsSharingOneBigConfigAreCorruption) {
  const Result<Event> decoded = Decode(SharedStepEvent(1 << 20, 64));
  EXPECT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_THAT(ErrorMessage(decoded), HasSubstr("expands beyond"));
  EXPECT_THAT(Decode(SharedStepEvent(16 << 20, 100'000)), HasCode(Code::kCorruption));
}

TEST(CodecTest, KeptOutputsSharingOneBufferAreCorruption) {
  EXPECT_THAT(Decode(SharedKeptOutputEvent(1 << 20, 64)), HasCode(Code::kCorruption));
  EXPECT_THAT(Decode(SharedKeptOutputEvent(16 << 20, 100'000)), HasCode(Code::kCorruption));
}

TEST(CodecTest, TwoFieldsSharingOneStringAreCorruption) {
  EXPECT_THAT(Decode(SharedStringEvent(1 << 20)), HasCode(Code::kCorruption));
}

TEST(CodecTest, SharingASmallSubObjectIsFineWithinTheBudget) {
  EXPECT_THAT(Decode(SharedStringEvent(4)), IsOk());
}

// Each shared StepDef here is two tables (the step and its retry policy) per
// 4-byte reference: more tables than a buffer of this size can hold.
TEST(CodecTest, MoreTablesThanTheInputCanHoldFailVerification) {
  const Result<Event> decoded = Decode(SharedStepEvent(0, 1000));
  EXPECT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_THAT(ErrorMessage(decoded), HasSubstr("verification"));
}

// Encode never shares, so the densest events it writes still fit Decode's
// budget: many one-letter steps with dependencies, many empty kept outputs.
TEST(CodecTest, DenseEventsFromEncodeStayWithinTheBudget) {
  std::vector<StepDef> steps = {Step("a")};
  for (std::uint32_t i = 1; i < 2000; ++i) steps.push_back(Step("s", {i - 1}));
  RunForked fork{RunId(), 1, 0, std::get<RunStarted>(WithSteps(steps).body), {}};
  for (std::uint32_t i = 0; i < 2000; ++i) fork.kept.push_back(StepOutput{i, {}});
  EXPECT_THAT(EncodeAndDecode(EventWith(fork.start)), IsOk());
  EXPECT_THAT(EncodeAndDecode(EventWith(fork)), IsOk());
}

// ---------------------------------------------------------------- thread-local buffers

TEST(CodecTest, EncodingABigEventLeavesNoBigBufferBehind) {
  const Event big = EventWith(RunCompleted{Bytes(4 << 20, 0x5a)});
  EXPECT_LT(HeapKeptByAFreshThread([&] { EXPECT_FALSE(Encode(big).empty()); }), 1u << 20);
}

TEST(CodecTest, DecodingABigMisalignedEventLeavesNoBigBufferBehind) {
  const Bytes bytes = Encode(EventWith(RunCompleted{Bytes(4 << 20, 0x5a)}));
  Bytes shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  const ByteView misaligned = ByteView(shifted).subspan(1);
  EXPECT_LT(HeapKeptByAFreshThread([&] { EXPECT_THAT(Decode(misaligned), IsOk()); }), 1u << 20);
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

// ---------------------------------------------------------------- stored definitions

namespace rwd {
namespace {

// `start` naming its definition, stored under its real hash (the decoder's
// cache is keyed by it: a made-up hash would meet another test's definition).
RunStarted Named(RunStarted start) {
  const Hash hash = Sha256(EncodeDefinition(start));
  start.definition_hash.assign(hash.begin(), hash.end());
  start.definition_stored = true;
  return start;
}

// A finder holding the definitions of `starts`, counting its lookups.
struct Store {
  std::vector<Bytes> blobs;
  int lookups = 0;
  DefinitionFinder Finder() {
    return [this](ByteView hash) -> Result<std::optional<ByteView>> {
      ++lookups;
      for (const Bytes& blob : blobs) {
        const Hash h = Sha256(blob);
        if (std::equal(h.begin(), h.end(), hash.begin(), hash.end())) return std::optional<ByteView>(blob);
      }
      return std::optional<ByteView>();
    };
  }
};

RC_GTEST_PROP(CodecTest, AStartNamingItsStoredDefinitionDecodesToItWithTheDefinitionAndWithoutIt, ()) {
  const RunStarted held =
      *rc::gen::suchThat(test::GenRunStarted(), [](const RunStarted& s) { return !s.definition_stored && !s.steps.empty(); });
  const RunStarted named = Named(held);
  Store store{{EncodeDefinition(held)}};
  const DefinitionFinder find = store.Finder();
  const Bytes encoded = Encode(EventWith(named));
  // The steps are not in the event.
  RunStarted holding = named;
  holding.definition_stored = false;
  RC_ASSERT(encoded.size() < Encode(EventWith(holding)).size());
  const Result<Event> found = Decode(encoded, &find);
  if (!found.has_value()) RC_FAIL(found.error().ToString());
  RC_ASSERT(std::get<RunStarted>(found->body) == named);
  RC_ASSERT(found->schema_version == 2);
  // Without a finder: the same, less the steps.
  RunStarted bare = named;
  bare.steps.clear();
  RC_ASSERT(std::get<RunStarted>(Decode(encoded)->body) == bare);
  // A fork names the definition as well.
  RunForked fork;
  fork.parent_run = RunId::New();
  fork.from_step = static_cast<std::uint32_t>(held.steps.size() - 1);
  fork.start = named;
  const Result<Event> forked = Decode(Encode(EventWith(fork)), &find);
  if (!forked.has_value()) RC_FAIL(forked.error().ToString());
  RC_ASSERT(std::get<RunForked>(forked->body) == fork);
}

// Decoded once per process, a definition is still looked up by every decode:
// the journal at hand must hold it, and the event must be of its workflow.
TEST(CodecTest, ADefinitionDecodedBeforeIsStillLookedUpAndChecked) {
  RunStarted held;
  held.workflow = "looked-up-again";
  held.version = 2;
  held.steps = {Step("a"), Step("b", {0})};
  Store store{{EncodeDefinition(held)}};
  const DefinitionFinder find = store.Finder();
  const RunStarted named = Named(held);
  const Bytes encoded = Encode(EventWith(named));
  std::vector<RunStarted> decoded;
  for (int i = 0; i < 3; ++i) {
    Result<Event> event = Decode(encoded, &find);
    ASSERT_THAT(event, IsOk());
    decoded.push_back(std::get<RunStarted>(std::move(event->body)));
  }
  EXPECT_EQ(store.lookups, 3);
  // Every run of the definition holds its steps as decoded once, not a copy.
  EXPECT_TRUE(decoded[0].steps.SharesWith(decoded[2].steps));

  Store empty;
  const DefinitionFinder none = empty.Finder();
  EXPECT_THAT(ErrorMessage(Decode(encoded, &none)), HasSubstr("does not hold"));

  RunStarted forged = named;  // another workflow claiming the same definition
  forged.workflow = "refunds";
  EXPECT_THAT(ErrorMessage(Decode(Encode(EventWith(forged)), &find)),
              HasSubstr("not a definition of workflow 'refunds' version 2"));
}

// Both misaligned, as LMDB keeps them: the definition is decoded while the
// event is, and neither may spoil the other's aligned copy.
TEST(CodecTest, AMisalignedEventNamingAMisalignedDefinitionDecodes) {
  RunStarted held;
  held.workflow = "misaligned";
  held.steps = {Step("approve"), Step("ship", {0})};
  held.steps.Mutable()[0].kind = StepKind::kApproval;
  held.input = ToBytes(R"({"order":7,"note":"the input of the run itself"})");
  held.tenant = "acme";
  held.idempotency_key = "order-7";
  const RunStarted named = Named(held);
  auto odd = [](const Bytes& bytes) {
    Bytes buffer(bytes.size() + 3);
    std::copy(bytes.begin(), bytes.end(), buffer.begin() + 3);
    return buffer;
  };
  const Bytes blob = odd(EncodeDefinition(held));
  const Bytes event = odd(Encode(EventWith(named)));
  const DefinitionFinder find = [&](ByteView) -> Result<std::optional<ByteView>> {
    return std::optional<ByteView>(ByteView(blob).subspan(3));
  };
  const Result<Event> decoded = Decode(ByteView(event).subspan(3), &find);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(std::get<RunStarted>(decoded->body), named);
}

TEST(CodecTest, AMissingForeignOrUnreadableDefinitionIsNamedInTheError) {
  RunStarted held;
  held.workflow = "orders";
  held.version = 4;
  held.steps = {Step("charge")};
  const RunStarted named = Named(held);
  const std::string hex = HexEncode(named.definition_hash).substr(0, 16);
  const Bytes encoded = Encode(EventWith(named));

  Store none;
  DefinitionFinder find = none.Finder();
  const Result<Event> missing = Decode(encoded, &find);
  EXPECT_THAT(missing, HasCode(Code::kCorruption));
  EXPECT_THAT(ErrorMessage(missing), HasSubstr("definition " + hex));
  EXPECT_THAT(ErrorMessage(missing), HasSubstr("does not hold"));

  // A blob that hashes to the name but is another workflow's (a journal
  // damaged where the event names it).
  RunStarted other = held;
  other.workflow = "refunds";
  const Bytes foreign = EncodeDefinition(other);
  find = [&](ByteView) -> Result<std::optional<ByteView>> { return std::optional<ByteView>(foreign); };
  const Result<Event> wrong = Decode(encoded, &find);
  EXPECT_THAT(wrong, HasCode(Code::kCorruption));
  EXPECT_THAT(ErrorMessage(wrong), HasSubstr("not a definition of workflow 'orders' version 4"));

  find = [](ByteView) -> Result<std::optional<ByteView>> { return Err(Code::kUnavailable, "the disk is gone"); };
  EXPECT_THAT(Decode(encoded, &find), HasCode(Code::kUnavailable));
}

TEST(CodecTest, AStartWithoutStepsIsCorruptionUnlessItNamesAStoredDefinition) {
  auto start = [](std::uint16_t version, bool hash) {
    return BuildEvent(version, fb::Body::RunStarted, [&](FlatBufferBuilder& b) {
      const auto workflow = b.CreateString("w");
      const auto h = hash ? b.CreateVector(Bytes(32, 0x11)) : Offset<flatbuffers::Vector<std::uint8_t>>();
      return fb::CreateRunStarted(b, workflow, 1, h).Union();
    });
  };
  EXPECT_THAT(ErrorMessage(Decode(start(1, true))), HasSubstr("RunStarted has no steps"));
  EXPECT_THAT(ErrorMessage(Decode(start(2, false))), HasSubstr("neither steps nor a definition hash"));
  const Result<Event> named = Decode(start(2, true));
  ASSERT_THAT(named, IsOk());
  EXPECT_TRUE(std::get<RunStarted>(named->body).definition_stored);
}

}  // namespace
}  // namespace rwd

namespace rwd {
namespace {

TEST(StepDefsTest, CopiesShareTheStepsUntilOneIsChanged) {
  RunStarted a;
  a.steps = {Step("a"), Step("b", {0})};
  RunStarted b = a;
  EXPECT_TRUE(b.steps.SharesWith(a.steps));
  EXPECT_EQ(&b.steps[1], &a.steps[1]);  // reading never copies

  b.steps.Mutable()[1].id = "c";
  EXPECT_FALSE(b.steps.SharesWith(a.steps));
  EXPECT_EQ(a.steps[1].id, "b");
  EXPECT_EQ(b.steps[1].id, "c");
  EXPECT_NE(a, b);

  b.steps.Mutable()[1].id = "b";  // equal by value again, though not shared
  EXPECT_EQ(a, b);
  b.steps.push_back(Step("d"));
  EXPECT_EQ(a.steps.size(), 2u);
  EXPECT_EQ(b.steps.size(), 3u);

  b.steps.clear();
  EXPECT_TRUE(b.steps.empty());
  EXPECT_EQ(b.steps.begin(), b.steps.end());
  EXPECT_EQ(b.steps, StepDefs());
  EXPECT_EQ(a.steps.size(), 2u);
}

}  // namespace
}  // namespace rwd
