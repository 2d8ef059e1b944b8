#include "projections/src/histogram.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/support/matchers.h"

namespace rwd::projections_internal {
namespace {

namespace gen = rc::gen;
using test::HasCode;
using test::IsOk;

constexpr std::uint64_t kMax64 = UINT64_MAX;

// Values spread over every magnitude: a random 64-bit value shifted right by
// 0..63 bits, so small latencies are as likely as huge ones.
rc::Gen<std::uint64_t> GenMicros() {
  return gen::apply([](std::uint64_t v, int shift) { return v >> shift; },
                    gen::arbitrary<std::uint64_t>(), gen::inRange(0, 64));
}

LatencyHistogram Of(const std::vector<std::uint64_t>& values) {
  LatencyHistogram h;
  for (std::uint64_t v : values) h.Record(v);
  return h;
}

// The value of nearest rank ceil(p * n) (at least 1) in `sorted`.
std::uint64_t ExactQuantile(const std::vector<std::uint64_t>& sorted, double p) {
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

Result<LatencyHistogram> From(std::vector<std::uint16_t> buckets, std::vector<std::uint64_t> counts,
                              std::uint64_t max) {
  return LatencyHistogram::FromBuckets(buckets, counts, max);
}

TEST(HistogramTest, EmptyHistogramHasNoCountNoMaxAndPercentileZero) {
  const LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.Percentile(0.5), 0u);
  EXPECT_EQ(h.Percentile(1.0), 0u);
  EXPECT_TRUE(h.buckets().empty());
}

TEST(HistogramTest, ValuesBelowSixteenHaveTheirOwnBucket) {
  for (std::uint64_t v = 0; v < 16; ++v) {
    EXPECT_EQ(LatencyHistogram::BucketOf(v), v);
    EXPECT_EQ(LatencyHistogram::BucketLower(static_cast<std::uint16_t>(v)), v);
    EXPECT_EQ(LatencyHistogram::BucketUpper(static_cast<std::uint16_t>(v)), v);
  }
}

TEST(HistogramTest, PercentilesOfValuesBelowThirtyTwoAreExact) {
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 0; v < 32; ++v) values.push_back(v);
  const LatencyHistogram h = Of(values);
  for (std::uint64_t v = 0; v < 32; ++v) {
    EXPECT_EQ(h.Percentile(static_cast<double>(v + 1) / 32.0), v) << v;
  }
}

TEST(HistogramTest, BucketIndexFollowsTheLogLinearFormula) {
  EXPECT_EQ(LatencyHistogram::BucketOf(16), 16u);
  EXPECT_EQ(LatencyHistogram::BucketOf(31), 31u);
  EXPECT_EQ(LatencyHistogram::BucketOf(32), 32u);
  EXPECT_EQ(LatencyHistogram::BucketOf(33), 32u);
  EXPECT_EQ(LatencyHistogram::BucketOf(1000), (9 - 3) * 16 + ((1000 >> 5) & 15));
  EXPECT_EQ(LatencyHistogram::BucketOf(kMax64), LatencyHistogram::kBuckets - 1);
}

TEST(HistogramTest, BucketsTileEverySixtyFourBitValue) {
  EXPECT_EQ(LatencyHistogram::BucketLower(0), 0u);
  for (std::size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(LatencyHistogram::BucketUpper(static_cast<std::uint16_t>(i)) + 1,
              LatencyHistogram::BucketLower(static_cast<std::uint16_t>(i + 1)))
        << i;
  }
  EXPECT_EQ(LatencyHistogram::BucketUpper(LatencyHistogram::kBuckets - 1), kMax64);
}

RC_GTEST_PROP(HistogramTest, EveryValueLiesInItsBucket, ()) {
  const std::uint64_t v = *GenMicros();
  const std::uint16_t i = LatencyHistogram::BucketOf(v);
  RC_ASSERT(i < LatencyHistogram::kBuckets);
  RC_ASSERT(LatencyHistogram::BucketLower(i) <= v);
  RC_ASSERT(v <= LatencyHistogram::BucketUpper(i));
}

RC_GTEST_PROP(HistogramTest, PercentilesAreWithinFourAndAHalfPercentOfTheExactQuantile, ()) {
  std::vector<std::uint64_t> values =
      *gen::nonEmpty(gen::container<std::vector<std::uint64_t>>(GenMicros()));
  const double p = *gen::inRange(1, 1001) / 1000.0;
  const LatencyHistogram h = Of(values);
  std::sort(values.begin(), values.end());
  const std::uint64_t exact = ExactQuantile(values, p);
  const std::uint64_t estimate = h.Percentile(p);
  const double error = std::abs(static_cast<double>(estimate) - static_cast<double>(exact));
  RC_ASSERT(error <= 0.045 * static_cast<double>(exact));
}

RC_GTEST_PROP(HistogramTest, CountAndMaxAreExact, ()) {
  const auto values = *gen::container<std::vector<std::uint64_t>>(GenMicros());
  const LatencyHistogram h = Of(values);
  RC_ASSERT(h.count() == values.size());
  RC_ASSERT(h.max() == (values.empty() ? 0 : *std::max_element(values.begin(), values.end())));
  RC_ASSERT(h.Percentile(1.0) == h.max());
}

TEST(HistogramTest, PercentileIsClampedToTheMax) {
  const LatencyHistogram h = Of({1000});  // bucket [992, 1023]
  EXPECT_EQ(h.Percentile(0.5), 1000u);
  EXPECT_EQ(Of({992, 992}).Percentile(1.0), 992u);
}

TEST(HistogramTest, PercentileAnswersTheMiddleOfTheBucket) {
  EXPECT_EQ(Of({992, 1000, 1023}).Percentile(0.5), 1008u);
}

RC_GTEST_PROP(HistogramTest, FromBucketsRebuildsAnyHistogram, ()) {
  const LatencyHistogram h = Of(*gen::container<std::vector<std::uint64_t>>(GenMicros()));
  std::vector<std::uint16_t> buckets;
  std::vector<std::uint64_t> counts;
  for (const auto& [index, n] : h.buckets()) {
    buckets.push_back(index);
    counts.push_back(n);
  }
  const Result<LatencyHistogram> rebuilt = LatencyHistogram::FromBuckets(buckets, counts, h.max());
  RC_ASSERT(rebuilt.has_value());
  RC_ASSERT(*rebuilt == h);
  RC_ASSERT(rebuilt->count() == h.count());
}

TEST(HistogramTest, FromBucketsAcceptsNothingAsTheEmptyHistogram) {
  EXPECT_EQ(From({}, {}, 0), LatencyHistogram());
}

TEST(HistogramTest, FromBucketsRefusesVectorsOfDifferentLengths) {
  EXPECT_THAT(From({1, 2}, {1}, 2), HasCode(Code::kInvalidArgument));
}

TEST(HistogramTest, FromBucketsRefusesAnIndexOutOfRange) {
  EXPECT_THAT(From({976}, {1}, kMax64), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(From({975}, {1}, kMax64), IsOk());
}

TEST(HistogramTest, FromBucketsRefusesIndicesOutOfOrder) {
  EXPECT_THAT(From({3, 2}, {1, 1}, 3), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(From({2, 2}, {1, 1}, 2), HasCode(Code::kInvalidArgument));
}

TEST(HistogramTest, FromBucketsRefusesAZeroCount) {
  EXPECT_THAT(From({2, 3}, {1, 0}, 3), HasCode(Code::kInvalidArgument));
}

TEST(HistogramTest, FromBucketsRefusesCountsThatOverflow) {
  EXPECT_THAT(From({2, 3}, {kMax64, 1}, 3), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(From({2, 3}, {kMax64 - 1, 1}, 3), IsOk());
}

TEST(HistogramTest, FromBucketsRefusesAMaxOutsideTheHighestBucket) {
  EXPECT_THAT(From({2, 40}, {1, 1}, 2), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(From({2, 40}, {1, 1}, 1'000), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(From({}, {}, 1), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(From({2, 40}, {1, 1}, LatencyHistogram::BucketUpper(40)), IsOk());
}

}  // namespace
}  // namespace rwd::projections_internal
