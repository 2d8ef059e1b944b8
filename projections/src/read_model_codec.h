// The read-model codec: the values the built-in projections keep
// (rewind/projections/read_models.h) as the bytes stored in their tables.
//
// Each value is a FlatBuffer of projections/read_models.fbs with its own file
// identifier ("RWSM" run summary, "RWSC" step counters, "RWAU" audit entry),
// so one kind never decodes as another. Each records the format version it
// was written with; a build refuses a newer one rather than misread it.
//
// Encoding is deterministic: equal values give identical bytes (every scalar
// is written, empty strings and vectors are left out, children are built in
// field order and never shared), so encode(decode(encode(x))) == encode(x).
//
// Decoding is total: any bytes (damaged, truncated, misaligned, of another
// kind) give a value or an error, never a crash or an out-of-bounds read. It
// runs the FlatBuffers Verifier with explicit limits, then semantic checks.
// A decoded value's strings hold at most 5 times its input's size (a damaged
// value may name one string from several fields; each is copied), and its
// histogram at most LatencyHistogram::kBuckets buckets.
// Errors of every Decode*:
//   Corruption          naming the kind ("run summary", "step counters",
//                       "audit entry") and what is wrong: failed verification
//                       (including a wrong file identifier), version 0, more
//                       than kMaxEncodedReadModelBytes, or a failed semantic
//                       check listed at the function
//   FailedPrecondition  a value of a newer version than this build writes
//
// Free functions on values: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "projections/src/histogram.h"
#include "rewind/base/bytes.h"
#include "rewind/base/status.h"
#include "rewind/projections/read_models.h"

namespace rwd::projections_internal {

// The format version this build writes for each kind; Decode* accepts 1 up to it.
inline constexpr std::uint16_t kSummaryVersion = 1;
inline constexpr std::uint16_t kStepCountersVersion = 1;
inline constexpr std::uint16_t kAuditVersion = 1;

// Decode* refuses anything larger (FlatBuffers itself stops at 2 GiB).
inline constexpr std::size_t kMaxEncodedReadModelBytes = std::size_t{1} << 30;

// What a step-stats table stores for one (workflow, step): StepStats without
// the key and with the histogram its percentiles come from, so that new
// latencies can be added.
struct StepCounters {
  std::uint64_t executions = 0;
  std::uint64_t completions = 0;
  std::uint64_t failures = 0;
  std::uint64_t abandoned = 0;
  std::uint64_t retries = 0;
  std::uint64_t resumes = 0;
  LatencyHistogram latency;
  friend bool operator==(const StepCounters&, const StepCounters&) = default;
};

// The StepStats of `counters` under its key: the counters, and latency_count,
// p50/p90/p99 (LatencyHistogram::Percentile) and max from the histogram.
StepStats ToStepStats(std::string tenant, std::string workflow, std::string step, const StepCounters& counters);

// Encodes `summary`, writing kSummaryVersion.
// REQUIRES: summary.status a RunStatus enumerator, summary.error_message at
// most kMaxSummaryErrorBytes, an encoding under kMaxEncodedReadModelBytes
// (not checked: DecodeSummary refuses such bytes as Corruption).
Bytes EncodeSummary(const RunSummary& summary);

// Decodes an EncodeSummary value. Corruption also for an unknown run status
// or an error message longer than kMaxSummaryErrorBytes.
Result<RunSummary> DecodeSummary(ByteView bytes);

// Encodes `counters`, writing kStepCountersVersion. Never fails.
Bytes EncodeStepCounters(const StepCounters& counters);

// Decodes an EncodeStepCounters value. Corruption also for a histogram that
// LatencyHistogram::FromBuckets refuses (bucket and count vectors of
// different lengths, an index out of range or out of order, a zero count,
// counts overflowing, a max outside the highest bucket) or misaligned counts.
Result<StepCounters> DecodeStepCounters(ByteView bytes);

// Encodes `entry`, writing kAuditVersion.
// REQUIRES: entry.action an AuditAction enumerator, an encoding under
// kMaxEncodedReadModelBytes (not checked: DecodeAudit refuses such bytes).
Bytes EncodeAudit(const AuditEntry& entry);

// Decodes an EncodeAudit value. Corruption also for an unknown action.
Result<AuditEntry> DecodeAudit(ByteView bytes);

}  // namespace rwd::projections_internal
