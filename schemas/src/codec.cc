// Encode and Decode between the public event structs and schemas/events.fbs.
// The only translation unit that includes the generated FlatBuffers code.
#include <atomic>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include "events_generated.h"
#include "rewind/base/bounded_cache.h"
#include "rewind/schemas/events.h"
#include "schemas/src/decode_budget.h"

namespace rwd {
namespace {

namespace fb = ::rwd::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// ---------------------------------------------------------------- encoding

// Optional fields are written only when they differ from their default, so the
// common event stays small and equal events encode to identical bytes.
Offset<flatbuffers::String> Str(FlatBufferBuilder& b, const std::string& s) {
  return s.empty() ? Offset<flatbuffers::String>() : b.CreateString(s);
}
Offset<flatbuffers::Vector<std::uint8_t>> Vec(FlatBufferBuilder& b, const Bytes& v) {
  return v.empty() ? Offset<flatbuffers::Vector<std::uint8_t>>() : b.CreateVector(v);
}

Offset<fb::RunStarted> EncodeStart(FlatBufferBuilder& b, const RunStarted& e) {
  std::vector<Offset<fb::StepDef>> steps;
  if (!e.definition_stored) steps.reserve(e.steps.size());
  for (const StepDef& s : e.steps) {
    if (e.definition_stored) break;
    const RetryPolicy& r = s.retry;
    const Offset<fb::RetryPolicy> retry =
        r == RetryPolicy{} ? Offset<fb::RetryPolicy>()
                           : fb::CreateRetryPolicy(b, r.max_attempts, r.initial_backoff_ms,
                                                   r.multiplier, r.max_backoff_ms, r.jitter);
    const auto deps = s.depends_on.empty() ? Offset<flatbuffers::Vector<std::uint32_t>>()
                                           : b.CreateVector(s.depends_on);
    const auto id = b.CreateString(s.id);
    const auto handler = Str(b, s.handler);
    const auto config = Vec(b, s.config);
    steps.push_back(fb::CreateStepDef(b, id, static_cast<fb::StepKind>(s.kind), deps, retry,
                                      s.timeout_ms, handler, s.sleep_ms, config));
  }
  const auto workflow = b.CreateString(e.workflow);
  const auto hash = Vec(b, e.definition_hash);
  // A stored definition is named by its hash alone (schema version 2).
  const auto steps_vec = e.definition_stored ? Offset<flatbuffers::Vector<Offset<fb::StepDef>>>() : b.CreateVector(steps);
  const auto input = Vec(b, e.input);
  const auto tenant = Str(b, e.tenant);
  const auto key = Str(b, e.idempotency_key);
  return fb::CreateRunStarted(b, workflow, e.version, hash, steps_vec, input, tenant, key);
}

Offset<void> EncodeBody(FlatBufferBuilder& b, const RunStarted& e) {
  return EncodeStart(b, e).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const StepStarted& e) {
  return fb::CreateStepStarted(b, e.step, e.attempt, e.epoch).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const StepCompleted& e) {
  return fb::CreateStepCompleted(b, e.step, e.attempt, Vec(b, e.output), e.epoch).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const StepFailed& e) {
  const auto code = Str(b, e.code);
  const auto message = Str(b, e.message);
  return fb::CreateStepFailed(b, e.step, e.attempt, code, message, e.retryable, e.epoch).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const RetryScheduled& e) {
  return fb::CreateRetryScheduled(b, e.step, e.next_attempt, e.due_unix_us).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const StepAbandoned& e) {
  return fb::CreateStepAbandoned(b, e.step, e.attempt, e.epoch).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const RunPaused& e) {
  return fb::CreateRunPaused(b, e.step, static_cast<fb::PauseReason>(e.reason), Str(b, e.message))
      .Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const ApprovalDecided& e) {
  return fb::CreateApprovalDecided(b, e.step, e.approved, Vec(b, e.data)).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const SignalReceived& e) {
  const auto name = b.CreateString(e.name);
  const auto payload = Vec(b, e.payload);
  return fb::CreateSignalReceived(b, name, payload).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const TimerScheduled& e) {
  return fb::CreateTimerScheduled(b, e.step, e.due_unix_us).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const TimerFired& e) {
  return fb::CreateTimerFired(b, e.step).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const ResumeRequested& e) {
  const auto reason = Str(b, e.reason);
  const auto request_id = Str(b, e.request_id);
  const auto data = Vec(b, e.data);
  return fb::CreateResumeRequested(b, e.from_step, reason, request_id, data).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const RunForked& e) {
  const auto parent = b.CreateVector(e.parent_run.bytes().data(), RunId::kSize);
  const auto start = EncodeStart(b, e.start);
  std::vector<Offset<fb::StepOutput>> kept;
  kept.reserve(e.kept.size());
  for (const StepOutput& k : e.kept) kept.push_back(fb::CreateStepOutput(b, k.step, Vec(b, k.output)));
  const auto kept_vec = kept.empty() ? Offset<flatbuffers::Vector<Offset<fb::StepOutput>>>()
                                     : b.CreateVector(kept);
  return fb::CreateRunForked(b, parent, e.parent_seq, e.from_step, start, kept_vec).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const CancelRequested& e) {
  return fb::CreateCancelRequested(b, Str(b, e.reason)).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const RunCancelled& e) {
  return fb::CreateRunCancelled(b, Str(b, e.reason)).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const RunCompleted& e) {
  return fb::CreateRunCompleted(b, Vec(b, e.output)).Union();
}
Offset<void> EncodeBody(FlatBufferBuilder& b, const RunFailed& e) {
  const auto code = Str(b, e.code);
  const auto message = Str(b, e.message);
  return fb::CreateRunFailed(b, e.step, code, message).Union();
}

// The thread's builder, reused so that a common Encode allocates only its
// result. capacity() says how much it holds on to between calls.
class Builder : public FlatBufferBuilder {
 public:
  explicit Builder(std::size_t initial_size) : FlatBufferBuilder(initial_size) {}
  std::size_t capacity() const { return buf_.capacity(); }
};

// A thread-local buffer that grew beyond this for one big event is freed after
// it, rather than kept at its peak for the thread's lifetime.
constexpr std::size_t kKeepBufferBytes = 1u << 20;

// The variant's index is the union's type tag minus one (NONE is 0).
static_assert(std::variant_size_v<EventBody> == static_cast<std::size_t>(fb::Body::MAX));

fb::Body BodyType(const EventBody& body) { return static_cast<fb::Body>(body.index() + 1); }

// ---------------------------------------------------------------- decoding

// The Verifier checks bounds, not sharing: a valid buffer may name one string,
// vector or table from many places (up to max_tables), and Decode makes one
// copy per reference, so a small input could expand without bound (one 16 MB
// config named by 100 000 steps). Decode therefore copies against a budget of
// the input's size. Encode never shares a sub-object, and each charge is
// covered by bytes that belong to that item alone in its encoding, so an event
// from Encode always fits:
//   charge                        encoded as (at least)
//   string, byte vector: length   4 (length) + length [+ 1 NUL]
//   depends_on: 4 per index       4 (length) + 4 per index
//   step: kStepCost + id length   4 (reference) + 8 (table: soffset, id) + 5 + id length
//   kept output: kKeptCost        4 (reference) + 4 (table: soffset)
// The per-element charges also bound the structs Decode reserves up front.
constexpr std::size_t kStepCost = 16;
constexpr std::size_t kKeptCost = 8;

using fb_decode::Budget;
using fb_decode::ToBytes;
using fb_decode::ToString;

Status Corrupt(std::string what) { return Status(Code::kCorruption, "event " + std::move(what)); }
Status Expanded() { return Corrupt("expands beyond its encoded size (shared sub-objects)"); }

Result<RetryPolicy> Decode(const fb::RetryPolicy* r) {
  if (r == nullptr) return RetryPolicy{};
  RetryPolicy out{r->max_attempts(), r->initial_backoff_ms(), r->multiplier(), r->max_backoff_ms(),
                  r->jitter()};
  if (!(out.multiplier >= 0 && out.multiplier <= 1e6) || !(out.jitter >= 0 && out.jitter <= 1)) {
    return Err(Corrupt("has a retry policy out of range"));
  }
  return out;
}

Result<std::vector<StepDef>> DecodeSteps(const flatbuffers::Vector<Offset<fb::StepDef>>& steps, Budget& budget);

Result<Event> DecodeAligned(const std::uint8_t* data, std::size_t size, const DefinitionFinder* find);

// A stored definition as decoded: the blob's bytes, and what they define.
struct StoredDefinition {
  Bytes blob;
  RunStarted definition;  // workflow, version, steps
};

// Definitions found by hash, decoded once per process. A hit still asks the
// finder (the journal at hand must hold the blob) and compares its bytes,
// which is cheaper than decoding them again.
BoundedCache<std::string, std::shared_ptr<const StoredDefinition>>& StoredDefinitions() {
  static auto* cache = new BoundedCache<std::string, std::shared_ptr<const StoredDefinition>>(16u << 20);
  return *cache;
}

// The definition stored under `hash`, for a RunStarted of `workflow` version
// `version`: found by `find`, decoded and checked to be that workflow's
// definition (a blob whose bytes hash to the name, as the finder promises,
// cannot be another one's, but a damaged journal can name a wrong blob).
Result<std::shared_ptr<const StoredDefinition>> FindDefinition(const DefinitionFinder& find, const Bytes& hash,
                                                               const std::string& workflow, std::uint32_t version) {
  // Named in errors only: not built for every decode.
  const auto name = [&hash] { return "definition " + HexEncode(hash).substr(0, 16); };
  REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> blob, find(hash));
  if (!blob.has_value()) return Err(Corrupt("RunStarted names " + name() + ", which the journal does not hold"));
  const std::string key(hash.begin(), hash.end());
  std::shared_ptr<const StoredDefinition> found;
  if (auto cached = StoredDefinitions().Find(key);
      cached.has_value() && std::equal(blob->begin(), blob->end(), (*cached)->blob.begin(), (*cached)->blob.end())) {
    found = *std::move(cached);
  } else {
    // Decoded from a copy of its own: this decode may be inside another
    // one's, whose per-thread aligned buffer it must not reuse.
    std::vector<std::uint64_t> aligned((blob->size() + 7) / 8);
    if (!blob->empty()) std::memcpy(aligned.data(), blob->data(), blob->size());
    auto decoded = DecodeAligned(reinterpret_cast<const std::uint8_t*>(aligned.data()), blob->size(), nullptr);
    if (!decoded.has_value()) return Err(decoded.error().WithContext("RunStarted names " + name()));
    auto* start = std::get_if<RunStarted>(&decoded->body);
    if (start == nullptr || start->definition_stored) {
      return Err(Corrupt("RunStarted names " + name() + ", which is not a workflow definition"));
    }
    found = std::make_shared<const StoredDefinition>(StoredDefinition{Bytes(blob->begin(), blob->end()), std::move(*start)});
    StoredDefinitions().Put(key, found, 2 * blob->size());
  }
  if (found->definition.workflow != workflow || found->definition.version != version) {
    return Err(Corrupt("RunStarted names " + name() + ", which is not a definition of workflow '" + workflow +
                       "' version " + std::to_string(version)));
  }
  return found;
}

Result<RunStarted> Decode(const fb::RunStarted& e, Budget& budget, std::uint16_t version,
                          const DefinitionFinder* find) {
  RunStarted out;
  out.workflow = ToString(e.workflow(), budget);
  out.version = e.version();
  out.definition_hash = ToBytes(e.definition_hash(), budget);
  if (!out.definition_hash.empty() && out.definition_hash.size() != 32) {
    return Err(Corrupt("RunStarted has a definition hash of " +
                       std::to_string(out.definition_hash.size()) + " bytes, not 32"));
  }
  if (e.steps() != nullptr) {
    REWIND_ASSIGN_OR_RETURN(out.steps, DecodeSteps(*e.steps(), budget));
  } else if (version < 2) {
    return Err(Corrupt("RunStarted has no steps"));
  } else if (out.definition_hash.empty()) {
    return Err(Corrupt("RunStarted has neither steps nor a definition hash"));
  } else {
    out.definition_stored = true;
    if (find != nullptr) {
      REWIND_ASSIGN_OR_RETURN(auto stored, FindDefinition(*find, out.definition_hash, out.workflow, out.version));
      out.steps = stored->definition.steps;
    }
  }
  out.input = ToBytes(e.input(), budget);
  out.tenant = ToString(e.tenant(), budget);
  out.idempotency_key = ToString(e.idempotency_key(), budget);
  if (budget.overrun()) return Err(Expanded());
  return out;
}

Result<std::vector<StepDef>> DecodeSteps(const flatbuffers::Vector<Offset<fb::StepDef>>& steps, Budget& budget) {
  std::vector<StepDef> out_steps;
  if (!budget.Take(steps.size() * kStepCost)) return Err(Expanded());
  out_steps.reserve(steps.size());
  for (flatbuffers::uoffset_t i = 0; i < steps.size(); ++i) {
    const fb::StepDef& s = *steps.Get(i);
    StepDef def;
    def.id = ToString(s.id(), budget);
    if (budget.overrun()) return Err(Expanded());
    if (def.id.empty()) return Err(Corrupt("RunStarted step " + std::to_string(i) + " has no id"));
    if (s.kind() > fb::StepKind::MAX) {
      return Err(Corrupt("RunStarted step '" + def.id + "' has an unknown kind"));
    }
    def.kind = static_cast<StepKind>(s.kind());
    if (const auto* deps = s.depends_on(); deps != nullptr) {
      if (!budget.Take(deps->size() * sizeof(std::uint32_t))) return Err(Expanded());
      def.depends_on.reserve(deps->size());
      for (std::uint32_t dep : *deps) {
        if (dep >= steps.size() || dep == i) {
          return Err(Corrupt("RunStarted step '" + def.id + "' depends on step index " +
                             std::to_string(dep) + " of " + std::to_string(steps.size())));
        }
        def.depends_on.push_back(dep);
      }
    }
    REWIND_ASSIGN_OR_RETURN(def.retry, Decode(s.retry()));
    def.timeout_ms = s.timeout_ms();
    def.handler = ToString(s.handler(), budget);
    def.sleep_ms = s.sleep_ms();
    def.config = ToBytes(s.config(), budget);
    if (budget.overrun()) return Err(Expanded());
    out_steps.push_back(std::move(def));
  }
  return out_steps;
}

Result<RunForked> Decode(const fb::RunForked& e, Budget& budget, std::uint16_t version,
                         const DefinitionFinder* find) {
  if (e.parent_run()->size() != RunId::kSize) {
    return Err(Corrupt("RunForked has a parent run id of " +
                       std::to_string(e.parent_run()->size()) + " bytes, not 16"));
  }
  RunForked out;
  RunId::Bytes parent{};
  std::memcpy(parent.data(), e.parent_run()->data(), RunId::kSize);
  out.parent_run = RunId(parent);
  out.parent_seq = e.parent_seq();
  out.from_step = e.from_step();
  REWIND_ASSIGN_OR_RETURN(out.start, Decode(*e.start(), budget, version, find));
  // Steps named by a definition that was not looked up cannot be checked here.
  const bool unresolved = out.start.definition_stored && find == nullptr;
  const std::size_t n = unresolved ? std::numeric_limits<std::size_t>::max() : out.start.steps.size();
  if (out.from_step >= n) {
    return Err(Corrupt("RunForked starts from step index " + std::to_string(out.from_step) +
                       " of " + std::to_string(n)));
  }
  if (const auto* kept = e.kept(); kept != nullptr) {
    if (!budget.Take(kept->size() * kKeptCost)) return Err(Expanded());
    out.kept.reserve(kept->size());
    for (flatbuffers::uoffset_t i = 0; i < kept->size(); ++i) {
      const fb::StepOutput& k = *kept->Get(i);
      if (k.step() >= n) {
        return Err(Corrupt("RunForked kept output " + std::to_string(i) + " is for step index " +
                           std::to_string(k.step()) + " of " + std::to_string(n)));
      }
      out.kept.push_back(StepOutput{k.step(), ToBytes(k.output(), budget)});
      if (budget.overrun()) return Err(Expanded());
    }
  }
  return out;
}

Result<EventBody> DecodeBody(const fb::Event& e, Budget& budget, const DefinitionFinder* find) {
  switch (e.body_type()) {
    case fb::Body::RunStarted: {
      REWIND_ASSIGN_OR_RETURN(RunStarted body, Decode(*e.body_as_RunStarted(), budget, e.schema_version(), find));
      return body;
    }
    case fb::Body::StepStarted: {
      const auto* b = e.body_as_StepStarted();
      return StepStarted{b->step(), b->attempt(), b->epoch()};
    }
    case fb::Body::StepCompleted: {
      const auto* b = e.body_as_StepCompleted();
      return StepCompleted{b->step(), b->attempt(), ToBytes(b->output(), budget), b->epoch()};
    }
    case fb::Body::StepFailed: {
      const auto* b = e.body_as_StepFailed();
      return StepFailed{b->step(),
                        b->attempt(),
                        ToString(b->code(), budget),
                        ToString(b->message(), budget),
                        b->retryable(),
                        b->epoch()};
    }
    case fb::Body::RetryScheduled: {
      const auto* b = e.body_as_RetryScheduled();
      return RetryScheduled{b->step(), b->next_attempt(), b->due_unix_us()};
    }
    case fb::Body::StepAbandoned: {
      const auto* b = e.body_as_StepAbandoned();
      return StepAbandoned{b->step(), b->attempt(), b->epoch()};
    }
    case fb::Body::RunPaused: {
      const auto* b = e.body_as_RunPaused();
      if (b->reason() > fb::PauseReason::MAX) return Err(Corrupt("RunPaused has an unknown reason"));
      return RunPaused{b->step(), static_cast<PauseReason>(b->reason()),
                       ToString(b->message(), budget)};
    }
    case fb::Body::ApprovalDecided: {
      const auto* b = e.body_as_ApprovalDecided();
      return ApprovalDecided{b->step(), b->approved(), ToBytes(b->data(), budget)};
    }
    case fb::Body::SignalReceived: {
      const auto* b = e.body_as_SignalReceived();
      return SignalReceived{ToString(b->name(), budget), ToBytes(b->payload(), budget)};
    }
    case fb::Body::TimerScheduled: {
      const auto* b = e.body_as_TimerScheduled();
      return TimerScheduled{b->step(), b->due_unix_us()};
    }
    case fb::Body::TimerFired:
      return TimerFired{e.body_as_TimerFired()->step()};
    case fb::Body::ResumeRequested: {
      const auto* b = e.body_as_ResumeRequested();
      return ResumeRequested{b->from_step(), ToString(b->reason(), budget),
                             ToString(b->request_id(), budget), ToBytes(b->data(), budget)};
    }
    case fb::Body::RunForked: {
      REWIND_ASSIGN_OR_RETURN(RunForked body, Decode(*e.body_as_RunForked(), budget, e.schema_version(), find));
      return body;
    }
    case fb::Body::CancelRequested:
      return CancelRequested{ToString(e.body_as_CancelRequested()->reason(), budget)};
    case fb::Body::RunCancelled:
      return RunCancelled{ToString(e.body_as_RunCancelled()->reason(), budget)};
    case fb::Body::RunCompleted:
      return RunCompleted{ToBytes(e.body_as_RunCompleted()->output(), budget)};
    case fb::Body::RunFailed: {
      const auto* b = e.body_as_RunFailed();
      return RunFailed{b->step(), ToString(b->code(), budget), ToString(b->message(), budget)};
    }
    case fb::Body::NONE:
      return Err(Corrupt("has no body"));
  }
  // A newer body type comes with a newer schema version, which Decode refused.
  return Err(Corrupt("has body type " + std::to_string(static_cast<int>(e.body_type())) +
                     ", unknown in schema version " + std::to_string(e.schema_version())));
}

// Decode of a buffer aligned for FlatBuffers.
Result<Event> DecodeAligned(const std::uint8_t* data, std::size_t size, const DefinitionFinder* find) {
  // An honest event holds at most one table per 4 bytes (a table starts with
  // its 4-byte vtable offset); more means shared tables, or a huge verify.
  flatbuffers::Verifier::Options options;
  options.max_depth = 16;
  options.max_tables = static_cast<flatbuffers::uoffset_t>(size / 4 + 16);
  options.check_alignment = true;
  flatbuffers::Verifier verifier(data, size, options);
  if (size < sizeof(flatbuffers::uoffset_t) || !fb::VerifyEventBuffer(verifier)) {
    return Err(Corrupt("of " + std::to_string(size) + " bytes fails FlatBuffers verification"));
  }
  const fb::Event& e = *fb::GetEvent(data);
  if (e.schema_version() > kSchemaVersion) {
    return Err(Status(Code::kFailedPrecondition,
                      "event schema version " + std::to_string(e.schema_version()) +
                          " is newer than this build supports (" +
                          std::to_string(kSchemaVersion) + ")"));
  }
  if (e.schema_version() == 0) return Err(Corrupt("has schema version 0"));
  Budget budget(size);
  Event out;
  out.unix_us = e.unix_us();
  out.schema_version = e.schema_version();
  if (const fb::Actor* a = e.actor(); a != nullptr) {
    if (a->kind() > fb::ActorKind::MAX) return Err(Corrupt("has an unknown actor kind"));
    out.actor = Actor{static_cast<ActorKind>(a->kind()), ToString(a->subject(), budget),
                      ToString(a->tenant(), budget)};
  }
  Result<EventBody> body = DecodeBody(e, budget, find);
  if (budget.overrun()) return Err(Expanded());
  if (!body.has_value()) return Err(std::move(body).error());
  out.body = std::move(*body);
  return out;
}

}  // namespace

