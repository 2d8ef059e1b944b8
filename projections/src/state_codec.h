// The snapshot codec: a RunState as bytes, so that the state of a run at any
// seq costs one decode and at most K folds (snapshots are taken every K events).
//
// A snapshot is a FlatBuffer (projections/state.fbs, root Snapshot, file
// identifier "RWST") holding every field of RunState except its definition.
// The definition is the run's first event, stored once in the journal; the
// decoder is handed it and the decoded state shares it. Each snapshot records
// the format version it was written with (kStateSnapshotVersion); a build
// refuses a newer one rather than misread it, and the caller folds from the
// journal instead.
//
// Free functions on values: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"

namespace rwd {

// The snapshot format version this build writes. DecodeState accepts 1 up to it.
inline constexpr std::uint16_t kStateSnapshotVersion = 1;

// DecodeState refuses anything larger (FlatBuffers itself stops at 2 GiB).
inline constexpr std::size_t kMaxEncodedStateBytes = std::size_t{1} << 30;

// Encodes `state` without its definition. Deterministic: equal states give
// identical bytes, whatever the compiler (children are built in field order
// before the table that holds them, every scalar is written even when it is
// its default, empty strings and byte vectors are always left out, and no
// sub-object is shared between references). Always writes
// kStateSnapshotVersion.
// REQUIRES: a state DecodeState would accept against its own definition:
// known enum values, steps.size() == definition->steps.size() (0 without a
// definition), paused_step kNoStep or a step index, every resume's from_step
// a step index, an encoding under 2 GiB. States that Evolve builds are such.
// Each thread reuses one builder; one that grew beyond 1 MiB is freed after.
Bytes EncodeState(const RunState& state);

// Decodes a snapshot of `run` taken against `definition` (null for a run that
// has none yet, which has no steps). The result's definition is `definition`
// itself (the pointer is shared, not copied).
// Runs the FlatBuffers Verifier with explicit limits (nesting depth 8, at most
// bytes.size() / 4 + 16 tables), then semantic checks. Memory is bounded by
// the input: the strings and byte vectors of the result together hold at most
// bytes.size() bytes, and it holds at most one step, signal or resume per 8
// input bytes. A buffer that names one sub-object from several places (valid
// FlatBuffers, never written by EncodeState) is refused when its copies would
// exceed that.
// Errors:
//   Corruption          bytes that are not a valid snapshot, naming what is
//                       wrong: failed verification (including a missing or
//                       wrong file identifier), version 0, a different run id,
//                       a step count other than definition->steps.size(), an
//                       unknown run or step status, a paused_step that is
//                       neither kNoStep nor a step index, a resume from_step
//                       that is no step index, more than kMaxEncodedStateBytes,
//                       or copies that "expand beyond the encoded size"
//   FailedPrecondition  a snapshot of a newer version than kStateSnapshotVersion
// Never reads out of bounds, whatever the input; `bytes` need no alignment (a
// misaligned input is copied to a per-thread buffer, freed after the call when
// it grew beyond 1 MiB).
Result<RunState> DecodeState(ByteView bytes, const RunId& run, Definition definition);

}  // namespace rwd
