// Byte vocabulary shared by every component: owned bytes, borrowed views, hex.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rwd {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Lower-case hex of `bytes`.
std::string HexEncode(ByteView bytes);

// Decodes hex (either case) of exactly `out.size()` bytes into `out`; false when
// `hex` has another length or a non-hex digit (then `out` is unspecified).
bool HexDecode(std::string_view hex, std::span<std::uint8_t> out);

// `text` with every byte that `keep` refuses written as %XX (upper-case hex).
std::string PercentEncode(std::string_view text, bool (*keep)(unsigned char byte));

}  // namespace rwd
