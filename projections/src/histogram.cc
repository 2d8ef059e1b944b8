#include "projections/src/histogram.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <string>
#include <utility>

namespace rwd::projections_internal {
namespace {

constexpr std::uint64_t kSubBuckets = 16;

// Bucket 16 * k + s (k >= 1) covers [(16 + s) << (k - 1), ((17 + s) << (k - 1)) - 1]:
// the first 32 buckets are one value wide, then each power of two doubles the width.
static_assert(LatencyHistogram::kBuckets == (64 - 3) * kSubBuckets);

Status Invalid(std::string what) {
  return Status(Code::kInvalidArgument, "latency histogram " + std::move(what));
}

}  // namespace

std::uint16_t LatencyHistogram::BucketOf(std::uint64_t micros) {
  if (micros < kSubBuckets) return static_cast<std::uint16_t>(micros);
  const auto e = static_cast<int>(std::bit_width(micros)) - 1;  // 4..63
  return static_cast<std::uint16_t>(static_cast<std::uint64_t>(e - 3) * kSubBuckets +
                                    ((micros >> (e - 4)) & (kSubBuckets - 1)));
}

std::uint64_t LatencyHistogram::BucketLower(std::uint16_t index) {
  assert(index < kBuckets);
  if (index < kSubBuckets) return index;
  const auto shift = static_cast<unsigned>(index / kSubBuckets - 1);  // e - 4
  return (kSubBuckets + index % kSubBuckets) << shift;
}

std::uint64_t LatencyHistogram::BucketUpper(std::uint16_t index) {
  assert(index < kBuckets);
  if (index < kSubBuckets) return index;
  const auto shift = static_cast<unsigned>(index / kSubBuckets - 1);
  // The last bucket ends at exactly 2^64 - 1: no overflow.
  return BucketLower(index) + ((std::uint64_t{1} << shift) - 1);
}

Result<LatencyHistogram> LatencyHistogram::FromBuckets(std::span<const std::uint16_t> buckets,
                                                       std::span<const std::uint64_t> counts,
                                                       std::uint64_t max) {
  if (buckets.size() != counts.size()) {
    return Err(Invalid("has " + std::to_string(buckets.size()) + " bucket indices but " +
                       std::to_string(counts.size()) + " counts"));
  }
  LatencyHistogram out;
  out.buckets_.reserve(buckets.size());
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] >= kBuckets) {
      return Err(Invalid("bucket index " + std::to_string(buckets[i]) + " is not below " +
                         std::to_string(kBuckets)));
    }
    if (i > 0 && buckets[i] <= buckets[i - 1]) {
      return Err(Invalid("bucket index " + std::to_string(buckets[i]) + " follows " +
                         std::to_string(buckets[i - 1]) + " (not ascending)"));
    }
    if (counts[i] == 0) {
      return Err(Invalid("bucket " + std::to_string(buckets[i]) + " has a count of 0"));
    }
    if (counts[i] > UINT64_MAX - out.count_) {
      return Err(Invalid("counts overflow 64 bits"));
    }
    out.count_ += counts[i];
    out.buckets_.emplace_back(buckets[i], counts[i]);
  }
  if (buckets.empty() ? max != 0 : BucketOf(max) != buckets.back()) {
    return Err(Invalid("max " + std::to_string(max) + " is not in its highest bucket"));
  }
  out.max_ = max;
  return out;
}

void LatencyHistogram::Record(std::uint64_t micros) {
  assert(count_ < UINT64_MAX);
  const std::uint16_t index = BucketOf(micros);
  auto at = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                             [](const Bucket& b, std::uint16_t i) { return b.first < i; });
  if (at == buckets_.end() || at->first != index) at = buckets_.insert(at, Bucket{index, 0});
  ++at->second;
  ++count_;
  max_ = std::max(max_, micros);
}

std::uint64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  // Nearest rank, 1-based. Doubles hold counts exactly up to 2^53; beyond,
  // the rank is off by a negligible fraction.
  std::uint64_t rank = 1;
  if (p >= 1.0) {
    rank = count_;
  } else if (p > 0.0) {
    const double r = std::ceil(p * static_cast<double>(count_));
    if (r >= static_cast<double>(count_)) {
      rank = count_;
    } else if (r > 1.0) {
      rank = static_cast<std::uint64_t>(r);  // below count_, so in range
    }
  }
  if (rank == count_) return max_;  // the largest value, known exactly
  std::uint64_t seen = 0;
  for (const auto& [index, n] : buckets_) {
    seen += n;
    if (seen >= rank) {
      const std::uint64_t lower = BucketLower(index);
      const std::uint64_t middle = lower + (BucketUpper(index) - lower + 1) / 2;
      return std::min(middle, max_);
    }
  }
  return max_;  // unreachable: the counts sum to count_
}

}  // namespace rwd::projections_internal
