// One-line, human-readable rendering of events, for tools and logs:
//   StepFailed step=2 attempt=1 code="exit_status" message="exit 3" retryable=true
// Field names are the schema's; byte fields print as their size plus up to 32
// printable characters. Not a stable machine format: tools that need one emit JSON.
#pragma once

#include <string>

#include "rewind/schemas/events.h"

namespace rwd {

std::string DescribeBody(const EventBody& body);

// "<actor> <body>", where the actor part is omitted for engine events.
std::string DescribeEvent(const Event& event);

}  // namespace rwd
