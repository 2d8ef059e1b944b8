// SHA-256, the hash of the journal's per-run chains (FORMAT.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "rewind/base/bytes.h"

namespace rwd {

using Hash = std::array<std::uint8_t, 32>;

// SHA-256 of `bytes` (OpenSSL EVP). Thread-safe.
Hash Sha256(ByteView bytes);

}  // namespace rwd
