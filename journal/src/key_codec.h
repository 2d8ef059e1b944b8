// Keys and fixed-width integers of the journal's LMDB databases (FORMAT.md).
//
//   events  key: the global position of the record's last event, u64
//           big-endian (MDB_APPEND); the records' events are positions 1..N,
//           and the record holding position p is the first at or past p
//           value: a record (record.h)
//   runs    DUPSORT|DUPFIXED; key: run id (16 bytes); one entry per record:
//           value: the record's last run seq u64 BE ‖ its key (16 bytes), so
//           the duplicates of a run sort by seq and the record holding seq k
//           is the first entry at or past k, found in O(log n)
//   meta    text keys → text values (format_version, engine_id, created_unix_us,
//           and a mirror's upstream)
//   log     a mirror's only (upstream.h): key run id → the log sequence of the
//           run's last message, u64 BE; key "last" → the last log sequence
//           the mirror holds
//
// Big-endian keys make memcmp order numeric order.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "rewind/base/bytes.h"

namespace rwd::key {

inline void PutBe64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint64_t GetBe64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
inline void PutLe64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint64_t GetLe64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

using Position = std::array<std::uint8_t, 8>;
inline Position EncodePosition(std::uint64_t position) {
  Position k;
  PutBe64(k.data(), position);
  return k;
}

// A `runs` duplicate value: the record's last seq, then its position.
using RunEntry = std::array<std::uint8_t, 16>;
inline RunEntry EncodeRunEntry(std::uint64_t seq, std::uint64_t position) {
  RunEntry e;
  PutBe64(e.data(), seq);
  PutBe64(e.data() + 8, position);
  return e;
}
struct DecodedRunEntry {
  std::uint64_t seq;
  std::uint64_t position;
};
inline DecodedRunEntry DecodeRunEntry(ByteView v) {
  return {GetBe64(v.data()), GetBe64(v.data() + 8)};
}

// The `log` key of the last log sequence a mirror holds (4 bytes: never a run id).
inline constexpr std::string_view kLogLastKey = "last";

}  // namespace rwd::key
