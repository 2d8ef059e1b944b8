// Times for people: ISO-8601 in UTC, to the second.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace rwd {

// Microseconds since the Unix epoch, by the system's clock.
std::int64_t NowUnixMicros();

// 2024-05-01T12:00:03Z; "-" for times <= 0 (none recorded).
std::string IsoTime(std::int64_t unix_us);

// The inverse of IsoTime: "2024-05-01T12:00:03Z" (or a day, "2024-05-01",
// meaning its midnight UTC) as microseconds since the epoch; nullopt otherwise.
std::optional<std::int64_t> ParseIsoTime(const std::string& text);

}  // namespace rwd
