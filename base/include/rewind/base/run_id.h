// RunId: the 16-byte identity of a workflow run.
//
// A new id is time-ordered, like UUIDv7: 48 bits of Unix milliseconds
// (big-endian) then 80 random bits from the OS's entropy source. Runs started
// together therefore sit together in the journal's run index (ordered bytewise),
// so a commit that touches many active runs dirties few index pages, and ids
// sort roughly by start time. Printed as 32 lower-case hex digits.
// A value type; thread-safe as any value.
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

  // The all-zero id; never produced by New().
  RunId() = default;
  explicit RunId(const Bytes& bytes) : bytes_(bytes) {}

  // A fresh id: the current time, then 80 bits from getrandom(2).
  static RunId New();

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
    // The last 8 bytes of an id are random: a good hash as they are.
    std::size_t h = 0;
    for (std::size_t i = rwd::RunId::kSize - sizeof(h); i < rwd::RunId::kSize; ++i) {
      h = (h << 8) | id.bytes()[i];
    }
    return h;
  }
};
