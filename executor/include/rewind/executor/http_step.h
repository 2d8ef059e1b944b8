// Http steps: a StepHandler that POSTs each attempt to a service's URL, so
// that a step can be written in any language, run anywhere, and still be
// retried, timed out, cancelled and resumed by the engine.
//
//   w.Step("charge", HttpStep({.url = "http://payments.internal:8080/charge"}))
//       .Timeout(std::chrono::seconds(5));
//
// The request: one HTTP/1.1 POST per attempt, on a connection of its own that
// is closed after the answer, with the headers
//   Content-Type: application/json
//   Authorization: Bearer <token>    (below)
//   Idempotency-Key: <key>           StepContext::idempotency_key, "<run>/<step>/<epoch>":
//                                    the same for every attempt of an epoch, new after
//                                    a resume; bytes outside printable ASCII, and '%',
//                                    are percent-encoded (RFC 3986) in the header
//   User-Agent: rewind
// and this JSON object as body (fields in this order):
//   {"run": "<32 hex digits>", "step": "<step id>", "epoch": 1, "attempt": 2,
//    "idempotency_key": "<run>/<step>/<epoch>",
//    "input": <value>                     or "input_base64": "<base64>",
//    "dependencies": {"<id>": <value>},   "dependencies_base64": {"<id>": "<base64>"},
//    "resume_data": <value>               or "resume_data_base64": "<base64>"}
// Bytes (the run's input, each dependency's output, the run's last resume
// data) are embedded verbatim as a JSON value when they are a JSON text
// (RFC 8259: UTF-8 without a byte-order mark, one value with optional
// whitespace around it, numbers within a double's range); anything else, the
// empty value included, is standard base64 (RFC 4648 §4) under the name with
// "_base64" added. So the body has exactly one of "input" and "input_base64",
// each dependency is in exactly one of the two objects (both always present),
// and "resume_data" or "resume_data_base64" is there only when the run was
// resumed with data (as REWIND_RESUME_DATA for a command).
//
// The token: a JWT signed with HS256 (rewind/base/jwt.h) whose claims are
//   {"sub": "rewind", "aud": <audience>, "iat": <now>, "exp": <now + 300>,
//    "run": "<32 hex digits>", "step": "<step id>", "epoch": 1, "attempt": 2}
// (times in seconds since the epoch). The audience is HttpStepOptions::audience,
// else the URL's origin (HttpUrl::Origin). A service checks the signature,
// "exp", "aud", and that "run", "step", "epoch" and "attempt" are the body's.
// The token names no tenant, so Rewind's own API (rewind/server/auth.h)
// refuses it even where it is given the same secret: a service cannot act on
// Rewind with the token it was sent.
//
// The secret: HttpStepOptions::token_secret, else (workflow files) the file
// named by $REWIND_STEP_TOKEN_SECRET_FILE, read at each attempt (ReadStepTokenSecret),
// so a rotated file takes effect at the next attempt. The secret is never
// part of a step's definition, which the journal records. Without a secret an
// attempt sends nothing and fails permanently (nothing anonymous acts).
//
// Outcome of an attempt:
//   2xx                  -> the response body, verbatim (the output; 204: empty)
//   2xx with a body over 1 MiB
//                        -> InvalidArgument "step output exceeds 1 MiB" (permanent)
//   3xx                  -> FailedPrecondition "http 302 from <url>: redirects are
//                           not followed (Location: <location>)" (permanent)
//   408, 429             -> Unavailable "http 429 from <url>: <body tail>" (retried
//                           per the step's retry policy; Retry-After is not read)
//   any other 4xx        -> FailedPrecondition "http 404 from <url>: <body tail>"
//                           (permanent: the step is not tried again)
//   5xx, or a status outside 100-599
//                        -> Unavailable "http 503 from <url>: <body tail>"
//   a name that does not resolve, a refused or reset connection, a malformed
//   answer, no answer before the connection closed
//                        -> Unavailable, saying which
//   no token secret, or one under 32 bytes
//                        -> FailedPrecondition naming REWIND_STEP_TOKEN_SECRET_FILE
//                           (permanent; nothing is sent)
//   an invalid URL       -> InvalidArgument (permanent; nothing is sent)
// The body tail is the last 20 lines of the body, at most 2 KiB of them. Interim
// answers (1xx) are skipped.
//
// Stopping: when the attempt's stop_token is requested (its timeout, a cancel,
// the engine shutting down) the connection is closed at once and the attempt
// fails with Unavailable; a host name being resolved at that moment is
// waited for. Give the step a Timeout(): without one (and without a cancel) an
// answer that never comes holds the attempt. Workflow files give http steps
// 30 s unless they say otherwise (workflow_file.h).
//
// Only http:// is supported: put a TLS-terminating proxy beside the engine to
// reach an https:// service.
//
// Thread-safety: the returned handler may run concurrently for any number of
// attempts; it holds nothing but its (immutable) options.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "rewind/base/status.h"
#include "rewind/executor/workflow.h"

namespace rwd {

// A URL an http step can call, as ParseHttpUrl splits it.
struct HttpUrl {
  std::string host;  // a DNS name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 80;
  std::string target;  // the path and query, "/charge?v=2"
  bool ipv6 = false;   // host is an IPv6 address

  // "http://host[:port]" (the port only when it is not 80, IPv6 in
  // brackets, the host in lower case): the token's default audience.
  std::string Origin() const;
  // The Host header: host[:port] as in Origin().
  std::string Authority() const;

  friend bool operator==(const HttpUrl&, const HttpUrl&) = default;
};

// Splits `url`, which must be http://host[:port]/path[?query]:
//   host   a DNS name (letters, digits, '-', '_', '.'), an IPv4 address, or an
//          IPv6 address in brackets;
//   port   1 to 65535 (default 80);
//   path   '/' and then RFC 3986 path and query characters, anything else
//          percent-encoded (no spaces, no bytes outside ASCII).
// InvalidArgument saying what is wrong otherwise: another scheme (https://
// included: see above), user info ("user:password@": a definition is recorded
// in the journal, credentials never belong there), a fragment ('#'), a
// missing path, control characters, a URL over 2,048 bytes.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

struct HttpStepOptions {
  std::string url;  // see ParseHttpUrl
  // The token's "aud"; empty: the URL's origin.
  std::string audience;
  // The HS256 secret the tokens are signed with (at least 32 bytes); empty:
  // ReadStepTokenSecret() at each attempt.
  std::string token_secret;
};

// The environment variable naming the file with the http steps' token secret.
inline constexpr std::string_view kStepTokenSecretVariable = "REWIND_STEP_TOKEN_SECRET_FILE";
// How long a step's token is valid after it is minted.
inline constexpr std::chrono::seconds kStepTokenLifetime{300};

// The secret in the file named by $REWIND_STEP_TOKEN_SECRET_FILE: its content
// without trailing line breaks (CR, LF), as `rewind serve --token-secret-file`
// reads a secret. FailedPrecondition naming the variable when it is unset or
// empty, when the file cannot be read, or when the secret has fewer than 32
// bytes. Reads the environment: do not call it while another thread sets
// variables.
Result<std::string> ReadStepTokenSecret();

// The handler that POSTs each attempt to `options.url` (see above).
StepHandler HttpStep(HttpStepOptions options);

}  // namespace rwd
