// EncodeState and DecodeState between RunState and projections/state.fbs.
// The only translation unit that includes the generated FlatBuffers code.
#include "projections/src/state_codec.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "schemas/src/decode_budget.h"
#include "state_generated.h"

namespace rwd {
namespace {

namespace fbs = ::rwd::fb::state;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

static_assert(static_cast<int>(RunStatus::kCancelled) == static_cast<int>(fbs::RunStatus::MAX));
static_assert(static_cast<int>(StepStatus::kCancelled) == static_cast<int>(fbs::StepStatus::MAX));
static_assert(kNoStep == 0xFFFFFFFFu, "state.fbs writes kNoStep as paused_step's default");

// ---------------------------------------------------------------- encoding

// Empty strings and byte vectors are always left out (read back as empty), so
// equal states give identical bytes and the common empty field costs nothing.
Offset<flatbuffers::String> Str(FlatBufferBuilder& b, const std::string& s) {
  return s.empty() ? Offset<flatbuffers::String>() : b.CreateString(s);
}
Offset<flatbuffers::Vector<std::uint8_t>> Vec(FlatBufferBuilder& b, const Bytes& v) {
  return v.empty() ? Offset<flatbuffers::Vector<std::uint8_t>>() : b.CreateVector(v);
}

fbs::RunId Id(const RunId& id) { return fbs::RunId(flatbuffers::make_span(id.bytes())); }

Offset<fbs::StepState> EncodeStep(FlatBufferBuilder& b, const StepState& s) {
  const auto output = Vec(b, s.output);
  const auto error_code = Str(b, s.error_code);
  const auto error_message = Str(b, s.error_message);
  return fbs::CreateStepState(b, static_cast<fbs::StepStatus>(s.status), s.epoch, s.attempts,
                              s.total_attempts, output, error_code, error_message, s.retryable,
                              s.due_unix_us, s.started_unix_us);
}

Offset<fbs::Signal> EncodeSignal(FlatBufferBuilder& b, const SignalReceived& s) {
  const auto name = Str(b, s.name);
  const auto payload = Vec(b, s.payload);
  return fbs::CreateSignal(b, name, payload);
}

Offset<fbs::Resume> EncodeResume(FlatBufferBuilder& b, const ResumeRecord& r) {
  const auto request_id = Str(b, r.request_id);
  const auto data = Vec(b, r.data);
  return fbs::CreateResume(b, request_id, r.from_step, r.epoch, r.seq, data);
}

// Builds each element in order, then the vector of them.
template <typename T, typename F>
auto EncodeAll(FlatBufferBuilder& b, const std::vector<T>& items, F encode) {
  std::vector<decltype(encode(b, items.front()))> offsets;
  offsets.reserve(items.size());
  for (const T& item : items) offsets.push_back(encode(b, item));
  return b.CreateVector(offsets);
}

// The thread's builder, reused so that a common EncodeState allocates only its
// result. capacity() says how much it holds on to between calls.
class Builder : public FlatBufferBuilder {
 public:
  explicit Builder(std::size_t initial_size) : FlatBufferBuilder(initial_size) {
    ForceDefaults(true);
  }
  std::size_t capacity() const { return buf_.capacity(); }
};

// A thread-local buffer that grew beyond this for one big state is freed after
// it, rather than kept at its peak for the thread's lifetime.
constexpr std::size_t kKeepBufferBytes = 1u << 20;

// ---------------------------------------------------------------- decoding

// The Verifier checks bounds, not sharing: a valid buffer may name one string,
// vector or table from many places, and DecodeState makes one copy per
// reference, so a small input could expand without bound. DecodeState
// therefore copies against a budget of the input's size. EncodeState never
// shares a sub-object, and each charge is covered by bytes that belong to that
// item alone in its encoding, so a snapshot from EncodeState always fits:
//   charge                             encoded as (at least)
//   string, byte vector: length        4 (length) + length [+ 1 NUL]
//   step, signal, resume: kTableCost   4 (reference) + 4 (table: soffset)
constexpr std::size_t kTableCost = 8;

using fb_decode::Budget;
using fb_decode::ToBytes;
using fb_decode::ToString;

RunId FromId(const fbs::RunId& id) {
  RunId::Bytes bytes{};
  std::memcpy(bytes.data(), id.bytes()->data(), RunId::kSize);
  return RunId(bytes);
}

Status Corrupt(std::string what) {
  return Status(Code::kCorruption, "state snapshot " + std::move(what));
}
Status Expanded() { return Corrupt("expands beyond its encoded size (shared sub-objects)"); }

// The elements of an optional vector of tables: charges kTableCost for each
// and reserves `out` for them. False when the budget does not cover them.
template <typename T, typename U>
bool Reserve(const flatbuffers::Vector<Offset<T>>* v, std::vector<U>& out, Budget& budget) {
  if (v == nullptr) return true;
  if (!budget.Take(std::size_t{v->size()} * kTableCost)) return false;
  out.reserve(v->size());
  return true;
}

Result<StepState> DecodeStep(const fbs::StepState& s, std::size_t index, Budget& budget) {
  if (s.status() > fbs::StepStatus::MAX) {
    return Err(Corrupt("step " + std::to_string(index) + " has an unknown status " +
                       std::to_string(static_cast<int>(s.status()))));
  }
  StepState out;
  out.status = static_cast<StepStatus>(s.status());
  out.epoch = s.epoch();
  out.attempts = s.attempts();
  out.total_attempts = s.total_attempts();
  out.output = ToBytes(s.output(), budget);
  out.error_code = ToString(s.error_code(), budget);
  out.error_message = ToString(s.error_message(), budget);
  out.retryable = s.retryable();
  out.due_unix_us = s.due_unix_us();
  out.started_unix_us = s.started_unix_us();
  return out;
}

// Fills everything but steps, signals and resumes, which need the budget in order.
Result<RunState> DecodeRoot(const fbs::Snapshot& s, const RunId& run, Definition definition) {
  const RunId stored = FromId(*s.run());
  if (stored != run) {
    return Err(Corrupt("is of run " + stored.ToString() + ", not " + run.ToString()));
  }
  if (s.status() > fbs::RunStatus::MAX) {
    return Err(Corrupt("has an unknown run status " +
                       std::to_string(static_cast<int>(s.status()))));
  }
  const std::size_t steps = s.steps() == nullptr ? 0 : s.steps()->size();
  const std::size_t expected = definition ? definition->steps.size() : 0;
  if (steps != expected) {
    return Err(Corrupt("has " + std::to_string(steps) + " steps but its definition has " +
                       std::to_string(expected)));
  }
  if (s.paused_step() != kNoStep && s.paused_step() >= steps) {
    return Err(Corrupt("is paused at step index " + std::to_string(s.paused_step()) + " of " +
                       std::to_string(steps)));
  }
  RunState out;
  out.run = run;
  out.seq = s.seq();
  out.definition = std::move(definition);
  out.status = static_cast<RunStatus>(s.status());
  out.epoch = s.epoch();
  out.paused_step = s.paused_step();
  if (const fbs::RunId* parent = s.parent(); parent != nullptr) out.parent = FromId(*parent);
  out.parent_seq = s.parent_seq();
  out.started_unix_us = s.started_unix_us();
  out.updated_unix_us = s.updated_unix_us();
  return out;
}

// DecodeState of a buffer aligned for FlatBuffers.
Result<RunState> DecodeAligned(const std::uint8_t* data, std::size_t size, const RunId& run,
                               Definition definition) {
  // Snapshot → steps → StepState is as deep as an honest snapshot goes; it
  // holds at most one table per 4 bytes (a table starts with its 4-byte vtable
  // offset), more means shared tables, or a huge verify.
  flatbuffers::Verifier::Options options;
  options.max_depth = 8;
  options.max_tables = static_cast<flatbuffers::uoffset_t>(size / 4 + 16);
  options.check_alignment = true;
  flatbuffers::Verifier verifier(data, size, options);
  if (!fbs::VerifySnapshotBuffer(verifier)) {
    return Err(Corrupt("of " + std::to_string(size) + " bytes fails FlatBuffers verification"));
  }
  const fbs::Snapshot& s = *fbs::GetSnapshot(data);
  if (s.version() > kStateSnapshotVersion) {
    return Err(Status(Code::kFailedPrecondition,
                      "state snapshot version " + std::to_string(s.version()) +
                          " is newer than this build supports (" +
                          std::to_string(kStateSnapshotVersion) + ")"));
  }
  if (s.version() == 0) return Err(Corrupt("has version 0"));
  REWIND_ASSIGN_OR_RETURN(RunState out, DecodeRoot(s, run, std::move(definition)));

  Budget budget(size);
  if (!Reserve(s.steps(), out.steps, budget)) return Err(Expanded());
  if (const auto* steps = s.steps(); steps != nullptr) {
    for (flatbuffers::uoffset_t i = 0; i < steps->size(); ++i) {
      REWIND_ASSIGN_OR_RETURN(StepState step, DecodeStep(*steps->Get(i), i, budget));
      if (budget.overrun()) return Err(Expanded());
      out.steps.push_back(std::move(step));
    }
  }
  if (!Reserve(s.pending_signals(), out.pending_signals, budget)) return Err(Expanded());
  if (const auto* signals = s.pending_signals(); signals != nullptr) {
    for (const fbs::Signal* signal : *signals) {
      out.pending_signals.push_back(
          SignalReceived{ToString(signal->name(), budget), ToBytes(signal->payload(), budget)});
      if (budget.overrun()) return Err(Expanded());
    }
  }
  if (!Reserve(s.resumes(), out.resumes, budget)) return Err(Expanded());
  if (const auto* resumes = s.resumes(); resumes != nullptr) {
    for (flatbuffers::uoffset_t i = 0; i < resumes->size(); ++i) {
      const fbs::Resume& r = *resumes->Get(i);
      if (r.from_step() >= out.steps.size()) {
        return Err(Corrupt("resume " + std::to_string(i) + " is from step index " +
                           std::to_string(r.from_step()) + " of " +
                           std::to_string(out.steps.size())));
      }
      out.resumes.push_back(ResumeRecord{ToString(r.request_id(), budget), r.from_step(),
                                         r.epoch(), r.seq(), ToBytes(r.data(), budget)});
      if (budget.overrun()) return Err(Expanded());
    }
  }
  out.output = ToBytes(s.output(), budget);
  out.error_code = ToString(s.error_code(), budget);
  out.error_message = ToString(s.error_message(), budget);
  if (budget.overrun()) return Err(Expanded());
  return out;
}

}  // namespace

Bytes EncodeState(const RunState& state) {
  thread_local Builder builder(1024);
  builder.Clear();
  // Children in field order (steps, pending_signals, resumes, output,
  // error_code, error_message), each before the table that holds it.
  const auto steps = EncodeAll(builder, state.steps, EncodeStep);
  const auto signals = EncodeAll(builder, state.pending_signals, EncodeSignal);
  const auto resumes = EncodeAll(builder, state.resumes, EncodeResume);
  const auto output = Vec(builder, state.output);
  const auto error_code = Str(builder, state.error_code);
  const auto error_message = Str(builder, state.error_message);
  const fbs::RunId run = Id(state.run);
  const std::optional<fbs::RunId> parent =
      state.parent.has_value() ? std::optional(Id(*state.parent)) : std::nullopt;
  fbs::FinishSnapshotBuffer(
      builder,
      fbs::CreateSnapshot(builder, kStateSnapshotVersion, &run, state.seq,
                          static_cast<fbs::RunStatus>(state.status), state.epoch, steps,
                          state.paused_step, signals, resumes, output, error_code, error_message,
                          parent.has_value() ? &*parent : nullptr, state.parent_seq,
                          state.started_unix_us, state.updated_unix_us));
  Bytes out(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
  if (builder.capacity() > kKeepBufferBytes) builder.Reset();
  return out;
}

Result<RunState> DecodeState(ByteView bytes, const RunId& run, Definition definition) {
  if (bytes.size() > kMaxEncodedStateBytes) {
    return Err(Corrupt("of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                       std::to_string(kMaxEncodedStateBytes)));
  }
  // FlatBuffers reads scalars in place, so the buffer must be 8-byte aligned.
  // Stored values usually are not (LMDB aligns values to 2): decode from a copy.
  const std::uint8_t* data = bytes.data();
  if (bytes.empty() || reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) == 0) {
    return DecodeAligned(data, bytes.size(), run, std::move(definition));
  }
  thread_local std::vector<std::uint64_t> scratch;
  scratch.resize((bytes.size() + 7) / 8);
  std::memcpy(scratch.data(), data, bytes.size());
  Result<RunState> out = DecodeAligned(reinterpret_cast<const std::uint8_t*>(scratch.data()),
                                       bytes.size(), run, std::move(definition));
  if (scratch.capacity() * sizeof(std::uint64_t) > kKeepBufferBytes) {
    scratch = std::vector<std::uint64_t>();
  }
  return out;
}

}  // namespace rwd
