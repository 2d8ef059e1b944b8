// JSON Web Tokens (RFC 7519) in the JWS compact form (RFC 7515 §7.1):
//
//   base64url(header) "." base64url(claims) "." base64url(signature)
//
// where the header is {"alg":"<alg>","typ":"JWT"} (with "kid" after "alg"
// when a key id is given) and the signature is over the
// first two parts as written, joined by ".". The one encoder of the tokens the
// server mints (rewind/server/auth.h) and of those an http step sends to the
// service it calls (rewind/executor/http_step.h). Checking a token's claims
// is the receiver's business (auth.h's Authenticator for the server's).
//
// A target of its own (rewind::jwt) beside rewind::base, so that base stays
// free of OpenSSL.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "rewind/base/bytes.h"
#include "rewind/base/status.h"

namespace rwd {

// The shortest HS256 secret accepted, in bytes (as long as the hash).
inline constexpr std::size_t kMinHs256SecretBytes = 32;

// HMAC-SHA256 of `data` under `key` (OpenSSL EVP): 32 bytes. Internal when
// OpenSSL fails.
Result<Bytes> HmacSha256(std::string_view key, std::string_view data);

// Signs the signing input (the first two parts of the token, joined by ".").
using JwsSigner = std::function<Result<Bytes>(std::string_view signing_input)>;

// The token for `claims_json` (the text of a JSON object, used verbatim),
// signed by `sign` with the algorithm `alg` names ("HS256", "EdDSA", "ES256":
// letters and digits only, written into the header as is), its header naming
// `key_id` (letters and digits) when not empty. Returns sign's error when it
// fails.
Result<std::string> EncodeJwt(std::string_view alg, std::string_view claims_json, const JwsSigner& sign,
                              std::string_view key_id = {});

// EncodeJwt with HS256: HMAC-SHA256 under `secret`. InvalidArgument for a
// secret shorter than kMinHs256SecretBytes.
Result<std::string> SignJwtHs256(std::string_view claims_json, std::string_view secret);

}  // namespace rwd
