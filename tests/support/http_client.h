// What the server's tests add to its client (rewind/server/client.h): raw
// bytes sent as they are, for requests no client would make.
#pragma once

#include <cstdint>
#include <string>

#include "rewind/server/client.h"

namespace rwd::test {

using server::Http;
using server::HttpAnswer;
using server::HttpCall;
using server::SseClient;
using server::SseEvent;

// Sends `raw` bytes as they are and returns what comes back until the server
// closes the connection or `timeout_ms` passes.
std::string RawHttp(std::uint16_t port, const std::string& raw, int timeout_ms = 2000);

}  // namespace rwd::test
