// Base64 (RFC 4648): the standard alphabet with padding (§4), as JSON shows
// bytes that are not text, and the URL-safe alphabet without padding (§5), as
// JSON Web Tokens spell their parts (jwt.h).
//
// Each value has one spelling: the decoders accept exactly what the encoders
// write (no whitespace, no line breaks, padding only as §4 places it, zero
// unused bits), so a decoded value re-encodes to the same text.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rewind/base/bytes.h"

namespace rwd {

// RFC 4648 §4: "+/" and "=" padding to a multiple of four characters.
std::string Base64Encode(ByteView bytes);
// The bytes `text` spells, or nullopt unless Base64Encode(bytes) == text.
std::optional<Bytes> Base64Decode(std::string_view text);

// RFC 4648 §5 without padding: "-_", as JWS (RFC 7515) spells its parts.
std::string Base64UrlEncode(ByteView bytes);
// The bytes `text` spells, or nullopt unless Base64UrlEncode(bytes) == text.
std::optional<Bytes> Base64UrlDecode(std::string_view text);

}  // namespace rwd
