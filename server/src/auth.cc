#include "rewind/server/auth.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <fstream>
#include <limits>
#include <sstream>

#include "rewind/base/base64.h"
#include "rewind/base/bytes.h"
#include "rewind/base/jwt.h"
#include "rewind/base/bounded_cache.h"
#include "rewind/journal/hash.h"

namespace rwd::server {

// A verified token's principal and the clock readings (seconds) at which
// its claims admit it: [from, until].
struct Authenticator::Admitted {
  Principal principal;
  std::int64_t from = std::numeric_limits<std::int64_t>::min();
  std::int64_t until = 0;
};

namespace {

using Admitted = Authenticator::Admitted;

using nlohmann::json;

constexpr std::size_t kMinSecretBytes = kMinHs256SecretBytes;
constexpr std::size_t kMaxTokenBytes = 8 * 1024;

std::unexpected<Status> Unauthenticated(std::string message) { return Err(Code::kUnauthenticated, std::move(message)); }

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// ---- keys and signatures ----

enum class Alg { kHs256, kEdDsa, kEs256 };

std::string_view AlgName(Alg alg) {
  switch (alg) {
    case Alg::kHs256: return "HS256";
    case Alg::kEdDsa: return "EdDSA";
    case Alg::kEs256: return "ES256";
  }
  return "?";
}

Result<Pkey> ReadKey(std::string_view pem, bool is_private) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return Err(Code::kInternal, "cannot read a key");
  Pkey key(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                      : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return Err(Code::kInvalidArgument, std::string("not a PEM ") + (is_private ? "private" : "public") + " key");
  }
  return key;
}

// The algorithm a key signs with: Ed25519 → EdDSA, P-256 → ES256.
Result<Alg> AlgOf(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) return Alg::kEdDsa;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1 && std::string_view(group) == "prime256v1") {
      return Alg::kEs256;
    }
    return Err(Code::kInvalidArgument, "an EC key must be on P-256 (ES256)");
  }
  return Err(Code::kInvalidArgument, "the key is neither Ed25519 (EdDSA) nor P-256 (ES256)");
}

// ES256 signatures are r ‖ s, 32 bytes each (RFC 7518 §3.4); OpenSSL speaks DER.
std::optional<Bytes> RawToDer(ByteView raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (n <= 0) return std::nullopt;
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

std::optional<Bytes> DerToRaw(ByteView der) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return std::nullopt;
  Bytes raw(64);
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32) == 32 &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  return ok ? std::optional<Bytes>(std::move(raw)) : std::nullopt;
}

