#include "projections/src/state_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tests/fold/run_builder.h"
#include "tests/support/flatbuffer_layout.h"
#include "tests/support/matchers.h"
#include "tests/support/sample_events.h"

namespace rwd {

// For gtest and rapidcheck failure messages (RunState has no operator<<).
void PrintTo(const RunState& s, std::ostream* os) {
  *os << "RunState{run=" << s.run.ToString() << " seq=" << s.seq
      << " status=" << RunStatusName(s.status) << " steps=" << s.steps.size()
      << " snapshot=" << HexEncode(EncodeState(s)) << "}";
}
void showValue(const RunState& s, std::ostream& os) { PrintTo(s, &os); }

namespace test {
namespace {

namespace gen = rc::gen;

// ---------------------------------------------------------------- fixtures

const RunId kRun(RunId::Bytes{0x01, 0x8f, 0xc4, 0x2a, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});

// `n` code steps, each depending on the one before; null for n == 0.
rwd::Definition Chain(std::size_t n) {
  if (n == 0) return nullptr;
  std::vector<StepDef> steps;
  for (std::uint32_t i = 0; i < n; ++i) {
    steps.push_back(i == 0 ? Def("s0") : Def("s" + std::to_string(i), {i - 1}));
  }
  return std::make_shared<const RunStarted>(Definition(std::move(steps)));
}

rc::Gen<StepState> GenStepState() {
  return gen::build<StepState>(
      gen::set(&StepState::status,
               gen::element(StepStatus::kPending, StepStatus::kRunning, StepStatus::kFailed,
                            StepStatus::kRetryWait, StepStatus::kWaiting, StepStatus::kCompleted,
                            StepStatus::kCancelled)),
      gen::set(&StepState::epoch), gen::set(&StepState::attempts),
      gen::set(&StepState::total_attempts), gen::set(&StepState::output),
      gen::set(&StepState::error_code), gen::set(&StepState::error_message),
      gen::set(&StepState::retryable), gen::set(&StepState::due_unix_us),
      gen::set(&StepState::started_unix_us));
}

// A resume of a run with `steps` (> 0) steps.
rc::Gen<ResumeRecord> GenResume(std::uint32_t steps) {
  return gen::build<ResumeRecord>(
      gen::set(&ResumeRecord::request_id),
      gen::set(&ResumeRecord::from_step, gen::inRange<std::uint32_t>(0, steps)),
      gen::set(&ResumeRecord::epoch), gen::set(&ResumeRecord::seq), gen::set(&ResumeRecord::data));
}

// Any state DecodeState accepts against `definition`: every field varies.
rc::Gen<RunState> GenRunState(rwd::Definition definition) {
  return gen::exec([definition] {
    const auto n = static_cast<std::uint32_t>(definition ? definition->steps.size() : 0);
    RunState s;
    s.run = RunId(*gen::arbitrary<RunId::Bytes>());
    s.seq = *gen::arbitrary<std::uint64_t>();
    s.definition = definition;
    s.status = *gen::element(RunStatus::kPending, RunStatus::kRunning, RunStatus::kPaused,
                             RunStatus::kFailed, RunStatus::kCompleted, RunStatus::kCancelled);
    s.epoch = *gen::arbitrary<std::uint32_t>();
    s.steps = *gen::container<std::vector<StepState>>(n, GenStepState());
    if (n > 0) {
      s.paused_step = *gen::oneOf(gen::just(kNoStep), gen::inRange<std::uint32_t>(0, n));
      s.resumes = *gen::container<std::vector<ResumeRecord>>(GenResume(n));
    }
    s.pending_signals = *gen::container<std::vector<SignalReceived>>(GenSignalReceived());
    s.output = *gen::arbitrary<Bytes>();
    s.error_code = *gen::arbitrary<std::string>();
    s.error_message = *gen::arbitrary<std::string>();
    if (*gen::arbitrary<bool>()) s.parent = RunId(*gen::arbitrary<RunId::Bytes>());
    s.parent_seq = *gen::arbitrary<std::uint64_t>();
    s.started_unix_us = *gen::arbitrary<std::int64_t>();
    s.updated_unix_us = *gen::arbitrary<std::int64_t>();
    return s;
  });
}

// A state of a run with a definition of 0-6 steps.
rc::Gen<RunState> GenAnyRunState() {
  return gen::mapcat(gen::inRange<std::size_t>(0, 7),
                     [](std::size_t n) { return GenRunState(Chain(n)); });
}

// Events of valid runs, each folding from seq 1.
std::vector<Event> Events(std::vector<EventBody> bodies) {
  std::vector<Event> out;
  for (EventBody& body : bodies) {
    out.push_back(Event{1'000 * static_cast<std::int64_t>(out.size() + 1), std::nullopt,
                        kSchemaVersion, std::move(body)});
  }
  return out;
}

RunStarted Linear() {
  return Definition({Def("validate"), Def("charge", {0}, StepKind::kCode, 3), Def("ship", {1})});
}

// Retries, an abandoned attempt and a completed run.
std::vector<Event> RetriedRun() {
  return Events({Linear(), StepStarted{0, 1, 0}, StepCompleted{0, 1, ToBytes("ok"), 0},
                 StepStarted{1, 1, 0}, StepFailed{1, 1, "declined", "card declined", true, 0},
                 RetryScheduled{1, 2, 5'000}, StepStarted{1, 2, 0}, StepAbandoned{1, 2, 0},
                 RetryScheduled{1, 3, 9'000}, StepStarted{1, 3, 0},
                 StepCompleted{1, 3, ToBytes("charged"), 0}, StepStarted{2, 1, 0},
                 StepCompleted{2, 1, {}, 0}, RunCompleted{ToBytes("done")}});
}

// An approval, early and late signals, a timer, a failure and a resume.
std::vector<Event> GatedRun() {
  const RunStarted def =
      Definition({Def("a"), Def("approve", {0}, StepKind::kApproval),
                  Def("wait", {1}, StepKind::kSignal), Def("nap", {0}, StepKind::kSleep), Def("d")});
  return Events({def, SignalReceived{"other", ToBytes("x")}, StepStarted{0, 1, 0},
                 StepCompleted{0, 1, ToBytes("A"), 0},
                 RunPaused{1, PauseReason::kApprovalRequired, "needs an ok"},
                 ApprovalDecided{1, true, ToBytes("OPS-12")}, TimerScheduled{3, 777},
                 TimerFired{3}, SignalReceived{"go", ToBytes("early")},
                 RunPaused{2, PauseReason::kSignalWait, ""}, SignalReceived{"go", ToBytes("now")},
                 StepStarted{4, 1, 0}, StepFailed{4, 1, "exit_status", "exit 1", false, 0},
                 RunFailed{4, "exit_status", "step 'd' failed"},
                 ResumeRequested{4, "fixed", "req-1", ToBytes("--force")}, StepStarted{4, 1, 1},
                 StepCompleted{4, 1, ToBytes("D"), 1}, RunCompleted{ToBytes("all")}});
}

// A fork, a manual pause, a resume and a cancellation.
std::vector<Event> ForkedRun() {
  RunForked fork;
  fork.parent_run = RunId(RunId::Bytes{0x3f, 0x2a, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff});
  fork.parent_seq = 9;
  fork.from_step = 1;
  fork.start = Linear();
  fork.kept = {StepOutput{0, ToBytes("A")}};
  return Events({fork, StepStarted{1, 1, 1}, RunPaused{kNoStep, PauseReason::kManual, "maintenance"},
                 ResumeRequested{1, "", "r2", {}}, StepStarted{1, 1, 2},
                 CancelRequested{"superseded"}, RunCancelled{"superseded"}});
}

// The sample events that fold, in order: each one Evolve refuses is left out.
std::vector<Event> FoldableSamples() {
  RunState state;
  std::vector<Event> out;
  for (const Event& event : SampleEvents()) {
    if (Evolve(state, event).ok()) out.push_back(event);
  }
  return out;
}

std::vector<std::vector<Event>> SampleRuns() {
  return {RetriedRun(), GatedRun(), ForkedRun(), FoldableSamples()};
}

// The state after each prefix of each sample run, the empty one included.
std::vector<RunState> SampleStates() {
  std::vector<RunState> out;
  for (const std::vector<Event>& events : SampleRuns()) {
    for (std::size_t k = 0; k <= events.size(); ++k) {
      Result<RunState> state = Fold(kRun, std::span(events).first(k));
      EXPECT_THAT(state, IsOk()) << "prefix " << k;
      if (state.has_value()) out.push_back(std::move(*state));
    }
  }
  return out;
}

// ---------------------------------------------------------------- layout

using namespace fb_layout;

// Fields of state.fbs by index.
constexpr std::size_t kVersion = 0, kStatus = 3, kSteps = 5, kPausedStep = 6, kResumes = 8;
constexpr std::size_t kStepStatus = 0, kResumeFromStep = 1;

// A running state of kRun with five steps, a pending signal, a resume and outputs.
RunState Fixture() {
  const std::vector<Event> events = GatedRun();
  return *Fold(kRun, std::span(events).first(15));
}

Result<RunState> Decode(const Bytes& bytes, const RunState& like) {
  return DecodeState(bytes, like.run, like.definition);
}
std::string MessageOf(const Result<RunState>& result) { return StatusOf(result).message(); }
using ::testing::HasSubstr;

// A damaged snapshot must be refused, or decode to a state that round-trips.
void ExpectRefusedOrConsistent(const Bytes& damaged, const RunState& original) {
  const Result<RunState> decoded = Decode(damaged, original);
  if (!decoded.has_value()) {
    const Code code = decoded.error().code();
    ASSERT_TRUE(code == Code::kCorruption || code == Code::kFailedPrecondition)
        << decoded.error().ToString();
    if (code == Code::kFailedPrecondition) {
      EXPECT_THAT(MessageOf(decoded), HasSubstr("version"));
    }
    return;
  }
  const Bytes again = EncodeState(*decoded);
  EXPECT_EQ(Decode(again, original), decoded);
}

// ---------------------------------------------------------------- tests

RC_GTEST_PROP(StateCodecTest, AnyStateRoundTrips, ()) {
  const RunState state = *GenAnyRunState();
  const Result<RunState> decoded = DecodeState(EncodeState(state), state.run, state.definition);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == state);
}

RC_GTEST_PROP(StateCodecTest, EncodingIsDeterministic, ()) {
  const RunState state = *GenAnyRunState();
  const RunState copy = state;
  const Bytes encoded = EncodeState(state);
  RC_ASSERT(EncodeState(copy) == encoded);
  RC_ASSERT(EncodeState(*DecodeState(encoded, state.run, state.definition)) == encoded);
}

TEST(StateCodecTest, EveryPrefixOfTheSampleRunsRoundTrips) {
  const std::vector<RunState> states = SampleStates();
  ASSERT_GT(states.size(), 40u);
  for (const RunState& state : states) {
    const Bytes encoded = EncodeState(state);
    const Result<RunState> decoded = DecodeState(encoded, kRun, state.definition);
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(*decoded, state);
    EXPECT_EQ(EncodeState(*decoded), encoded);
  }
}

TEST(StateCodecTest, SampleRunsReachEveryRunStatus) {
  std::set<RunStatus> seen;
  for (const RunState& state : SampleStates()) seen.insert(state.status);
  EXPECT_EQ(seen.size(), 6u);
}

TEST(StateCodecTest, DecodedStateSharesTheGivenDefinition) {
  const RunState state = Fixture();
  const rwd::Definition copy = std::make_shared<const RunStarted>(*state.definition);
  const Result<RunState> decoded = DecodeState(EncodeState(state), kRun, copy);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->definition, copy);
}

TEST(StateCodecTest, StateWithoutADefinitionRoundTrips) {
  RunState state;
  state.run = kRun;
  EXPECT_EQ(DecodeState(EncodeState(state), kRun, nullptr), state);
}

TEST(StateCodecTest, MisalignedInputDecodesTheSame) {
  const Bytes encoded = EncodeState(Fixture());
  Bytes shifted(encoded.size() + 1);
  std::memcpy(shifted.data() + 1, encoded.data(), encoded.size());
  EXPECT_EQ(DecodeState(ByteView(shifted).subspan(1), kRun, Fixture().definition), Fixture());
}

TEST(StateCodecTest, SnapshotOfAnotherRunIsCorruption) {
  const RunState state = Fixture();
  const Result<RunState> decoded = DecodeState(EncodeState(state), RunId(), state.definition);
  EXPECT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_THAT(MessageOf(decoded), HasSubstr("is of run " + kRun.ToString()));
}

TEST(StateCodecTest, SnapshotAgainstADefinitionWithOtherStepsIsCorruption) {
  const Bytes encoded = EncodeState(Fixture());
  EXPECT_THAT(DecodeState(encoded, kRun, Chain(4)), HasCode(Code::kCorruption));
  EXPECT_THAT(MessageOf(DecodeState(encoded, kRun, Chain(4))),
              HasSubstr("has 5 steps but its definition has 4"));
  EXPECT_THAT(DecodeState(encoded, kRun, Chain(6)), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeState(encoded, kRun, nullptr), HasCode(Code::kCorruption));
}

RC_GTEST_PROP(StateCodecTest, WrongRunIdOrStepCountIsCorruption, ()) {
  const RunState state = *GenAnyRunState();
  const Bytes encoded = EncodeState(state);
  RunId::Bytes other = state.run.bytes();
  other[*gen::inRange<std::size_t>(0, RunId::kSize)] ^= *gen::inRange<std::uint8_t>(1, 255);
  RC_ASSERT(StatusOf(DecodeState(encoded, RunId(other), state.definition)).code() ==
            Code::kCorruption);
  const std::size_t n = state.steps.size() + *gen::inRange<std::size_t>(1, 4);
  RC_ASSERT(StatusOf(DecodeState(encoded, state.run, Chain(n))).code() == Code::kCorruption);
}

TEST(StateCodecTest, EmptyInputIsCorruption) {
  EXPECT_THAT(DecodeState(ByteView(), kRun, nullptr), HasCode(Code::kCorruption));
}

TEST(StateCodecTest, EventIsNotASnapshot) {
  EXPECT_THAT(DecodeState(Encode(SampleEvents()[0]), kRun, nullptr), HasCode(Code::kCorruption));
}

TEST(StateCodecTest, NewerVersionIsAFailedPrecondition) {
  Bytes encoded = EncodeState(Fixture());
  const std::size_t version = Field(encoded, Root(encoded), kVersion);
  ASSERT_EQ(encoded[version], kStateSnapshotVersion);
  encoded[version] = kStateSnapshotVersion + 1;
  EXPECT_THAT(Decode(encoded, Fixture()), HasCode(Code::kFailedPrecondition));
  EXPECT_THAT(MessageOf(Decode(encoded, Fixture())), HasSubstr("version 2 is newer"));
}

TEST(StateCodecTest, VersionZeroIsCorruption) {
  Bytes encoded = EncodeState(Fixture());
  encoded[Field(encoded, Root(encoded), kVersion)] = 0;
  EXPECT_THAT(Decode(encoded, Fixture()), HasCode(Code::kCorruption));
}

TEST(StateCodecTest, UnknownRunStatusIsCorruption) {
  Bytes encoded = EncodeState(Fixture());
  encoded[Field(encoded, Root(encoded), kStatus)] = 6;
  EXPECT_THAT(Decode(encoded, Fixture()), HasCode(Code::kCorruption));
  EXPECT_THAT(MessageOf(Decode(encoded, Fixture())), HasSubstr("unknown run status 6"));
}

TEST(StateCodecTest, UnknownStepStatusIsCorruption) {
  Bytes encoded = EncodeState(Fixture());
  encoded[Field(encoded, Element(encoded, Root(encoded), kSteps, 2), kStepStatus)] = 7;
  EXPECT_THAT(Decode(encoded, Fixture()), HasCode(Code::kCorruption));
  EXPECT_THAT(MessageOf(Decode(encoded, Fixture())), HasSubstr("step 2 has an unknown status 7"));
}

TEST(StateCodecTest, PausedAtAnUnknownStepIsCorruption) {
  Bytes encoded = EncodeState(Fixture());
  PutU32(encoded, Field(encoded, Root(encoded), kPausedStep), 5);
  EXPECT_THAT(Decode(encoded, Fixture()), HasCode(Code::kCorruption));
  EXPECT_THAT(MessageOf(Decode(encoded, Fixture())), HasSubstr("paused at step index 5 of 5"));
  PutU32(encoded, Field(encoded, Root(encoded), kPausedStep), 4);
  EXPECT_THAT(Decode(encoded, Fixture()), IsOk());
}

TEST(StateCodecTest, ResumeFromAnUnknownStepIsCorruption) {
  const RunState state = Fixture();
  ASSERT_EQ(state.resumes.size(), 1u);
  Bytes encoded = EncodeState(state);
  const std::size_t resume = Element(encoded, Root(encoded), kResumes, 0);
  PutU32(encoded, Field(encoded, resume, kResumeFromStep), 5);
  EXPECT_THAT(Decode(encoded, state), HasCode(Code::kCorruption));
  EXPECT_THAT(MessageOf(Decode(encoded, state)), HasSubstr("resume 0 is from step index 5 of 5"));
}

TEST(StateCodecTest, StepsSharingOneBigOutputAreCorruption) {
  RunState state;
  state.run = kRun;
  state.definition = Chain(4);
  state.steps.resize(4);
  state.steps[0].output = Bytes(1'000, 0xab);
  Bytes encoded = EncodeState(state);
  // Point every element of the steps vector at step 0's table.
  const std::size_t steps = Deref(encoded, Field(encoded, Root(encoded), kSteps));
  const std::size_t first = Deref(encoded, steps + 4);
  for (std::size_t i = 1; i < 4; ++i) {
    const std::size_t at = steps + 4 + 4 * i;
    PutU32(encoded, at, static_cast<std::uint32_t>(first - at));
  }
  const Result<RunState> decoded = Decode(encoded, state);
  EXPECT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_THAT(MessageOf(decoded), HasSubstr("expands beyond its encoded size"));
}

TEST(StateCodecTest, TruncatedSnapshotIsCorruptionOrTheSameState) {
  for (const RunState& state : {Fixture(), SampleStates().back()}) {
    const Bytes encoded = EncodeState(state);
    for (std::size_t n = 0; n < encoded.size(); ++n) {
      const Result<RunState> decoded = Decode(Bytes(encoded.begin(), encoded.begin() + n), state);
      if (!decoded.has_value()) {
        EXPECT_THAT(decoded, HasCode(Code::kCorruption)) << "cut to " << n;
      } else {
        EXPECT_EQ(*decoded, state) << "cut to " << n;
      }
    }
  }
}

TEST(StateCodecTest, EveryFlippedByteIsRefusedOrDecodesConsistently) {
  for (const RunState& state : SampleStates()) {
    const Bytes encoded = EncodeState(state);
    for (std::size_t i = 0; i < encoded.size(); ++i) {
      Bytes damaged = encoded;
      damaged[i] ^= 0xff;
      ExpectRefusedOrConsistent(damaged, state);
    }
  }
}

RC_GTEST_PROP(StateCodecTest, DamagedSnapshotsAreRefusedOrDecodeConsistently, ()) {
  const RunState state = *gen::scale(0.2, GenAnyRunState());
  Bytes damaged = EncodeState(state);
  const std::size_t at = *gen::inRange<std::size_t>(0, damaged.size());
  damaged[at] = *gen::arbitrary<std::uint8_t>();
  const Result<RunState> decoded = Decode(damaged, state);
  if (!decoded.has_value()) {
    const Code code = decoded.error().code();
    RC_ASSERT(code == Code::kCorruption || code == Code::kFailedPrecondition);
  } else {
    RC_ASSERT((Decode(EncodeState(*decoded), state) == decoded));
  }
}

}  // namespace
}  // namespace test
}  // namespace rwd
