#include "rewind/base/run_id.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "rewind/base/bytes.h"

namespace rwd {

RunId RunId::New() {
  Bytes bytes{};
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  for (std::size_t i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  // getrandom(2) blocks only until the kernel's pool is first seeded, and
  // never fails for requests this small once it is.
  std::size_t filled = 6;
  while (filled < kSize) {
    const ssize_t n = ::getrandom(bytes.data() + filled, kSize - filled, 0);
    if (n > 0) filled += static_cast<std::size_t>(n);
    else if (errno != EINTR) std::abort();  // no entropy source at all: nothing sane to do
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
