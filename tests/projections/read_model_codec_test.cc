#include "projections/src/read_model_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "rewind/schemas/events.h"
#include "tests/support/flatbuffer_layout.h"
#include "tests/support/matchers.h"
#include "tests/support/sample_events.h"

namespace rwd::projections_internal {
namespace {

namespace gen = rc::gen;
using test::HasCode;
using test::IsOk;

// ---------------------------------------------------------------- generators

rc::Gen<RunId> GenRunId() {
  return gen::map(gen::arbitrary<RunId::Bytes>(), [](const RunId::Bytes& b) { return RunId(b); });
}

// Latencies of every magnitude (see histogram_test.cc).
rc::Gen<std::uint64_t> GenMicros() {
  return gen::apply([](std::uint64_t v, int shift) { return v >> shift; },
                    gen::arbitrary<std::uint64_t>(), gen::inRange(0, 64));
}

rc::Gen<RunSummary> GenSummary() {
  return gen::exec([] {
    RunSummary s;
    s.run = *GenRunId();
    s.tenant = *gen::arbitrary<std::string>();
    s.workflow = *gen::arbitrary<std::string>();
    s.workflow_version = *gen::arbitrary<std::uint32_t>();
    s.status = *gen::element(RunStatus::kPending, RunStatus::kRunning, RunStatus::kPaused,
                             RunStatus::kFailed, RunStatus::kCompleted, RunStatus::kCancelled);
    s.started_unix_us = *gen::arbitrary<std::int64_t>();
    s.updated_unix_us = *gen::arbitrary<std::int64_t>();
    s.events = *gen::arbitrary<std::uint64_t>();
    s.epoch = *gen::arbitrary<std::uint32_t>();
    s.resumes = *gen::arbitrary<std::uint32_t>();
    s.current_step = *gen::arbitrary<std::string>();
    s.steps_total = *gen::arbitrary<std::uint32_t>();
    s.steps_completed = *gen::arbitrary<std::uint32_t>();
    s.attempts = *gen::arbitrary<std::uint64_t>();
    s.error_code = *gen::arbitrary<std::string>();
    s.error_message = *gen::arbitrary<std::string>();
    s.error_message.resize(std::min(s.error_message.size(), kMaxSummaryErrorBytes));
    if (*gen::arbitrary<bool>()) s.parent = *GenRunId();
    return s;
  });
}

rc::Gen<StepCounters> GenStepCounters() {
  return gen::exec([] {
    StepCounters c;
    c.executions = *gen::arbitrary<std::uint64_t>();
    c.completions = *gen::arbitrary<std::uint64_t>();
    c.failures = *gen::arbitrary<std::uint64_t>();
    c.abandoned = *gen::arbitrary<std::uint64_t>();
    c.retries = *gen::arbitrary<std::uint64_t>();
    c.resumes = *gen::arbitrary<std::uint64_t>();
    for (std::uint64_t v : *gen::container<std::vector<std::uint64_t>>(GenMicros())) {
      c.latency.Record(v);
    }
    return c;
  });
}

rc::Gen<AuditEntry> GenAudit() {
  return gen::exec([] {
    AuditEntry e;
    e.position = *gen::arbitrary<std::uint64_t>();
    e.run = *GenRunId();
    e.seq = *gen::arbitrary<std::uint64_t>();
    e.unix_us = *gen::arbitrary<std::int64_t>();
    e.action = *gen::element(AuditAction::kResume, AuditAction::kFork, AuditAction::kApprove,
                             AuditAction::kReject, AuditAction::kCancel, AuditAction::kSignal,
                             AuditAction::kPause);
    e.actor = *gen::arbitrary<std::string>();
    e.actor_tenant = *gen::arbitrary<std::string>();
    e.tenant = *gen::arbitrary<std::string>();
    e.step = *gen::arbitrary<std::string>();
    e.detail = *gen::arbitrary<std::string>();
    return e;
  });
}

// ---------------------------------------------------------------- fixtures

const RunId kRun(RunId::Bytes{0x01, 0x8f, 0xc4, 0x2a, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
const RunId kParent(RunId::Bytes{0x3f, 0x2a, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff});

RunSummary Summary() {
  RunSummary s;
  s.run = kRun;
  s.tenant = "acme";
  s.workflow = "deploy";
  s.workflow_version = 3;
  s.status = RunStatus::kFailed;
  s.started_unix_us = 1'700'000'000'000'000;
  s.updated_unix_us = 1'700'000'000'500'000;
  s.events = 17;
  s.epoch = 2;
  s.resumes = 1;
  s.current_step = "ship";
  s.steps_total = 4;
  s.steps_completed = 2;
  s.attempts = 6;
  s.error_code = "exit_status";
  s.error_message = "step 'ship' exited with 1";
  s.parent = kParent;
  return s;
}

StepCounters Counters() {
  StepCounters c;
  c.executions = 40;
  c.completions = 35;
  c.failures = 4;
  c.abandoned = 1;
  c.retries = 5;
  c.resumes = 2;
  for (std::uint64_t v : {3u, 17u, 250u, 1'000u, 1'000u, 64'000u, 2'500'000u}) c.latency.Record(v);
  return c;
}

AuditEntry Audit() {
  AuditEntry e;
  e.position = 991;
  e.run = kRun;
  e.seq = 12;
  e.unix_us = 1'700'000'000'250'000;
  e.action = AuditAction::kApprove;
  e.actor = "alice";
  e.actor_tenant = "acme";
  e.tenant = "acme";
  e.step = "approve";
  e.detail = "OPS-12";
  return e;
}

// ---------------------------------------------------------------- layout

using namespace test::fb_layout;

std::size_t Field(const Bytes& b, std::size_t field) { return test::fb_layout::Field(b, Root(b), field); }
std::size_t FirstElement(const Bytes& b, std::size_t field) { return test::fb_layout::FirstElement(b, Root(b), field); }
// Fields of read_models.fbs by index.
constexpr std::size_t kVersion = 0;
constexpr std::size_t kSummaryStatus = 5, kAuditAction = 5;
constexpr std::size_t kBucket = 7, kCount = 8, kMaxUs = 9;

// ---------------------------------------------------------------- helpers

template <typename T>
struct Codec {
  Bytes (*encode)(const T&);
  Result<T> (*decode)(ByteView);
};
constexpr Codec<RunSummary> kSummaryCodec{EncodeSummary, DecodeSummary};
constexpr Codec<StepCounters> kCountersCodec{EncodeStepCounters, DecodeStepCounters};
constexpr Codec<AuditEntry> kAuditCodec{EncodeAudit, DecodeAudit};

// Damaged bytes must be refused, or decode to a value that round-trips.
template <typename T>
::testing::AssertionResult RefusedOrConsistent(Codec<T> codec, const Bytes& damaged) {
  const Result<T> decoded = codec.decode(damaged);
  if (!decoded.has_value()) {
    const Status& s = decoded.error();
    if (s.code() == Code::kCorruption) return ::testing::AssertionSuccess();
    if (s.code() == Code::kFailedPrecondition && s.message().find("version") != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << s.ToString();
  }
  const Bytes again = codec.encode(*decoded);
  if (codec.decode(again) != decoded) return ::testing::AssertionFailure() << "no round trip";
  if (codec.encode(*codec.decode(again)) != again) {
    return ::testing::AssertionFailure() << "not deterministic";
  }
  return ::testing::AssertionSuccess();
}

template <typename T>
void ExpectEveryTruncationRefusedOrSame(Codec<T> codec, const T& value) {
  const Bytes encoded = codec.encode(value);
  for (std::size_t n = 0; n < encoded.size(); ++n) {
    const Result<T> decoded = codec.decode(ByteView(encoded).first(n));
    if (decoded.has_value()) {
      EXPECT_TRUE(*decoded == value) << "cut to " << n;
    } else {
      EXPECT_THAT(decoded, HasCode(Code::kCorruption)) << "cut to " << n;
    }
  }
}

template <typename T>
void ExpectEveryFlipRefusedOrConsistent(Codec<T> codec, const T& value) {
  const Bytes encoded = codec.encode(value);
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    Bytes damaged = encoded;
    damaged[i] ^= 0xff;
    EXPECT_TRUE(RefusedOrConsistent(codec, damaged)) << "byte " << i;
  }
}

template <typename T>
void ExpectMisalignedDecodesTheSame(Codec<T> codec, const T& value) {
  const Bytes encoded = codec.encode(value);
  for (std::size_t shift = 1; shift < 8; ++shift) {
    Bytes shifted(encoded.size() + shift);
    std::memcpy(shifted.data() + shift, encoded.data(), encoded.size());
    const Result<T> decoded = codec.decode(ByteView(shifted).subspan(shift));
    ASSERT_THAT(decoded, IsOk());
    EXPECT_TRUE(*decoded == value) << "shifted by " << shift;
  }
}

template <typename T>
void ExpectNewerVersionRefused(Codec<T> codec, const T& value) {
  Bytes encoded = codec.encode(value);
  const std::size_t version = Field(encoded, kVersion);
  ASSERT_EQ(encoded[version], 1);
  for (std::uint16_t v : std::initializer_list<std::uint16_t>{2, 0xffff}) {
    PutU16(encoded, version, v);
    const Result<T> decoded = codec.decode(encoded);
    ASSERT_THAT(decoded, HasCode(Code::kFailedPrecondition));
    EXPECT_NE(decoded.error().message().find("version"), std::string::npos);
  }
  PutU16(encoded, version, 0);
  EXPECT_THAT(codec.decode(encoded), HasCode(Code::kCorruption));
}

// ---------------------------------------------------------------- round trips

RC_GTEST_PROP(ReadModelCodecTest, AnySummaryRoundTrips, ()) {
  const RunSummary summary = *GenSummary();
  const Result<RunSummary> decoded = DecodeSummary(EncodeSummary(summary));
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == summary);
}

RC_GTEST_PROP(ReadModelCodecTest, AnyStepCountersRoundTrip, ()) {
  const StepCounters counters = *GenStepCounters();
  const Result<StepCounters> decoded = DecodeStepCounters(EncodeStepCounters(counters));
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == counters);
}

RC_GTEST_PROP(ReadModelCodecTest, AnyAuditEntryRoundTrips, ()) {
  const AuditEntry entry = *GenAudit();
  const Result<AuditEntry> decoded = DecodeAudit(EncodeAudit(entry));
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == entry);
}

RC_GTEST_PROP(ReadModelCodecTest, EncodingIsDeterministic, ()) {
  const RunSummary summary = *GenSummary();
  const StepCounters counters = *GenStepCounters();
  const AuditEntry entry = *GenAudit();
  const Bytes s = EncodeSummary(summary), c = EncodeStepCounters(counters), a = EncodeAudit(entry);
  RC_ASSERT(EncodeSummary(RunSummary(summary)) == s);
  RC_ASSERT(EncodeSummary(*DecodeSummary(s)) == s);
  RC_ASSERT(EncodeStepCounters(StepCounters(counters)) == c);
  RC_ASSERT(EncodeStepCounters(*DecodeStepCounters(c)) == c);
  RC_ASSERT(EncodeAudit(AuditEntry(entry)) == a);
  RC_ASSERT(EncodeAudit(*DecodeAudit(a)) == a);
}

TEST(ReadModelCodecTest, DefaultValuesRoundTrip) {
  EXPECT_EQ(DecodeSummary(EncodeSummary(RunSummary())), RunSummary());
  EXPECT_EQ(DecodeStepCounters(EncodeStepCounters(StepCounters())), StepCounters());
  EXPECT_EQ(DecodeAudit(EncodeAudit(AuditEntry())), AuditEntry());
}

TEST(ReadModelCodecTest, SummaryWithALongestErrorMessageRoundTrips) {
  RunSummary summary = Summary();
  summary.error_message = std::string(kMaxSummaryErrorBytes, 'x');
  EXPECT_EQ(DecodeSummary(EncodeSummary(summary)), summary);
}

TEST(ReadModelCodecTest, MisalignedInputDecodesTheSame) {
  ExpectMisalignedDecodesTheSame(kSummaryCodec, Summary());
  ExpectMisalignedDecodesTheSame(kCountersCodec, Counters());
  ExpectMisalignedDecodesTheSame(kAuditCodec, Audit());
}

// ---------------------------------------------------------------- refusals

TEST(ReadModelCodecTest, EmptyInputIsCorruption) {
  EXPECT_THAT(DecodeSummary(ByteView()), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeStepCounters(ByteView()), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeAudit(ByteView()), HasCode(Code::kCorruption));
}

TEST(ReadModelCodecTest, CorruptionNamesTheKindOfValue) {
  const Result<RunSummary> summary = DecodeSummary(ByteView());
  const Result<StepCounters> counters = DecodeStepCounters(ByteView());
  const Result<AuditEntry> audit = DecodeAudit(ByteView());
  EXPECT_NE(summary.error().message().find("run summary"), std::string::npos);
  EXPECT_NE(counters.error().message().find("step counters"), std::string::npos);
  EXPECT_NE(audit.error().message().find("audit entry"), std::string::npos);
}

TEST(ReadModelCodecTest, OneKindOfValueNeverDecodesAsAnother) {
  EXPECT_THAT(DecodeStepCounters(EncodeSummary(Summary())), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeAudit(EncodeSummary(Summary())), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeSummary(EncodeStepCounters(Counters())), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeAudit(EncodeStepCounters(Counters())), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeSummary(EncodeAudit(Audit())), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeStepCounters(EncodeAudit(Audit())), HasCode(Code::kCorruption));
}

TEST(ReadModelCodecTest, AnEventIsNoReadModelValue) {
  const Bytes event = Encode(test::SampleEvents()[0]);
  EXPECT_THAT(DecodeSummary(event), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeStepCounters(event), HasCode(Code::kCorruption));
  EXPECT_THAT(DecodeAudit(event), HasCode(Code::kCorruption));
}

TEST(ReadModelCodecTest, NewerVersionIsAFailedPreconditionAndZeroIsCorruption) {
  ExpectNewerVersionRefused(kSummaryCodec, Summary());
  ExpectNewerVersionRefused(kCountersCodec, Counters());
  ExpectNewerVersionRefused(kAuditCodec, Audit());
}

TEST(ReadModelCodecTest, UnknownRunStatusIsCorruption) {
  Bytes encoded = EncodeSummary(Summary());
  encoded[Field(encoded, kSummaryStatus)] = 6;
  EXPECT_THAT(DecodeSummary(encoded), HasCode(Code::kCorruption));
  encoded[Field(encoded, kSummaryStatus)] = 5;
  EXPECT_EQ(DecodeSummary(encoded)->status, RunStatus::kCancelled);
}

TEST(ReadModelCodecTest, OverlongSummaryErrorMessageIsCorruption) {
  RunSummary summary = Summary();
  summary.error_message = std::string(kMaxSummaryErrorBytes + 1, 'x');
  EXPECT_THAT(DecodeSummary(EncodeSummary(summary)), HasCode(Code::kCorruption));
}

TEST(ReadModelCodecTest, UnknownAuditActionIsCorruption) {
  Bytes encoded = EncodeAudit(Audit());
  encoded[Field(encoded, kAuditAction)] = 7;
  EXPECT_THAT(DecodeAudit(encoded), HasCode(Code::kCorruption));
  encoded[Field(encoded, kAuditAction)] = 6;
  EXPECT_EQ(DecodeAudit(encoded)->action, AuditAction::kPause);
}

TEST(ReadModelCodecTest, MaxOutsideTheHighestLatencyBucketIsCorruption) {
  Bytes encoded = EncodeStepCounters(Counters());
  PutU64(encoded, Field(encoded, kMaxUs), 2'000'000);
  const Result<StepCounters> decoded = DecodeStepCounters(encoded);
  ASSERT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_NE(decoded.error().message().find("max"), std::string::npos);
}

TEST(ReadModelCodecTest, LatencyBucketOutOfRangeIsCorruption) {
  Bytes encoded = EncodeStepCounters(Counters());
  PutU16(encoded, FirstElement(encoded, kBucket), LatencyHistogram::kBuckets);
  EXPECT_THAT(DecodeStepCounters(encoded), HasCode(Code::kCorruption));
}

TEST(ReadModelCodecTest, LatencyBucketsOutOfOrderAreCorruption) {
  Bytes encoded = EncodeStepCounters(Counters());
  PutU16(encoded, FirstElement(encoded, kBucket), 500);
  EXPECT_THAT(DecodeStepCounters(encoded), HasCode(Code::kCorruption));
}

TEST(ReadModelCodecTest, ZeroLatencyCountIsCorruption) {
  Bytes encoded = EncodeStepCounters(Counters());
  PutU64(encoded, FirstElement(encoded, kCount), 0);
  EXPECT_THAT(DecodeStepCounters(encoded), HasCode(Code::kCorruption));
}

TEST(ReadModelCodecTest, MisalignedLatencyCountsAreCorruption) {
  // Point the count vector 4 bytes earlier, at a length of 1: its element then
  // sits at 4 mod 8, which the FlatBuffers Verifier does not check.
  Bytes encoded = EncodeStepCounters(Counters());
  const std::size_t field = Field(encoded, kCount);
  const std::size_t vector = field + U32(encoded, field);
  ASSERT_EQ(vector % 8, 4u);
  PutU32(encoded, field, U32(encoded, field) - 4);
  PutU32(encoded, vector - 4, 1);
  const Result<StepCounters> decoded = DecodeStepCounters(encoded);
  ASSERT_THAT(decoded, HasCode(Code::kCorruption));
  EXPECT_NE(decoded.error().message().find("misaligned"), std::string::npos);
}

// ---------------------------------------------------------------- damage

TEST(ReadModelCodecTest, EveryTruncationIsCorruptionOrTheSameValue) {
  ExpectEveryTruncationRefusedOrSame(kSummaryCodec, Summary());
  ExpectEveryTruncationRefusedOrSame(kSummaryCodec, RunSummary());
  ExpectEveryTruncationRefusedOrSame(kCountersCodec, Counters());
  ExpectEveryTruncationRefusedOrSame(kCountersCodec, StepCounters());
  ExpectEveryTruncationRefusedOrSame(kAuditCodec, Audit());
  ExpectEveryTruncationRefusedOrSame(kAuditCodec, AuditEntry());
}

TEST(ReadModelCodecTest, EveryFlippedByteIsRefusedOrDecodesConsistently) {
  ExpectEveryFlipRefusedOrConsistent(kSummaryCodec, Summary());
  ExpectEveryFlipRefusedOrConsistent(kSummaryCodec, RunSummary());
  ExpectEveryFlipRefusedOrConsistent(kCountersCodec, Counters());
  ExpectEveryFlipRefusedOrConsistent(kCountersCodec, StepCounters());
  ExpectEveryFlipRefusedOrConsistent(kAuditCodec, Audit());
  ExpectEveryFlipRefusedOrConsistent(kAuditCodec, AuditEntry());
}

RC_GTEST_PROP(ReadModelCodecTest, DamagedValuesAreRefusedOrDecodeConsistently, ()) {
  Bytes summary = EncodeSummary(*GenSummary());
  Bytes counters = EncodeStepCounters(*GenStepCounters());
  Bytes audit = EncodeAudit(*GenAudit());
  for (Bytes* damaged : {&summary, &counters, &audit}) {
    (*damaged)[*gen::inRange<std::size_t>(0, damaged->size())] = *gen::arbitrary<std::uint8_t>();
  }
  for (const ::testing::AssertionResult& r :
       {RefusedOrConsistent(kSummaryCodec, summary), RefusedOrConsistent(kCountersCodec, counters),
        RefusedOrConsistent(kAuditCodec, audit)}) {
    if (!r) RC_FAIL(r.message());
  }
}

// ---------------------------------------------------------------- step stats

TEST(ReadModelCodecTest, StepStatsTakeCountersAndPercentilesFromTheHistogram) {
  StepCounters counters = Counters();
  counters.latency = LatencyHistogram();
  for (std::uint64_t v = 1; v <= 20; ++v) counters.latency.Record(v);
  const StepStats stats = ToStepStats("acme", "deploy", "ship", counters);
  EXPECT_EQ(stats.workflow, "deploy");
  EXPECT_EQ(stats.step, "ship");
  EXPECT_EQ(stats.executions, 40u);
  EXPECT_EQ(stats.completions, 35u);
  EXPECT_EQ(stats.failures, 4u);
  EXPECT_EQ(stats.abandoned, 1u);
  EXPECT_EQ(stats.retries, 5u);
  EXPECT_EQ(stats.resumes, 2u);
  EXPECT_EQ(stats.latency_count, 20u);
  EXPECT_EQ(stats.p50_us, 10u);
  EXPECT_EQ(stats.p90_us, 18u);
  EXPECT_EQ(stats.p99_us, 20u);
  EXPECT_EQ(stats.max_us, 20u);
}

TEST(ReadModelCodecTest, StepStatsOfNoLatenciesAreZero) {
  const StepStats stats = ToStepStats("acme", "w", "s", StepCounters());
  EXPECT_EQ(stats.latency_count, 0u);
  EXPECT_EQ(stats.p50_us, 0u);
  EXPECT_EQ(stats.max_us, 0u);
}

TEST(ReadModelCodecTest, AuditActionsHaveLowerCaseNames) {
  EXPECT_EQ(AuditActionName(AuditAction::kResume), "resume");
  EXPECT_EQ(AuditActionName(AuditAction::kFork), "fork");
  EXPECT_EQ(AuditActionName(AuditAction::kApprove), "approve");
  EXPECT_EQ(AuditActionName(AuditAction::kReject), "reject");
  EXPECT_EQ(AuditActionName(AuditAction::kCancel), "cancel");
  EXPECT_EQ(AuditActionName(AuditAction::kSignal), "signal");
  EXPECT_EQ(AuditActionName(AuditAction::kPause), "pause");
}

}  // namespace
}  // namespace rwd::projections_internal
