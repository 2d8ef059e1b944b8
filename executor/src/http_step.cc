#include "rewind/executor/http_step.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <utility>

#include "executor/src/http_client.h"
#include "executor/src/http_request.h"
#include "rewind/base/file.h"
#include "rewind/base/jwt.h"
#include "rewind/executor/shell_step.h"

namespace rwd {
namespace {

constexpr std::string_view kScheme = "http://";
constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::size_t kMaxHostBytes = 253;
// A secret file larger than this is a mistake (a wrong path), not a secret.
constexpr std::size_t kMaxSecretFileBytes = 64u << 10;

std::unexpected<Status> BadUrl(std::string what) { return Err(Code::kInvalidArgument, std::move(what)); }

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 3986 pchar, '/' and '?', apart from '%' (checked with what follows it).
bool IsTargetChar(char c) {
  return IsAlnum(c) || std::string_view("-._~!$&'()*+,;=:@/?").find(c) != std::string_view::npos;
}

Result<std::uint16_t> Port(std::string_view digits) {
  const auto bad = [&] {
    return BadUrl("the port must be a number from 1 to 65535, not '" + std::string(digits) + "'");
  };
  if (digits.empty() || digits.size() > 5) return bad();
  unsigned port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return bad();
  return static_cast<std::uint16_t>(port);
}

// Fills url->host, ->ipv6 and ->port from "host[:port]" or "[v6][:port]".
Status Authority(std::string_view authority, HttpUrl* url) {
  if (authority.find('@') != std::string_view::npos) {
    return Status(Code::kInvalidArgument,
                  "must not hold user info ('user:password@'): the URL is recorded in the journal, and the "
                  "service checks the step's token instead");
  }
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status(Code::kInvalidArgument, "an IPv6 host has no closing ']'");
    const std::string v6(authority.substr(1, close - 1));
    in6_addr parsed{};
    if (::inet_pton(AF_INET6, v6.c_str(), &parsed) != 1) {
      return Status(Code::kInvalidArgument, "'" + v6 + "' is not an IPv6 address");
    }
    url->host = v6;
    url->ipv6 = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return Status(Code::kInvalidArgument, "unexpected text after the IPv6 host");
    if (!after.empty()) port = after.substr(1);
    if (after == ":") return Status(Code::kInvalidArgument, "the port after ':' is missing");
  } else {
    const std::size_t colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (host.empty()) return Status(Code::kInvalidArgument, "has no host");
    if (host.size() > kMaxHostBytes) return Status(Code::kInvalidArgument, "the host is longer than 253 bytes");
    for (char c : host) {
      if (!IsAlnum(c) && c != '-' && c != '.' && c != '_') {
        return Status(Code::kInvalidArgument,
                      std::string("the host may hold letters, digits, '-', '_' and '.', not '") + c + "'");
      }
    }
    url->host.clear();
    for (char c : host) url->host += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return Status(Code::kInvalidArgument, "the port after ':' is missing");
    }
  }
  if (!port.empty()) {
    REWIND_ASSIGN_OR_RETURN(url->port, Port(port));
  }
  return Status::Ok();
}

}  // namespace

std::string HttpUrl::Authority() const {
  std::string out = ipv6 ? "[" + host + "]" : host;
  if (port != 80) out += ":" + std::to_string(port);
  return out;
}

std::string HttpUrl::Origin() const { return std::string(kScheme) + Authority(); }

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  if (url.size() > kMaxUrlBytes) return BadUrl("is longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  for (char c : url) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7F) {
      return BadUrl("must not contain spaces, control characters or bytes outside ASCII (percent-encode them)");
    }
  }
  if (url.starts_with("https://")) {
    return BadUrl(
        "https:// is not supported: give an http:// URL (a TLS-terminating proxy beside the engine can "
        "reach an https:// service)");
  }
  if (!url.starts_with(kScheme)) return BadUrl("must be an http:// URL: http://host[:port]/path");
  const std::string_view rest = url.substr(kScheme.size());
  const std::size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  HttpUrl parsed;
  REWIND_RETURN_IF_ERROR(Authority(rest.substr(0, end), &parsed));
  const std::string_view target = rest.substr(end);
  if (target.empty() || target[0] != '/') return BadUrl("must have a path after the host ('/' at least)");
  for (std::size_t i = 0; i < target.size(); ++i) {
    const char c = target[i];
    if (c == '#') return BadUrl("must not have a fragment ('#...'): it is never sent");
    if (c == '%') {
      if (i + 2 >= target.size() || !IsHex(target[i + 1]) || !IsHex(target[i + 2])) {
        return BadUrl("'%' in the path must start an escape of two hex digits");
      }
      i += 2;
      continue;
    }
    if (!IsTargetChar(c)) return BadUrl(std::string("'") + c + "' must be percent-encoded in the path");
  }
  parsed.target = std::string(target);
  return parsed;
}

Result<std::string> ReadStepTokenSecret() {
  const std::string variable(kStepTokenSecretVariable);
  const char* path = std::getenv(variable.c_str());
  if (path == nullptr || *path == '\0') {
    return Err(Code::kFailedPrecondition,
               "http steps need a token secret: set " + variable + " to a file holding one (at least 32 bytes)");
  }
  const std::string where = variable + "=" + path;
  auto read = ReadWholeFile(path, kMaxSecretFileBytes);
  if (!read.has_value()) {
    if (read.error().error == EFBIG) {
      return Err(Code::kFailedPrecondition, where + " is larger than 64 KiB: not a secret file");
    }
    return Err(Code::kFailedPrecondition, std::string("cannot ") + read.error().doing + " " + where + ": " +
                                              std::generic_category().message(read.error().error));
  }
  std::string secret = std::move(*read);
  DropLineEnds(secret);
  if (secret.size() < kMinHs256SecretBytes) {
    return Err(Code::kFailedPrecondition, "the token secret in " + where + " has " + std::to_string(secret.size()) +
                                              " bytes; it needs at least " + std::to_string(kMinHs256SecretBytes));
  }
  return secret;
}

StepHandler HttpStep(HttpStepOptions options) {
  Result<HttpUrl> url = ParseHttpUrl(options.url);
  return [options = std::move(options), url = std::move(url)](const StepContext& ctx) -> Result<Bytes> {
    if (!url.has_value()) return Err(Code::kInvalidArgument, "url '" + options.url + "' " + url.error().message());
    std::string secret = options.token_secret;
    if (secret.empty()) {
      REWIND_ASSIGN_OR_RETURN(secret, ReadStepTokenSecret());
    } else if (secret.size() < kMinHs256SecretBytes) {
      return Err(Code::kFailedPrecondition, "the http step's token secret has fewer than 32 bytes");
    }
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string audience = options.audience.empty() ? url->Origin() : options.audience;
    REWIND_ASSIGN_OR_RETURN(const std::string token,
                            SignJwtHs256(http_internal::TokenClaims(ctx, audience, now), secret));
    const http_internal::Headers headers{{"Content-Type", "application/json"},
                                         {"Authorization", "Bearer " + token},
                                         {"Idempotency-Key", http_internal::IdempotencyHeader(ctx.idempotency_key)},
                                         {"User-Agent", "rewind"}};
    REWIND_ASSIGN_OR_RETURN(
        const http_internal::Answer answer,
        http_internal::Post(*url, headers, http_internal::RequestBody(ctx), kMaxStepOutputBytes, ctx.stop));
    return http_internal::Outcome(answer, options.url);
  };
}

}  // namespace rwd