bool Verify(EVP_PKEY* key, Alg alg, std::string_view data, ByteView signature) {
  std::optional<Bytes> der;
  if (alg == Alg::kEs256) {
    der = RawToDer(signature);
    if (!der) return false;
    signature = *der;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, alg == Alg::kEs256 ? EVP_sha256() : nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

Result<Bytes> Sign(EVP_PKEY* key, Alg alg, std::string_view data) {
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, alg == Alg::kEs256 ? EVP_sha256() : nullptr, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Err(Code::kInternal, "signing failed");
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return Err(Code::kInternal, "signing failed");
  }
  sig.resize(len);
  if (alg != Alg::kEs256) return sig;
  auto raw = DerToRaw(sig);
  if (!raw) return Err(Code::kInternal, "signing failed");
  return *raw;
}

// ---- claims ----

Status CheckPrincipal(const Principal& p, const std::string& where) {
  if (p.subject.empty() || p.subject.size() > kMaxNameBytes) {
    return Status(Code::kInvalidArgument, where + ": the subject must be 1 to " + std::to_string(kMaxNameBytes) +
                                              " bytes");
  }
  return ValidateTenant(p.tenant).WithContext(where);
}

// The principal a verified token's payload names, if its claims hold now.
// `audience`: what "aud" must be or hold ("": anything).
Result<Admitted> PrincipalOf(ByteView payload, const AuthOptions& options, std::string_view audience,
                             std::int64_t now) {
  const json claims = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return Unauthenticated("the token's payload is not a JSON object");
  auto text = [&](const char* name) -> std::optional<std::string> {
    auto it = claims.find(name);
    if (it == claims.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  // NumericDate (seconds), clamped far from overflow: a token valid until
  // the year 10^11 is as good as one valid forever.
  auto number = [&](const char* name) -> std::optional<std::int64_t> {
    constexpr std::int64_t kFar = std::int64_t{1} << 52;
    auto it = claims.find(name);
    if (it == claims.end() || !it->is_number()) return std::nullopt;
    if (it->is_number_unsigned()) return std::min<std::uint64_t>(it->get<std::uint64_t>(), kFar);
    if (it->is_number_integer()) return std::clamp<std::int64_t>(it->get<std::int64_t>(), -kFar, kFar);
    const double d = it->get<double>();
    if (!std::isfinite(d)) return std::nullopt;
    return static_cast<std::int64_t>(std::clamp(d, -static_cast<double>(kFar), static_cast<double>(kFar)));
  };
  const auto leeway = static_cast<std::int64_t>(options.leeway.count());
  const auto exp = number("exp");
  if (!exp) return Unauthenticated("the token has no \"exp\" (expiry) claim");
  Admitted admitted;
  admitted.until = *exp + leeway;
  if (now > admitted.until) return Unauthenticated("the token expired");
  if (claims.contains("nbf")) {
    const auto nbf = number("nbf");
    if (!nbf) return Unauthenticated("the token's \"nbf\" is not a number");
    admitted.from = *nbf - leeway;
    if (now < admitted.from) return Unauthenticated("the token is not valid yet (\"nbf\")");
  }
  if (!audience.empty()) {
    bool ok = false;
    if (auto it = claims.find("aud"); it != claims.end()) {
      if (it->is_string()) ok = *it == audience;
      if (it->is_array()) ok = std::find(it->begin(), it->end(), json(audience)) != it->end();
    }
    if (!ok) return Unauthenticated("the token is not for this audience (\"aud\")");
  }
  Principal p;
  const auto sub = text("sub");
  const auto tenant = text("tenant");
  if (!sub) return Unauthenticated("the token has no \"sub\" (subject) string");
  if (!tenant) return Unauthenticated("the token has no \"tenant\" string");
  p.subject = *sub;
  p.tenant = *tenant;
  if (auto it = claims.find("roles"); it != claims.end()) {
    if (!it->is_array()) return Unauthenticated("the token's \"roles\" is not an array of strings");
    for (const json& r : *it) {
      if (!r.is_string()) return Unauthenticated("the token's \"roles\" is not an array of strings");
      p.roles.push_back(r.get<std::string>());
    }
  }
  if (Status s = CheckPrincipal(p, "the token"); !s.ok()) return Unauthenticated(s.message());
  admitted.principal = std::move(p);
  return admitted;
}

json ClaimsJson(const TokenClaims& c) {
  json j{{"sub", c.subject}, {"tenant", c.tenant}, {"roles", c.roles}, {"exp", c.expires_unix}};
  if (c.not_before_unix != 0) j["nbf"] = c.not_before_unix;
  if (!c.audience.empty()) j["aud"] = c.audience;
  return j;
}

Result<std::string> Mint(const TokenClaims& claims, Alg alg, const JwsSigner& sign) {
  Principal p{claims.tenant, claims.subject, claims.roles};
  REWIND_RETURN_IF_ERROR(CheckPrincipal(p, "claims"));
  return EncodeJwt(AlgName(alg), ClaimsJson(claims).dump(), sign, claims.key_id);
}

}  // namespace

struct Authenticator::Keys {
  Pkey public_key;
  Alg public_alg = Alg::kEdDsa;
};

// Tokens verified already, by their text: a client sends the same token with
// every request, and its signature and claims need checking only once. Only
// a token byte for byte equal to one that verified is found here, and only
// while the clock is within its claims' window; refusals are not kept. At
// most kEntries tokens; when full, it starts over.
struct Authenticator::Cache {
  static constexpr std::size_t kEntries = 1024;
  BoundedCache<std::string, Admitted> tokens{kEntries};
};

Result<std::vector<ApiKey>> LoadApiKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Err(errno == EACCES ? Code::kPermissionDenied : Code::kNotFound, "cannot read API keys '" + path + "'");
  }
  std::stringstream text;
  text << in.rdbuf();
  const json file = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  const std::string where = "API keys '" + path + "'";
  if (!file.is_object() || !file.contains("keys") || !file["keys"].is_array()) {
    return Err(Code::kInvalidArgument, where + ": expected {\"keys\": [...]}");
  }
  std::vector<ApiKey> keys;
  for (std::size_t i = 0; i < file["keys"].size(); ++i) {
    const json& k = file["keys"][i];
    const std::string at = where + ": keys[" + std::to_string(i) + "]";
    if (!k.is_object() || !k.contains("sha256") || !k["sha256"].is_string() || !k.contains("subject") ||
        !k["subject"].is_string() || !k.contains("tenant") || !k["tenant"].is_string()) {
      return Err(Code::kInvalidArgument, at + ": expected {sha256, subject, tenant, roles}");
    }
    ApiKey key{k["sha256"].get<std::string>(), Principal{k["tenant"].get<std::string>(), k["subject"].get<std::string>(), {}}};
    if (k.contains("roles")) {
      if (!k["roles"].is_array()) return Err(Code::kInvalidArgument, at + ".roles: expected an array of strings");
      for (const json& r : k["roles"]) {
        if (!r.is_string()) return Err(Code::kInvalidArgument, at + ".roles: expected an array of strings");
        key.principal.roles.push_back(r.get<std::string>());
      }
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

Authenticator::Authenticator(AuthOptions options, std::unique_ptr<Keys> keys)
    : options_(std::move(options)), keys_(std::move(keys)), cache_(std::make_unique<Cache>()) {}
Authenticator::~Authenticator() = default;

Result<std::shared_ptr<const Authenticator>> Authenticator::Create(AuthOptions options) {
  auto keys = std::make_unique<Keys>();
  for (const std::string* secret : {&options.hs256_secret, &options.local_secret}) {
    if (!secret->empty() && secret->size() < kMinSecretBytes) {
      return Err(Code::kInvalidArgument, "an HS256 secret has at least " + std::to_string(kMinSecretBytes) + " bytes");
    }
  }
  if (!options.public_key_pem.empty()) {
    REWIND_ASSIGN_OR_RETURN(keys->public_key, ReadKey(options.public_key_pem, /*is_private=*/false));
    REWIND_ASSIGN_OR_RETURN(keys->public_alg, AlgOf(keys->public_key.get()));
  }
  for (std::size_t i = 0; i < options.api_keys.size(); ++i) {
    ApiKey& k = options.api_keys[i];
    const std::string at = "API key " + std::to_string(i + 1);
    std::transform(k.sha256_hex.begin(), k.sha256_hex.end(), k.sha256_hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (k.sha256_hex.size() != 64 ||
        k.sha256_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return Err(Code::kInvalidArgument, at + ": sha256 is 64 hex digits");
    }
    REWIND_RETURN_IF_ERROR(CheckPrincipal(k.principal, at));
  }
  if (options.anonymous) REWIND_RETURN_IF_ERROR(CheckPrincipal(*options.anonymous, "the anonymous principal"));
  if (options.hs256_secret.empty() && !keys->public_key && options.api_keys.empty() && !options.anonymous &&
      options.local_secret.empty()) {
    return Err(Code::kInvalidArgument,
               "no way to authenticate: give an HS256 secret, a public key, API keys, or an anonymous principal");
  }
  return std::shared_ptr<const Authenticator>(new Authenticator(std::move(options), std::move(keys)));
}

Result<Principal> Authenticator::Authenticate(std::string_view authorization, std::int64_t now,
                                              std::int64_t* valid_until) const {
  std::int64_t ignored = 0;
  std::int64_t& until = valid_until != nullptr ? *valid_until : ignored;
  until = std::numeric_limits<std::int64_t>::max();
  if (authorization.empty()) {
    if (options_.anonymous) return *options_.anonymous;
    return Unauthenticated("no credentials: send \"Authorization: Bearer <token>\"");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                              std::tolower(static_cast<unsigned char>(b)); })) {
    return Unauthenticated("the Authorization header is not \"Bearer <token>\"");
  }
  const std::string_view credential = authorization.substr(kBearer.size());
  if (credential.size() > kMaxTokenBytes) return Unauthenticated("the token is too long");
  if (std::count(credential.begin(), credential.end(), '.') != 2) {
    const std::string digest = HexEncode(Sha256(AsBytes(credential)));
    for (const ApiKey& k : options_.api_keys) {
      if (CRYPTO_memcmp(k.sha256_hex.data(), digest.data(), digest.size()) == 0) return k.principal;
    }
    return Unauthenticated("unknown API key");
  }
  std::string key(credential);
  if (auto known = cache_->tokens.Find(key); known && now >= known->from && now <= known->until) {
    until = known->until;
    return std::move(known->principal);
  }
  REWIND_ASSIGN_OR_RETURN(Admitted admitted, VerifyJwt(credential, now));
  cache_->tokens.Put(key, admitted, 1);
  until = admitted.until;
  return std::move(admitted.principal);
}

Result<Admitted> Authenticator::VerifyJwt(std::string_view credential, std::int64_t now) const {
  const std::size_t dot1 = credential.find('.'), dot2 = credential.rfind('.');
  const auto header = Base64UrlDecode(credential.substr(0, dot1));
  const auto payload = Base64UrlDecode(credential.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = Base64UrlDecode(credential.substr(dot2 + 1));
  if (!header || !payload || !signature) return Unauthenticated("the token is not base64url JWT");
  const json h = json::parse(header->begin(), header->end(), nullptr, /*allow_exceptions=*/false);
  if (!h.is_object() || !h.contains("alg") || !h["alg"].is_string()) {
    return Unauthenticated("the token's header names no algorithm");
  }
  if (h.contains("crit")) return Unauthenticated("the token has critical header parameters this server does not know");
  const std::string alg = h["alg"];
  const std::string_view signed_part = credential.substr(0, dot2);
  bool verified = false;
  if (h.contains("kid") && h["kid"] == kLocalKeyId) {
    if (alg != "HS256" || options_.local_secret.empty()) return Unauthenticated("local tokens are not accepted here");
    REWIND_ASSIGN_OR_RETURN(Bytes mac, HmacSha256(options_.local_secret, signed_part));
    if (signature->size() != mac.size() || CRYPTO_memcmp(signature->data(), mac.data(), mac.size()) != 0) {
      return Unauthenticated("the local token's signature does not verify (is the server's local access file newer?)");
    }
    return PrincipalOf(*payload, options_, kLocalAudience, now);
  }
  if (alg == "HS256" && !options_.hs256_secret.empty()) {
    REWIND_ASSIGN_OR_RETURN(Bytes mac, HmacSha256(options_.hs256_secret, signed_part));
    verified = signature->size() == mac.size() && CRYPTO_memcmp(signature->data(), mac.data(), mac.size()) == 0;
  } else if (keys_->public_key && alg == AlgName(keys_->public_alg)) {
    verified = Verify(keys_->public_key.get(), keys_->public_alg, signed_part, *signature);
  } else {
    return Unauthenticated("tokens signed with \"" + alg.substr(0, 16) + "\" are not accepted here");
  }
  if (!verified) return Unauthenticated("the token's signature does not verify");
  return PrincipalOf(*payload, options_, options_.audience, now);
}

Result<std::string> MintHs256(const TokenClaims& claims, std::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    return Err(Code::kInvalidArgument, "an HS256 secret has at least " + std::to_string(kMinSecretBytes) + " bytes");
  }
  return Mint(claims, Alg::kHs256, [&](std::string_view data) { return HmacSha256(secret, data); });
}

Result<std::string> MintSigned(const TokenClaims& claims, std::string_view private_key_pem) {
  REWIND_ASSIGN_OR_RETURN(Pkey key, ReadKey(private_key_pem, /*is_private=*/true));
  REWIND_ASSIGN_OR_RETURN(Alg alg, AlgOf(key.get()));
  return Mint(claims, alg, [&](std::string_view data) { return Sign(key.get(), alg, data); });
}

}  // namespace rwd::server
