// The stored forms of events: the `events` database's values (FORMAT.md has
// the whole format; keep the two in step).
//
// Format 1, one event per record:
//   offset size field
//        0    8 checksum  XXH3-64 (little-endian) of bytes [8, n)
//        8   16 run id
//       24    8 seq       little-endian, dense from 1 within the run
//       32   32 prev hash the chain hash of the run's previous event; zero for seq 1
//       64    … payload   the encoded event (opaque to the journal)
//
// Format 2, one append per record (one or more events of one run, at
// consecutive seqs and global positions; the record's key is the position
// of its last event):
//   offset size field
//        0    8 checksum  XXH3-64 (little-endian) of bytes [8, n)
//        8   16 run id
//       24   32 prev hash the chain hash of the run's event before the first
//       56    … first seq (varint, >= 1), count (varint, >= 1), then for each
//               event its payload's length (varint) and the payload
// Varints are LEB128 (7 bits a byte, least significant first), at most 10
// bytes, and minimal (no trailing zero byte).
//
// In both formats an event's chain hash is SHA-256 of run id ‖ seq (u64
// little-endian) ‖ prev hash ‖ payload: format 1's bytes [8, n). A run's
// chain, its heads and every saved heads file are the same in either
// format. A record names the hash before its first event; the events after
// it in the record link by construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/hash.h"
#include "rewind/journal/journal.h"

namespace rwd::record {

inline constexpr std::size_t kFormat1HeaderSize = 64;
inline constexpr std::size_t kFormat2FixedSize = 56;  // before the varints
// A format-2 record's bytes besides its payloads and their lengths, at
// most: the fixed part and two varints (each length takes at most
// kMaxLengthBytes more).
inline constexpr std::size_t kFormat2MaxOverhead = kFormat2FixedSize + 20;
inline constexpr std::size_t kMaxLengthBytes = 10;

// An event's chain hash (above).
Hash ChainHash(const RunId& run, std::uint64_t seq, const Hash& prev_hash, ByteView payload);

// Writes one record of `format` into `out` (replacing its contents): the
// events `payloads` of `run` from `first_seq` on. Format 1 takes exactly one
// payload.
void Encode(std::uint32_t format, const RunId& run, std::uint64_t first_seq, const Hash& prev_hash,
            std::span<const ByteView> payloads, Bytes* out);

}  // namespace rwd::record

namespace rwd {

// One stored record, parsed: the events it holds, and their chain hashes
// and fingerprints computed when first asked for (EventRecord's methods).
// The views point into the stored bytes.
class EventBatch {
 public:
  // Checks size, checksum and layout and splits `stored`, the record whose
  // last event is at `last_position` (its key). Corruption naming the
  // position otherwise. Reuses this object's buffers.
  Status Parse(std::uint32_t format, ByteView stored, std::uint64_t last_position);
  // The same for a format-2 record received from elsewhere (a mirrored
  // journal's log), to be stored with its first event at `first_position`.
  Status ParseReceived(ByteView stored, std::uint64_t first_position);

  // For records the writer has just made: their hashes are known.
  void Assign(std::uint32_t format, const RunId& run, std::uint64_t first_seq, std::uint64_t position,
              const Hash& prev_hash, std::span<const ByteView> payloads, std::span<const Hash> hashes,
              ByteView stored);

  const RunId& run() const { return run_; }
  std::uint64_t first_seq() const { return first_seq_; }
  std::uint64_t position() const { return position_; }  // the first event's
  std::size_t size() const { return payloads_.size(); }
  const Hash& prev_hash() const { return prev_hash_; }  // as stored: before the first event
  ByteView stored() const { return stored_; }

  // The i-th event, as a reader's visitor sees it. REQUIRES: i < size().
  EventRecord At(std::size_t i) const;

  Hash PrevHashOf(std::size_t i) const { return i == 0 ? prev_hash_ : HashOf(i - 1); }
  Hash HashOf(std::size_t i) const;
  std::uint64_t SumOf(std::size_t i) const;

 private:
  // `position`: the last event's when `key_is_last`, else the first's.
  Status Parse(std::uint32_t format, ByteView stored, std::uint64_t position, bool key_is_last);
  std::uint32_t format_ = 0;
  RunId run_;
  std::uint64_t first_seq_ = 0;
  std::uint64_t position_ = 0;
  Hash prev_hash_{};
  ByteView stored_;
  std::vector<ByteView> payloads_;
  mutable std::vector<Hash> hashes_;  // of the first hashes_.size() events
};

}  // namespace rwd
