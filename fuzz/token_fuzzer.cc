// Bearer credentials (rewind/server/auth.h) on arbitrary bytes, as a server
// reads an Authorization header. Authenticate must never crash, throw or
// accept what nobody signed: with an HS256 secret, an Ed25519 public key and
// one API key configured, an input authenticates only as the principal of a
// token minted here (the seeds hold one of each kind) — any other answer is
// Unauthenticated, and its message never repeats the credential.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "rewind/base/bytes.h"
#include "rewind/journal/hash.h"
#include "rewind/server/auth.h"

namespace {

constexpr const char* kPublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA6ZMb7XBA+zEuad526sjosnVYFAbc/9MrcPTOwoMSokc=\n"
    "-----END PUBLIC KEY-----\n";

const rwd::server::Authenticator& Auth() {
  static const auto auth = [] {
    rwd::server::AuthOptions o;
    o.hs256_secret = std::string(32, 'f');
    o.public_key_pem = kPublicKey;
    o.audience = "rewind";
    o.api_keys.push_back(rwd::server::ApiKey{rwd::HexEncode(rwd::Sha256(rwd::AsBytes("rwk_fuzz_key"))),
                                             rwd::Principal{"acme", "robot", {"viewer"}}});
    auto a = rwd::server::Authenticator::Create(std::move(o));
    FUZZ_CHECK(a.has_value());
    return *a;
  }();
  return *auth;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const std::string& header : {text, "Bearer " + text}) {
    const auto who = Auth().Authenticate(header, 1'800'000'000);
    if (who.has_value()) {
      FUZZ_CHECK(who->subject == "ana" || who->subject == "robot");
    } else {
      FUZZ_CHECK(who.error().code() == rwd::Code::kUnauthenticated);
      // An error never echoes the credential (one with a byte no message has).
      const bool odd = std::any_of(text.begin(), text.end(), [](char c) { return c < 0x20 || c > 0x7e; });
      if (odd) FUZZ_CHECK(who.error().message().find(text) == std::string::npos);
    }
  }
  return 0;
}
