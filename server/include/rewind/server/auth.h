// Who is calling: a request's bearer credential turned into the Principal the
// engine's Authorizer judges (engine.h), or refused.
//
// Two kinds of credential, told apart by their form:
//   * a JWT (RFC 7519, compact form "header.payload.signature"), signed
//     with HS256 (a shared secret), EdDSA (Ed25519) or ES256 (P-256) — the
//     algorithm is the one the configured key is for, never the token's
//     choice ("none" and every other algorithm are refused). Claims: "sub"
//     (the subject), "tenant", "roles" (an array of names), "exp"
//     (required), "nbf" (optional), "aud" (required and equal when an
//     audience is configured: a string, or an array holding it), all
//     checked with a bounded clock leeway;
//   * an API key (anything else): the SHA-256 of the credential looked up in
//     a keys file, which keeps hashes only.
// A JWT whose header says "kid": "local" is a local token (local_access.h):
// HS256 with AuthOptions::local_secret only, and its "aud" must be
// kLocalAudience whatever audience is configured.
// Nothing is anonymous unless AuthOptions::anonymous says who a request
// without credentials acts as.
//
// Errors are Unauthenticated, naming what is wrong (missing, malformed,
// expired, not yet valid, wrong audience, bad signature, unknown key) without
// echoing the credential.
//
// A token that verified is remembered by its text (at most 1,024 of them),
// so the next request with it costs a lookup, not a signature check; it is
// still refused once its "exp" (or before its "nbf") by the clock.
//
// Thread-safety: Authenticate may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rewind/base/status.h"
#include "rewind/executor/engine.h"

namespace rwd::server {

// One entry of an API-keys file: the SHA-256 (64 hex digits) of the key and
// who it authenticates as.
struct ApiKey {
  std::string sha256_hex;
  Principal principal;
};

// Reads an API-keys file, a JSON object:
//   {"keys": [{"sha256": "<64 hex digits>", "subject": "ci", "tenant": "acme",
//              "roles": ["operator"]}]}
// InvalidArgument naming the file and the entry that is wrong; NotFound or
// PermissionDenied when it cannot be read.
Result<std::vector<ApiKey>> LoadApiKeys(const std::string& path);

struct AuthOptions {
  // HS256 tokens are accepted when set (at least 32 bytes).
  std::string hs256_secret;
  // EdDSA or ES256 tokens are accepted when set: an Ed25519 or P-256 public
  // key in PEM ("-----BEGIN PUBLIC KEY-----").
  std::string public_key_pem;
  // When non-empty, a token's "aud" must be (or hold) this.
  std::string audience;
  // How far "exp" and "nbf" may be off the server's clock.
  std::chrono::seconds leeway{30};
  std::vector<ApiKey> api_keys;
  // Who a request without credentials acts as; nullopt: such requests are
  // Unauthenticated.
  std::optional<Principal> anonymous;
  // Local tokens are accepted when set (at least 32 bytes): the secret of
  // the server's local access file (local_access.h).
  std::string local_secret;
};

// The "kid" of a local token, and the "aud" it must carry.
inline constexpr std::string_view kLocalKeyId = "local";
inline constexpr std::string_view kLocalAudience = "rewind-local";

class Authenticator {
 public:
  // InvalidArgument for a secret shorter than 32 bytes, a key that is not an
  // Ed25519 or P-256 public key, an API key's bad hash or principal, or no
  // way to authenticate at all (no secret, key, API key, local secret or
  // anonymous).
  static Result<std::shared_ptr<const Authenticator>> Create(AuthOptions options);
  ~Authenticator();

  // `authorization` is the request's Authorization header ("" when absent),
  // "Bearer <credential>". `now_unix` is the server's clock in seconds.
  // With `valid_until`, also the last second (Unix) the credential is good
  // for: a token's expiry plus the leeway; the largest int64 for one that
  // does not expire (an API key).
  Result<Principal> Authenticate(std::string_view authorization, std::int64_t now_unix,
                                 std::int64_t* valid_until = nullptr) const;

  struct Keys;      // parsed keys (auth.cc)
  struct Admitted;  // a verified token's principal and validity window (auth.cc)
  struct Cache;     // tokens verified already (auth.cc)

 private:
  Authenticator(AuthOptions options, std::unique_ptr<Keys> keys);
  // A JWT's signature and claims checked: its principal and validity window.
  Result<Admitted> VerifyJwt(std::string_view credential, std::int64_t now_unix) const;
  AuthOptions options_;
  std::unique_ptr<Keys> keys_;
  std::unique_ptr<Cache> cache_;
};

// What a token says (the claims Authenticate reads).
struct TokenClaims {
  std::string subject;
  std::string tenant;
  std::vector<std::string> roles;
  std::int64_t expires_unix = 0;
  std::int64_t not_before_unix = 0;  // 0: no "nbf"
  std::string audience;              // "": no "aud"
  std::string key_id;                // "": no "kid" in the header
};

// Mints a JWT (for `rewind token`, development and tests): HS256 with a
// secret, or EdDSA / ES256 with a private key in PEM (the algorithm follows
// the key). InvalidArgument for a bad key or claims Authenticate would refuse
// whatever the clock (no subject, a tenant ValidateTenant refuses).
Result<std::string> MintHs256(const TokenClaims& claims, std::string_view secret);
Result<std::string> MintSigned(const TokenClaims& claims, std::string_view private_key_pem);

}  // namespace rwd::server
