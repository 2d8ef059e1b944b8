// One-line, human-readable rendering of events, for tools and logs:
//   StepFailed step=2 attempt=1 code="exit_status" message="exit 3" retryable=true
// Every field of the event (event_fields.h, the list the JSON form uses too),
// in the schema's names and order. Empty strings and bytes are left out;
// byte fields print as their size and up to 32 characters when printable,
// their first 8 bytes in hex otherwise; a workflow's steps as their ids; a
// nested table's fields prefixed with its name (start.workflow="order"); a
// list of tables as its count. Not a stable machine format: tools that need
// one emit JSON.
#pragma once

#include <string>

#include "rewind/schemas/events.h"

namespace rwd {

std::string DescribeBody(const EventBody& body);

// "<actor> <body>", where the actor part is omitted for engine events.
std::string DescribeEvent(const Event& event);

}  // namespace rwd
