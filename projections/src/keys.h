// Key building for the projections' tables: memcmp order is the order a
// query walks, so numbers are big-endian and strings are length-prefixed
// (u16 big-endian), which keeps every exact-name prefix contiguous.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"

namespace rwd::projections_internal {

class KeyBuilder {
 public:
  explicit KeyBuilder(char tag) {
    key_.reserve(kTypicalBytes);
    key_.push_back(static_cast<std::uint8_t>(tag));
  }
  KeyBuilder& U8(std::uint8_t v) {
    key_.push_back(v);
    return *this;
  }
  KeyBuilder& U64(std::uint64_t v) {
    for (int i = 7; i >= 0; --i) key_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  // Negative times sort first (as 0).
  KeyBuilder& Time(std::int64_t unix_us) { return U64(unix_us < 0 ? 0 : static_cast<std::uint64_t>(unix_us)); }
  KeyBuilder& Str(std::string_view s) {
    const std::size_t n = std::min<std::size_t>(s.size(), 0xFFFF);
    key_.push_back(static_cast<std::uint8_t>(n >> 8));
    key_.push_back(static_cast<std::uint8_t>(n));
    key_.insert(key_.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
    return *this;
  }
  KeyBuilder& Run(const RunId& run) {
    key_.insert(key_.end(), run.bytes().begin(), run.bytes().end());
    return *this;
  }
  const Bytes& bytes() const { return key_; }
  Bytes Take() { return std::move(key_); }

 private:
  static constexpr std::size_t kTypicalBytes = 64;  // a tag, two names, a time and a run id
  Bytes key_;
};

inline std::uint64_t ReadBe64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

inline bool HasPrefix(ByteView key, ByteView prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.begin());
}

// A key greater than every key that starts with `prefix` and has at most
// `suffix_bytes` more bytes.
inline Bytes PrefixEnd(ByteView prefix, std::size_t suffix_bytes) {
  Bytes end(prefix.begin(), prefix.end());
  end.insert(end.end(), suffix_bytes + 1, 0xFF);
  return end;
}

}  // namespace rwd::projections_internal
