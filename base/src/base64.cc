#include "rewind/base/base64.h"

#include <array>

namespace rwd {
namespace {

constexpr std::string_view kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(ByteView bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += alphabet[(v >> shift) & 0x3F];
  }
  const std::size_t left = bytes.size() - i;
  if (left > 0) {
    std::uint32_t v = std::uint32_t{bytes[i]} << 16;
    if (left == 2) v |= std::uint32_t{bytes[i + 1]} << 8;
    out += alphabet[(v >> 18) & 0x3F];
    out += alphabet[(v >> 12) & 0x3F];
    if (left == 2) out += alphabet[(v >> 6) & 0x3F];
    if (pad) out.append(3 - left, '=');
  }
  return out;
}

// Decodes unpadded text; the caller has removed §4's padding. Encoding the
// result again is the canonical-spelling check.
std::optional<Bytes> Decode(std::string_view text, std::string_view alphabet) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::array<int, 256> value;
  value.fill(-1);
  for (std::size_t k = 0; k < alphabet.size(); ++k)
    value[static_cast<unsigned char>(alphabet[k])] = static_cast<int>(k);
  Bytes out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return std::nullopt;  // unused bits must be zero
  return out;
}

}  // namespace

std::string Base64Encode(ByteView bytes) { return Encode(bytes, kStandard, /*pad=*/true); }

std::optional<Bytes> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  auto out = Decode(text.substr(0, text.size() - pad), kStandard);
  if (!out || Base64Encode(*out) != text) return std::nullopt;
  return out;
}

std::string Base64UrlEncode(ByteView bytes) { return Encode(bytes, kUrl, /*pad=*/false); }

std::optional<Bytes> Base64UrlDecode(std::string_view text) {
  auto out = Decode(text, kUrl);
  if (!out || Base64UrlEncode(*out) != text) return std::nullopt;
  return out;
}

}  // namespace rwd
