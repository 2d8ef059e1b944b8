#include "rewind/base/jwt.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cassert>

#include "rewind/base/base64.h"

namespace rwd {

Result<Bytes> HmacSha256(std::string_view key, std::string_view data) {
  Bytes mac(32);
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), mac.size(),
                &len) == nullptr ||
      len != mac.size()) {
    return Err(Code::kInternal, "HMAC-SHA256 failed");
  }
  return mac;
}

Result<std::string> EncodeJwt(std::string_view alg, std::string_view claims_json, const JwsSigner& sign,
                              std::string_view key_id) {
  [[maybe_unused]] auto plain = [](std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    });
  };
  assert(!alg.empty() && plain(alg) && plain(key_id));
  const std::string header = "{\"alg\":\"" + std::string(alg) + "\"" +
                             (key_id.empty() ? std::string() : ",\"kid\":\"" + std::string(key_id) + "\"") +
                             ",\"typ\":\"JWT\"}";
  std::string token = Base64UrlEncode(AsBytes(header)) + "." + Base64UrlEncode(AsBytes(claims_json));
  REWIND_ASSIGN_OR_RETURN(const Bytes signature, sign(token));
  return token + "." + Base64UrlEncode(signature);
}

Result<std::string> SignJwtHs256(std::string_view claims_json, std::string_view secret) {
  if (secret.size() < kMinHs256SecretBytes) {
    return Err(Code::kInvalidArgument,
               "an HS256 secret has at least " + std::to_string(kMinHs256SecretBytes) + " bytes");
  }
  return EncodeJwt("HS256", claims_json, [&](std::string_view input) { return HmacSha256(secret, input); });
}

}  // namespace rwd
