// RunId: the 16-byte identity of a workflow run.
//
// Run ids are random (128 bits from the OS's entropy source), printed as 32
// lower-case hex digits, and ordered bytewise, which is the order of the
// journal's per-run index. A value type; thread-safe as any value.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "rewind/base/status.h"

namespace rwd {

class RunId {
 public:
  static constexpr std::size_t kSize = 16;
  using Bytes = std::array<std::uint8_t, kSize>;

  // The all-zero id; never produced by Random().
  RunId() = default;
  explicit RunId(const Bytes& bytes) : bytes_(bytes) {}

  // A fresh id from std::random_device (getrandom on Linux).
  static RunId Random();

  // Parses 32 hex digits (either case). InvalidArgument names the text otherwise.
  static Result<RunId> Parse(std::string_view hex);

  const Bytes& bytes() const { return bytes_; }
  bool IsZero() const { return bytes_ == Bytes{}; }

  // 32 lower-case hex digits.
  std::string ToString() const;

  friend auto operator<=>(const RunId&, const RunId&) = default;

 private:
  Bytes bytes_{};
};

}  // namespace rwd

template <>
struct std::hash<rwd::RunId> {
  std::size_t operator()(const rwd::RunId& id) const noexcept {
    // Ids are uniformly random: any 8 of their bytes are a good hash.
    std::size_t h = 0;
    for (std::size_t i = 0; i < sizeof(h); ++i) h = (h << 8) | id.bytes()[i];
    return h;
  }
};
