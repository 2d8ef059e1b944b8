// Read-model values to and from projections/read_models.fbs.
// The only translation unit that includes that schema's generated code.
#include "projections/src/read_model_codec.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "read_models_generated.h"

namespace rwd {

std::string_view AuditActionName(AuditAction action) {
  switch (action) {
    case AuditAction::kResume:
      return "resume";
    case AuditAction::kFork:
      return "fork";
    case AuditAction::kApprove:
      return "approve";
    case AuditAction::kReject:
      return "reject";
    case AuditAction::kCancel:
      return "cancel";
    case AuditAction::kSignal:
      return "signal";
    case AuditAction::kPause:
      return "pause";
  }
  return "unknown";
}

namespace projections_internal {
namespace {

namespace fbs = ::rwd::fb::read_models;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

constexpr auto kLastRunStatus = RunStatus::kCancelled;
constexpr auto kLastAuditAction = AuditAction::kPause;

// One file identifier per kind (the schema has three roots, so it holds none).
constexpr char kSummaryId[] = "RWSM";
constexpr char kStepCountersId[] = "RWSC";
constexpr char kAuditId[] = "RWAU";

// ---------------------------------------------------------------- encoding

// Writes every scalar, so equal values give equal bytes.
class Builder : public FlatBufferBuilder {
 public:
  Builder() : FlatBufferBuilder(256) { ForceDefaults(true); }
  Bytes Take() const { return Bytes(GetBufferPointer(), GetBufferPointer() + GetSize()); }
};

// Empty strings are always left out (read back as empty).
Offset<flatbuffers::String> Str(FlatBufferBuilder& b, const std::string& s) {
  return s.empty() ? Offset<flatbuffers::String>() : b.CreateString(s);
}

fbs::RunId Id(const RunId& id) { return fbs::RunId(flatbuffers::make_span(id.bytes())); }

// ---------------------------------------------------------------- decoding

RunId FromId(const fbs::RunId& id) {
  RunId::Bytes bytes{};
  std::memcpy(bytes.data(), id.bytes()->data(), RunId::kSize);
  return RunId(bytes);
}

std::string ToString(const flatbuffers::String* s) {
  return s == nullptr ? std::string() : s->str();
}

Status Corrupt(std::string_view kind, std::string what) {
  return Status(Code::kCorruption, std::string(kind) + " " + std::move(what));
}

// Verifies `bytes` as a T finished with `identifier`, checks its version
// against `version`, and hands the root to `decode`, which does the rest.
// `kind` names the value in messages.
template <typename T, typename F>
auto DecodeRoot(ByteView bytes, std::string_view kind, const char* identifier,
                std::uint16_t version, F decode) -> decltype(decode(std::declval<const T&>())) {
  if (bytes.size() > kMaxEncodedReadModelBytes) {
    return Err(Corrupt(kind, "of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                                 std::to_string(kMaxEncodedReadModelBytes)));
  }
  // FlatBuffers reads scalars in place, so the buffer must be 8-byte aligned.
  // Stored values usually are not (LMDB aligns values to 2): decode a copy.
  std::vector<std::uint64_t> copy;
  const std::uint8_t* data = bytes.data();
  if (!bytes.empty() && reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    copy.resize((bytes.size() + 7) / 8);
    std::memcpy(copy.data(), data, bytes.size());
    data = reinterpret_cast<const std::uint8_t*>(copy.data());
  }
  // A root table with scalars, strings, structs and at most two scalar
  // vectors: one table, two levels deep.
  flatbuffers::Verifier::Options options;
  options.max_depth = 4;
  options.max_tables = 4;
  options.check_alignment = true;
  flatbuffers::Verifier verifier(data, bytes.size(), options);
  if (!verifier.VerifyBuffer<T>(identifier)) {
    return Err(Corrupt(
        kind, "of " + std::to_string(bytes.size()) + " bytes fails FlatBuffers verification"));
  }
  const T& root = *flatbuffers::GetRoot<T>(data);
  if (root.version() > version) {
    return Err(Status(Code::kFailedPrecondition,
                      std::string(kind) + " version " + std::to_string(root.version()) +
                          " is newer than this build supports (" + std::to_string(version) + ")"));
  }
  if (root.version() == 0) return Err(Corrupt(kind, "has version 0"));
  return decode(root);
}

constexpr std::string_view kSummary = "run summary";
constexpr std::string_view kStepCounters = "step counters";
constexpr std::string_view kAudit = "audit entry";

Result<RunSummary> FromSummary(const fbs::Summary& s) {
  if (s.status() > static_cast<std::uint8_t>(kLastRunStatus)) {
    return Err(Corrupt(kSummary, "has an unknown run status " + std::to_string(s.status())));
  }
  if (s.error_message() != nullptr && s.error_message()->size() > kMaxSummaryErrorBytes) {
    return Err(Corrupt(kSummary,
                       "has an error message of " + std::to_string(s.error_message()->size()) +
                           " bytes, over the limit of " + std::to_string(kMaxSummaryErrorBytes)));
  }
  RunSummary out;
  out.run = FromId(*s.run());
  out.tenant = ToString(s.tenant());
  out.workflow = ToString(s.workflow());
  out.workflow_version = s.workflow_version();
  out.status = static_cast<RunStatus>(s.status());
  out.started_unix_us = s.started_unix_us();
  out.updated_unix_us = s.updated_unix_us();
  out.events = s.events();
  out.epoch = s.epoch();
  out.resumes = s.resumes();
  out.current_step = ToString(s.current_step());
  out.steps_total = s.steps_total();
  out.steps_completed = s.steps_completed();
  out.attempts = s.attempts();
  out.error_code = ToString(s.error_code());
  out.error_message = ToString(s.error_message());
  if (const fbs::RunId* parent = s.parent(); parent != nullptr) out.parent = FromId(*parent);
  return out;
}

Result<StepCounters> FromStepCounters(const fbs::StepCounters& s) {
  // The Verifier checks the alignment of a vector's length, not of its
  // elements: 8-byte counts may sit at 4 mod 8 in a damaged value, where
  // reading them in place is undefined. The buffer itself is 8-byte aligned.
  // (The 2-byte bucket indices follow a 4-byte length, so they are aligned.)
  if (const auto* v = s.count();
      v != nullptr && reinterpret_cast<std::uintptr_t>(v->Data()) % alignof(std::uint64_t) != 0) {
    return Err(Corrupt(kStepCounters, "have misaligned latency counts"));
  }
  // Copied element by element: the vectors are little-endian on every host.
  std::vector<std::uint16_t> buckets;
  std::vector<std::uint64_t> counts;
  if (const auto* v = s.bucket(); v != nullptr) buckets.assign(v->begin(), v->end());
  if (const auto* v = s.count(); v != nullptr) counts.assign(v->begin(), v->end());
  Result<LatencyHistogram> latency = LatencyHistogram::FromBuckets(buckets, counts, s.max_us());
  if (!latency.has_value()) {
    return Err(
        Status(Code::kCorruption, std::string(kStepCounters) + ": " + latency.error().message()));
  }
  StepCounters out;
  out.executions = s.executions();
  out.completions = s.completions();
  out.failures = s.failures();
  out.abandoned = s.abandoned();
  out.retries = s.retries();
  out.resumes = s.resumes();
  out.latency = std::move(*latency);
  return out;
}

Result<AuditEntry> FromAudit(const fbs::Audit& a) {
  if (a.action() > static_cast<std::uint8_t>(kLastAuditAction)) {
    return Err(Corrupt(kAudit, "has an unknown action " + std::to_string(a.action())));
  }
  AuditEntry out;
  out.position = a.position();
  out.run = FromId(*a.run());
  out.seq = a.seq();
  out.unix_us = a.unix_us();
  out.action = static_cast<AuditAction>(a.action());
  out.actor = ToString(a.actor());
  out.actor_tenant = ToString(a.actor_tenant());
  out.tenant = ToString(a.tenant());
  out.step = ToString(a.step());
  out.detail = ToString(a.detail());
  return out;
}

}  // namespace

StepStats ToStepStats(std::string tenant, std::string workflow, std::string step, const StepCounters& counters) {
  StepStats out;
  out.tenant = std::move(tenant);
  out.workflow = std::move(workflow);
  out.step = std::move(step);
  out.executions = counters.executions;
  out.completions = counters.completions;
  out.failures = counters.failures;
  out.abandoned = counters.abandoned;
  out.retries = counters.retries;
  out.resumes = counters.resumes;
  out.latency_count = counters.latency.count();
  out.p50_us = counters.latency.Percentile(0.50);
  out.p90_us = counters.latency.Percentile(0.90);
  out.p99_us = counters.latency.Percentile(0.99);
  out.max_us = counters.latency.max();
  return out;
}

Bytes EncodeSummary(const RunSummary& s) {
  Builder b;
  // Children in field order, each before the table that holds it.
  const auto tenant = Str(b, s.tenant);
  const auto workflow = Str(b, s.workflow);
  const auto current_step = Str(b, s.current_step);
  const auto error_code = Str(b, s.error_code);
  const auto error_message = Str(b, s.error_message);
  const fbs::RunId run = Id(s.run);
  const std::optional<fbs::RunId> parent =
      s.parent.has_value() ? std::optional(Id(*s.parent)) : std::nullopt;
  b.Finish(fbs::CreateSummary(b, kSummaryVersion, &run, tenant, workflow, s.workflow_version,
                              static_cast<std::uint8_t>(s.status), s.started_unix_us,
                              s.updated_unix_us, s.events, s.epoch, s.resumes, current_step,
                              s.steps_total, s.steps_completed, s.attempts, error_code,
                              error_message, parent.has_value() ? &*parent : nullptr),
           kSummaryId);
  return b.Take();
}

Result<RunSummary> DecodeSummary(ByteView bytes) {
  return DecodeRoot<fbs::Summary>(bytes, kSummary, kSummaryId, kSummaryVersion, FromSummary);
}

Bytes EncodeStepCounters(const StepCounters& c) {
  Builder b;
  Offset<flatbuffers::Vector<std::uint16_t>> bucket;
  Offset<flatbuffers::Vector<std::uint64_t>> count;
  if (!c.latency.buckets().empty()) {
    std::vector<std::uint16_t> indices;
    std::vector<std::uint64_t> counts;
    indices.reserve(c.latency.buckets().size());
    counts.reserve(c.latency.buckets().size());
    for (const auto& [index, n] : c.latency.buckets()) {
      indices.push_back(index);
      counts.push_back(n);
    }
    bucket = b.CreateVector(indices);
    count = b.CreateVector(counts);
  }
  b.Finish(
      fbs::CreateStepCounters(b, kStepCountersVersion, c.executions, c.completions, c.failures,
                              c.abandoned, c.retries, c.resumes, bucket, count, c.latency.max()),
      kStepCountersId);
  return b.Take();
}

Result<StepCounters> DecodeStepCounters(ByteView bytes) {
  return DecodeRoot<fbs::StepCounters>(bytes, kStepCounters, kStepCountersId, kStepCountersVersion,
                                       FromStepCounters);
}

Bytes EncodeAudit(const AuditEntry& e) {
  Builder b;
  const auto actor = Str(b, e.actor);
  const auto actor_tenant = Str(b, e.actor_tenant);
  const auto tenant = Str(b, e.tenant);
  const auto step = Str(b, e.step);
  const auto detail = Str(b, e.detail);
  const fbs::RunId run = Id(e.run);
  b.Finish(fbs::CreateAudit(b, kAuditVersion, e.position, &run, e.seq, e.unix_us,
                            static_cast<std::uint8_t>(e.action), actor, actor_tenant, tenant, step,
                            detail),
           kAuditId);
  return b.Take();
}

Result<AuditEntry> DecodeAudit(ByteView bytes) {
  return DecodeRoot<fbs::Audit>(bytes, kAudit, kAuditId, kAuditVersion, FromAudit);
}

}  // namespace projections_internal
}  // namespace rwd