const std::vector<StepDef>& StepDefs::list() const {
  static const auto* const kNone = new std::vector<StepDef>();
  return list_ ? *list_ : *kNone;
}

std::vector<StepDef>& StepDefs::Mutable() {
  // Every list is made non-const (only this class sees it as const), so
  // changing one that no one else holds is changing a value.
  if (!list_) {
    list_ = std::make_shared<std::vector<StepDef>>();
  } else if (list_.use_count() > 1) {
    list_ = std::make_shared<std::vector<StepDef>>(*list_);
  } else {
    // The count's read is relaxed: order the reads of holders that let go of
    // the list on other threads before the writes to come.
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  return const_cast<std::vector<StepDef>&>(*list_);
}

std::string_view EventTypeName(const EventBody& body) {
  return fb::EnumNameBody(BodyType(body));
}

namespace {

Bytes EncodeAs(const Event& event, std::uint16_t schema_version) {
  thread_local Builder builder(256);
  builder.Clear();
  const Offset<void> body = std::visit([](const auto& b) { return EncodeBody(builder, b); },
                                       event.body);
  Offset<fb::Actor> actor;
  if (event.actor.has_value()) {
    const auto subject = Str(builder, event.actor->subject);
    const auto tenant = Str(builder, event.actor->tenant);
    actor =
        fb::CreateActor(builder, static_cast<fb::ActorKind>(event.actor->kind), subject, tenant);
  }
  builder.Finish(fb::CreateEvent(builder, event.unix_us, actor, schema_version,
                                 BodyType(event.body), body));
  Bytes out(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
  if (builder.capacity() > kKeepBufferBytes) builder.Reset();
  return out;
}

}  // namespace

Bytes Encode(const Event& event) { return EncodeAs(event, kSchemaVersion); }

Bytes EncodeDefinition(const RunStarted& definition) {
  RunStarted canonical;
  canonical.workflow = definition.workflow;
  canonical.version = definition.version;
  canonical.steps = definition.steps;
  return EncodeAs(Event{0, std::nullopt, kDefinitionSchemaVersion, std::move(canonical)}, kDefinitionSchemaVersion);
}

Result<Event> Decode(ByteView bytes, const DefinitionFinder* definitions) {
  if (bytes.size() > kMaxEncodedEventBytes) {
    return Err(Corrupt("of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                       std::to_string(kMaxEncodedEventBytes)));
  }
  // FlatBuffers reads scalars in place, so the buffer must be 8-byte aligned.
  // Stored events usually are not (LMDB aligns values to 2): decode from a copy.
  const std::uint8_t* data = bytes.data();
  if (bytes.empty() || reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) == 0) {
    return DecodeAligned(data, bytes.size(), definitions);
  }
  thread_local std::vector<std::uint64_t> scratch;
  scratch.resize((bytes.size() + 7) / 8);
  std::memcpy(scratch.data(), data, bytes.size());
  Result<Event> out =
      DecodeAligned(reinterpret_cast<const std::uint8_t*>(scratch.data()), bytes.size(), definitions);
  if (scratch.capacity() * sizeof(std::uint64_t) > kKeepBufferBytes) {
    scratch = std::vector<std::uint64_t>();
  }
  return out;
}

}  // namespace rwd
