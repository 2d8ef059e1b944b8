// The tail of an error text (a command's stderr, a service's answer), as a
// failed attempt reports it: the end is where the reason usually is.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rwd::step_internal {

inline constexpr std::size_t kTailLines = 20;
inline constexpr std::size_t kTailBytes = 2048;

// The last kTailLines lines of `text`, at most kTailBytes of them, without
// trailing whitespace, never beginning inside a UTF-8 sequence.
std::string Tail(std::string_view text);

// "<message>: <Tail(text)>", or `message` alone when that tail is empty.
std::string WithTail(std::string message, std::string_view text);

}  // namespace rwd::step_internal
