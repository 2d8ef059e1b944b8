#include "rewind/base/run_id.h"

#include <chrono>
#include <random>

#include "rewind/base/bytes.h"

namespace rwd {

RunId RunId::New() {
  static thread_local std::random_device device;
  Bytes bytes{};
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  for (std::size_t i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  for (std::size_t i = 6; i < kSize; i += 2) {
    const std::uint32_t word = device();
    bytes[i] = static_cast<std::uint8_t>(word);
    bytes[i + 1] = static_cast<std::uint8_t>(word >> 8);
  }
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
