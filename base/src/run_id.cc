#include "rewind/base/run_id.h"

#include <random>

#include "rewind/base/bytes.h"

namespace rwd {

RunId RunId::Random() {
  static thread_local std::random_device device;
  Bytes bytes{};
  do {
    for (std::size_t i = 0; i < kSize; i += 4) {
      const std::uint32_t word = device();
      for (std::size_t j = 0; j < 4; ++j) bytes[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
    }
  } while (bytes == Bytes{});
  return RunId(bytes);
}

Result<RunId> RunId::Parse(std::string_view hex) {
  Bytes bytes{};
  if (hex.size() != 2 * kSize || !HexDecode(hex, bytes)) {
    return Err(Code::kInvalidArgument,
               "'" + std::string(hex) + "' is not a run id (32 hex digits)");
  }
  return RunId(bytes);
}

std::string RunId::ToString() const { return HexEncode(bytes_); }

}  // namespace rwd
