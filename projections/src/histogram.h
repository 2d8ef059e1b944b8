// LatencyHistogram: a log-linear histogram of durations in microseconds, for
// the step latency percentiles of StepStats.
//
// Buckets: each value 0..15 has its own; from 16 on, every power of two
// [2^e, 2^(e+1)) is cut into 16 equal sub-buckets:
//   v < 16:   index = v
//   v >= 16:  e = floor(log2 v), index = (e - 3) * 16 + ((v >> (e - 4)) & 15)
// so 0..31 are exact, and a bucket [lower, upper] is never wider than
// lower / 16. There are kBuckets = 976 of them (the last ends at 2^64 - 1).
// Percentile answers the middle of a bucket, which is within 1/32 (3.2%) of
// every value in it.
//
// Only non-empty buckets are held (index and count, in one array ascending by
// index), plus the exact largest value recorded, so a histogram of a step's
// latencies stays a few hundred bytes and decodes with one allocation.
//
// Invariant: every held count is > 0; count() is their sum; max() lies in the
// highest held bucket, and is 0 when the histogram is empty.
// A value type: not thread-safe for concurrent writes, as any value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "rewind/base/status.h"

namespace rwd::projections_internal {

class LatencyHistogram {
 public:
  // The number of buckets; every index is below it.
  static constexpr std::size_t kBuckets = 976;

  // An empty histogram: count() and max() are 0.
  LatencyHistogram() = default;

  // The histogram with `counts[i]` values in bucket `buckets[i]` and largest
  // value `max`: the inverse of buckets() and max(), for decoding.
  // Errors: InvalidArgument (naming the first problem) when the spans differ
  // in length, an index is not below kBuckets, the indices are not strictly
  // ascending, a count is 0, the counts sum beyond 2^64 - 1, or `max` is not
  // in the highest bucket (not 0 for no buckets).
  static Result<LatencyHistogram> FromBuckets(std::span<const std::uint16_t> buckets,
                                              std::span<const std::uint64_t> counts,
                                              std::uint64_t max);

  // The bucket holding `micros`, and the smallest and largest value of bucket
  // `index`. REQUIRES: index < kBuckets.
  static std::uint16_t BucketOf(std::uint64_t micros);
  static std::uint64_t BucketLower(std::uint16_t index);
  static std::uint64_t BucketUpper(std::uint16_t index);

  // Adds one value. REQUIRES: fewer than 2^64 - 1 values recorded so far.
  void Record(std::uint64_t micros);

  // How many values were recorded.
  std::uint64_t count() const { return count_; }

  // The largest value recorded, exactly; 0 when empty.
  std::uint64_t max() const { return max_; }

  // An estimate of the p-quantile, the value of rank ceil(p * count()) (at
  // least 1) in sorted order: max() for the last rank, else the middle of the
  // bucket that value lies in (rounded up), or max() if smaller. Within 1/32
  // of the exact value; exact below 32 and for the last rank. 0 when empty.
  // REQUIRES: 0 < p <= 1 (others are clamped into that range, NaN to the
  // smallest rank).
  std::uint64_t Percentile(double p) const;

  // The non-empty buckets: (index, count > 0), ascending by index.
  using Bucket = std::pair<std::uint16_t, std::uint64_t>;
  std::span<const Bucket> buckets() const { return buckets_; }

  friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;

 private:
  std::vector<Bucket> buckets_;
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace rwd::projections_internal
