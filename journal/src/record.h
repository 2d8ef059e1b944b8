// The stored form of one event: a fixed 64-byte header, then the payload.
//
//   offset size field
//        0    8 checksum  XXH3-64 (little-endian) of bytes [8, n)
//        8   16 run id
//       24    8 run seq   (little-endian, dense from 1 within the run)
//       32   32 prev hash SHA-256 of bytes [8, n) of the run's previous record;
//                         all zero for seq 1
//       64    … payload   the encoded event (opaque to the journal)
//
// A record's hash is SHA-256 of its bytes [8, n): it covers run id, seq, the
// previous hash and the payload, so the chain links every event of a run to
// all events before it. The checksum catches accidental damage cheaply on
// every read; the chain catches deliberate rewriting (FORMAT.md has the whole
// format; keep the two in step).
#pragma once

#include <cstddef>
#include <cstdint>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/hash.h"

namespace rwd::record {

inline constexpr std::size_t kHeaderSize = 64;

struct View {
  RunId run;
  std::uint64_t seq = 0;
  Hash prev_hash{};
  ByteView payload;
};

// Writes header and payload into `out` (replacing its contents).
void Encode(const RunId& run, std::uint64_t seq, const Hash& prev_hash, ByteView payload, Bytes* out);

// Checks size and checksum and splits a stored record. Corruption otherwise,
// naming `position`. The views point into `stored`.
Result<View> Parse(ByteView stored, std::uint64_t position);

// The record's chain hash: SHA-256 of bytes [8, n). REQUIRES: stored.size() >= kHeaderSize.
Hash ChainHash(ByteView stored);

}  // namespace rwd::record
