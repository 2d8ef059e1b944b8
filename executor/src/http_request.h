// What an http step sends and what its answer means (http_step.h): pure
// functions, apart from the exchange itself (http_client.h).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "executor/src/http_client.h"
#include "rewind/base/bytes.h"
#include "rewind/base/status.h"
#include "rewind/executor/workflow.h"

namespace rwd::http_internal {

// True when `bytes` are a JSON text the body embeds as a value: UTF-8
// without a byte-order mark, one JSON value with optional whitespace around
// it, every number within a double's range.
bool IsJsonText(ByteView bytes);

// The request body of the attempt `ctx` describes (http_step.h).
std::string RequestBody(const StepContext& ctx);

// The claims of the attempt's token, as compact JSON with sorted keys.
std::string TokenClaims(const StepContext& ctx, std::string_view audience, std::int64_t now_unix);

// The Idempotency-Key header's value for `key`: bytes outside printable
// ASCII (0x20 to 0x7E) and '%' percent-encoded.
std::string IdempotencyHeader(std::string_view key);

// What `answer` (to a POST to `url`) means for the attempt (http_step.h).
Result<Bytes> Outcome(const Answer& answer, std::string_view url);

}  // namespace rwd::http_internal
