#include "executor/src/http_request.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "executor/src/text_tail.h"
#include "rewind/base/base64.h"
#include "rewind/executor/http_step.h"

namespace rwd::http_internal {
namespace {

using Json = nlohmann::json;

// A JSON string; invalid UTF-8 (possible in ids of code-defined workflows)
// becomes U+FFFD rather than breaking the body.
std::string Quoted(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// `"name": <value>` or `"name_base64": "<base64>"` (http_step.h).
std::string Member(std::string_view name, ByteView bytes) {
  if (IsJsonText(bytes)) return Quoted(name) + ":" + std::string(AsChars(bytes));
  return Quoted(std::string(name) + "_base64") + ":\"" + Base64Encode(bytes) + "\"";
}

}  // namespace

bool IsJsonText(ByteView bytes) {
  // nlohmann skips a byte-order mark and takes a NUL byte for the end of its
  // input: a body can hold neither.
  if (bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) return false;
  if (std::find(bytes.begin(), bytes.end(), 0) != bytes.end()) return false;
  return Json::accept(bytes.begin(), bytes.end());
}

std::string RequestBody(const StepContext& ctx) {
  const std::string step = ctx.step != nullptr ? ctx.step->id : std::string();
  std::string body = "{\"run\":\"" + ctx.run.ToString() + "\",\"step\":" + Quoted(step) +
                     ",\"epoch\":" + std::to_string(ctx.epoch) + ",\"attempt\":" + std::to_string(ctx.attempt) +
                     ",\"idempotency_key\":" + Quoted(ctx.idempotency_key) + "," + Member("input", ctx.input);
  std::string values, encoded;
  if (ctx.dependencies != nullptr) {
    for (const auto& [id, output] : *ctx.dependencies) {
      if (IsJsonText(output)) {
        values += (values.empty() ? "" : ",") + Quoted(id) + ":" + std::string(AsChars(output));
      } else {
        encoded += (encoded.empty() ? "" : ",") + Quoted(id) + ":\"" + Base64Encode(output) + "\"";
      }
    }
  }
  body += ",\"dependencies\":{" + values + "},\"dependencies_base64\":{" + encoded + "}";
  if (!ctx.resume_data.empty()) body += "," + Member("resume_data", ctx.resume_data);
  return body + "}";
}

std::string TokenClaims(const StepContext& ctx, std::string_view audience, std::int64_t now_unix) {
  const Json claims{{"sub", "rewind"},           {"aud", std::string(audience)},
                    {"iat", now_unix},           {"exp", now_unix + kStepTokenLifetime.count()},
                    {"run", ctx.run.ToString()}, {"step", ctx.step != nullptr ? ctx.step->id : std::string()},
                    {"epoch", ctx.epoch},        {"attempt", ctx.attempt}};
  return claims.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

std::string IdempotencyHeader(std::string_view key) {
  return PercentEncode(key, [](unsigned char b) { return b >= 0x20 && b <= 0x7E && b != '%'; });
}

Result<Bytes> Outcome(const Answer& answer, std::string_view url) {
  const unsigned status = answer.status;
  const std::string from = "http " + std::to_string(status) + " from " + std::string(url);
  const auto told = [&] {
    return answer.body_over_limit ? from + ": (a body over 1 MiB)" : step_internal::WithTail(from, answer.body);
  };
  if (status >= 200 && status < 300) {
    if (answer.body_over_limit) return Err(Code::kInvalidArgument, "step output exceeds 1 MiB");
    return ToBytes(answer.body);
  }
  if (status >= 300 && status < 400) {
    return Err(Code::kFailedPrecondition,
               from + ": redirects are not followed" +
                   (answer.location.empty() ? std::string() : " (Location: " + answer.location + ")"));
  }
  if (status == 408 || status == 429) return Err(Code::kUnavailable, told());
  if (status >= 400 && status < 500) return Err(Code::kFailedPrecondition, told());
  return Err(Code::kUnavailable, told());
}

}  // namespace rwd::http_internal
