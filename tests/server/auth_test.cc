#include "rewind/server/auth.h"
#include "rewind/server/local_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidcheck/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "rewind/base/bytes.h"
#include "rewind/journal/hash.h"
#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"

namespace rwd::server {
namespace {

using ::testing::HasSubstr;
using test::HasCode;

constexpr std::int64_t kNow = 1'800'000'000;
const std::string kSecret(40, 's');

// A fresh key pair in PEM: {private, public}.
std::pair<std::string, std::string> KeyPair(const char* type, const char* curve = nullptr) {
  EVP_PKEY* key = curve != nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  auto pem = [&](bool is_private) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (is_private) {
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio, key);
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  };
  std::pair<std::string, std::string> out{pem(true), pem(false)};
  EVP_PKEY_free(key);
  return out;
}

TokenClaims Ana() {
  return TokenClaims{.subject = "ana", .tenant = "acme", .roles = {"operator"}, .expires_unix = kNow + 600};
}

std::shared_ptr<const Authenticator> With(AuthOptions options) {
  auto a = Authenticator::Create(std::move(options));
  EXPECT_TRUE(a.has_value()) << a.error().ToString();
  return *a;
}

std::string Bearer(const std::string& token) { return "Bearer " + token; }

TEST(AuthTest, AnHs256TokenNamesItsPrincipal) {
  const auto auth = With({.hs256_secret = kSecret});
  const auto who = auth->Authenticate(Bearer(*MintHs256(Ana(), kSecret)), kNow);
  ASSERT_TRUE(who.has_value()) << who.error().ToString();
  EXPECT_EQ(who->subject, "ana");
  EXPECT_EQ(who->tenant, "acme");
  EXPECT_EQ(who->roles, std::vector<std::string>{"operator"});
}

// A local token (local_access.h) verifies with the local secret only, and
// only as one: its "kid" and "aud" say so, whatever audience is configured.
TEST(AuthTest, ALocalTokenVerifiesWithTheLocalSecretOnly) {
  const std::string local = NewLocalSecret();
  const auto auth = With({.hs256_secret = kSecret, .audience = "rewind-prod", .local_secret = local});
  const LocalAccess access{1, "http://127.0.0.1:1", local};
  const auto token = MintLocalToken(access, Principal{"acme", "root/ana", {"operator"}}, kNow);
  ASSERT_TRUE(token.has_value());
  const auto who = auth->Authenticate(Bearer(*token), kNow);
  ASSERT_TRUE(who.has_value()) << who.error().ToString();
  EXPECT_EQ(who->subject, "root/ana");
  EXPECT_EQ(who->tenant, "acme");
  EXPECT_THAT(auth->Authenticate(Bearer(*token), kNow + kLocalTokenSeconds + 60), HasCode(Code::kUnauthenticated))
      << "local tokens expire";
  // Signed with the configured secret but claiming to be local; local but
  // signed with another server's secret; local where no local secret is set.
  TokenClaims claims = Ana();
  claims.key_id = "local";
  claims.audience = "rewind-local";
  EXPECT_THAT(auth->Authenticate(Bearer(*MintHs256(claims, kSecret)), kNow), HasCode(Code::kUnauthenticated));
  const auto stale = MintLocalToken(LocalAccess{1, "", NewLocalSecret()}, Principal{"acme", "ana", {}}, kNow);
  EXPECT_THAT(auth->Authenticate(Bearer(*stale), kNow), HasCode(Code::kUnauthenticated));
  EXPECT_THAT(With({.hs256_secret = kSecret})->Authenticate(Bearer(*token), kNow), HasCode(Code::kUnauthenticated));
  // A local secret alone is a way to authenticate; a short one is refused.
  EXPECT_TRUE(Authenticator::Create({.local_secret = local}).has_value());
  EXPECT_THAT(Authenticator::Create({.local_secret = "short"}), HasCode(Code::kInvalidArgument));
}

// The local access file: written whole with its owner's permissions only,
// read back as written, removed by its server, left alone once another
// server has replaced it; a malformed one is an error naming it.
TEST(LocalAccessTest, TheFileIsItsServersWhileItRuns) {
  test::TempDir dir;
  const std::string path = dir.path() + "/" + std::string(kLocalAccessFile);
  EXPECT_EQ(*ReadLocalAccess(dir.path()), std::nullopt);
  const LocalAccess mine{42, LocalUrl("0.0.0.0", 8080), NewLocalSecret()};
  EXPECT_EQ(mine.url, "http://127.0.0.1:8080");
  EXPECT_EQ(LocalUrl("::", 1), "http://[::1]:1");
  EXPECT_EQ(mine.secret.size(), 64u);
  EXPECT_NE(mine.secret, NewLocalSecret());
  {
    auto file = LocalAccessFile::Publish(dir.path(), mine);
    ASSERT_TRUE(file.has_value()) << file.error().ToString();
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(*ReadLocalAccess(dir.path()), std::optional<LocalAccess>(mine));
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "removed by its server";
  {
    auto first = LocalAccessFile::Publish(dir.path(), mine);
    const LocalAccess next{43, "http://127.0.0.1:9", NewLocalSecret()};
    auto second = LocalAccessFile::Publish(dir.path(), next);
    ASSERT_TRUE(first.has_value() && second.has_value());
    first->reset();
    EXPECT_EQ(*ReadLocalAccess(dir.path()), std::optional<LocalAccess>(next)) << "another server's file stays";
  }
  std::ofstream(path) << "{\"pid\": \"x\"}";
  EXPECT_THAT(ReadLocalAccess(dir.path()), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(LocalAccessFile::Publish(dir.path() + "/missing", mine), HasCode(Code::kUnavailable));
}

TEST(AuthTest, EdDsaAndEs256TokensVerifyWithThePublicKey) {
  for (const auto& [priv, pub] : {KeyPair("ED25519"), KeyPair("EC", "P-256")}) {
    const auto auth = With({.public_key_pem = pub});
    auto token = MintSigned(Ana(), priv);
    ASSERT_TRUE(token.has_value()) << token.error().ToString();
    const auto who = auth->Authenticate(Bearer(*token), kNow);
    ASSERT_TRUE(who.has_value()) << who.error().ToString();
    EXPECT_EQ(who->subject, "ana");
    // Another key of the same kind does not verify it.
    const auto other = With({.public_key_pem = KeyPair("ED25519").second});
    EXPECT_THAT(other->Authenticate(Bearer(*token), kNow), HasCode(Code::kUnauthenticated));
  }
}

TEST(AuthTest, MissingMalformedExpiredAndEarlyTokensAreUnauthenticated) {
  const auto auth = With({.hs256_secret = kSecret, .leeway = std::chrono::seconds(30)});
  EXPECT_THAT(auth->Authenticate("", kNow), HasCode(Code::kUnauthenticated));
  EXPECT_THAT(auth->Authenticate("Basic YW5hOnB3", kNow), HasCode(Code::kUnauthenticated));
  EXPECT_THAT(auth->Authenticate("Bearer a.b.c", kNow), HasCode(Code::kUnauthenticated));
  EXPECT_THAT(auth->Authenticate("Bearer ...", kNow), HasCode(Code::kUnauthenticated));
  TokenClaims expired = Ana();
  expired.expires_unix = kNow - 31;
  const auto e = auth->Authenticate(Bearer(*MintHs256(expired, kSecret)), kNow);
  EXPECT_THAT(e, HasCode(Code::kUnauthenticated));
  EXPECT_THAT(e.error().message(), HasSubstr("expired"));
  expired.expires_unix = kNow - 29;  // within the leeway
  EXPECT_TRUE(auth->Authenticate(Bearer(*MintHs256(expired, kSecret)), kNow).has_value());
  TokenClaims early = Ana();
  early.not_before_unix = kNow + 31;
  EXPECT_THAT(auth->Authenticate(Bearer(*MintHs256(early, kSecret)), kNow), HasCode(Code::kUnauthenticated));
}

TEST(AuthTest, TheAudienceMustMatchWhenOneIsConfigured) {
  const auto auth = With({.hs256_secret = kSecret, .audience = "rewind-prod"});
  TokenClaims c = Ana();
  EXPECT_THAT(auth->Authenticate(Bearer(*MintHs256(c, kSecret)), kNow), HasCode(Code::kUnauthenticated));
  c.audience = "rewind-staging";
  EXPECT_THAT(auth->Authenticate(Bearer(*MintHs256(c, kSecret)), kNow), HasCode(Code::kUnauthenticated));
  c.audience = "rewind-prod";
  EXPECT_TRUE(auth->Authenticate(Bearer(*MintHs256(c, kSecret)), kNow).has_value());
}

// The algorithm is the configured key's, never the token's choice.
TEST(AuthTest, AlgNoneAndAlgorithmConfusionAreRefused) {
  const auto [priv, pub] = KeyPair("ED25519");
  const auto auth = With({.public_key_pem = pub});
  // An HS256 token whose secret is the public key's PEM: the classic confusion.
  const std::string confused = *MintHs256(Ana(), pub);
  EXPECT_THAT(auth->Authenticate(Bearer(confused), kNow), HasCode(Code::kUnauthenticated));
  // {"alg":"none"} with an empty signature.
  const std::string good = *MintSigned(Ana(), priv);
  const std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  const std::string none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".";
  EXPECT_THAT(auth->Authenticate(Bearer(none), kNow), HasCode(Code::kUnauthenticated));
}

// Any change to a signed token — one character of header, claims or
// signature — makes it fail, never authenticates someone else.
// A token that verified is remembered (auth.h), and only for its window of
// the clock: the same token is refused once expired or while not yet valid.
TEST(AuthTest, ARememberedTokenIsStillRefusedOutsideItsWindow) {
  const auto auth = With({.hs256_secret = kSecret, .leeway = std::chrono::seconds(30)});
  TokenClaims claims = Ana();
  claims.not_before_unix = kNow;
  const std::string token = Bearer(*MintHs256(claims, kSecret));
  ASSERT_TRUE(auth->Authenticate(token, kNow).has_value());
  ASSERT_TRUE(auth->Authenticate(token, kNow + 600 + 30).has_value());
  EXPECT_THAT(auth->Authenticate(token, kNow + 600 + 31), HasCode(Code::kUnauthenticated));
  EXPECT_THAT(auth->Authenticate(token, kNow - 31), HasCode(Code::kUnauthenticated));
  EXPECT_TRUE(auth->Authenticate(token, kNow - 30).has_value());
  // Past the cache's size every token still verifies, the first one too.
  for (int i = 0; i < 1100; ++i) {
    TokenClaims other = Ana();
    other.subject = "user" + std::to_string(i);
    const auto who = auth->Authenticate(Bearer(*MintHs256(other, kSecret)), kNow);
    ASSERT_TRUE(who.has_value());
    ASSERT_EQ(who->subject, other.subject);
  }
  EXPECT_EQ(auth->Authenticate(token, kNow)->subject, "ana");
}

RC_GTEST_PROP(AuthTest, AnAlteredTokenNeverAuthenticates, ()) {
  static const auto auth = With({.hs256_secret = kSecret});
  const std::string token = *MintHs256(Ana(), kSecret);
  RC_ASSERT(auth->Authenticate(Bearer(token), kNow).has_value());  // remembered: the altered one must not match it
  const auto at = *rc::gen::inRange<std::size_t>(0, token.size());
  const char c = *rc::gen::elementOf(std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."));
  RC_PRE(token[at] != c);
  std::string altered = token;
  altered[at] = c;
  const auto who = auth->Authenticate(Bearer(altered), kNow);
  // A base64url character whose low bits are unused may decode to the same
  // bytes: the one-spelling rule refuses that too.
  RC_ASSERT(!who.has_value());
  RC_ASSERT(who.error().code() == Code::kUnauthenticated);
}

TEST(AuthTest, ApiKeysAreLookedUpByTheirHash) {
  const std::string key = "rwk_0123456789abcdef0123456789abcdef";
  const auto auth = With({.api_keys = {ApiKey{HexEncode(Sha256(AsBytes(key))), Principal{"acme", "ci", {"viewer"}}}}});
  const auto who = auth->Authenticate(Bearer(key), kNow);
  ASSERT_TRUE(who.has_value()) << who.error().ToString();
  EXPECT_EQ(who->subject, "ci");
  EXPECT_THAT(auth->Authenticate(Bearer(key + "x"), kNow), HasCode(Code::kUnauthenticated));
}

TEST(AuthTest, AnApiKeysFileIsReadAndItsMistakesNamed) {
  test::TempDir dir;
  const std::string good = dir.Sub("keys.json"), bad = dir.Sub("bad.json");
  std::ofstream(good) << R"({"keys": [{"sha256": ")" << std::string(64, 'a')
                      << R"(", "subject": "ci", "tenant": "acme", "roles": ["operator"]}]})";
  std::ofstream(bad) << R"({"keys": [{"sha256": "x", "subject": "ci"}]})";
  const auto keys = LoadApiKeys(good);
  ASSERT_TRUE(keys.has_value()) << keys.error().ToString();
  EXPECT_EQ(keys->at(0).principal.roles, std::vector<std::string>{"operator"});
  const auto refused = LoadApiKeys(bad);
  EXPECT_THAT(refused, HasCode(Code::kInvalidArgument));
  EXPECT_THAT(refused.error().message(), HasSubstr("keys[0]"));
  EXPECT_THAT(LoadApiKeys(dir.Sub("missing.json")), HasCode(Code::kNotFound));
  EXPECT_THAT(Authenticator::Create({.api_keys = {ApiKey{"xyz", Principal{"acme", "ci", {}}}}}),
              HasCode(Code::kInvalidArgument));
}

TEST(AuthTest, NothingIsAnonymousUnlessConfigured) {
  EXPECT_THAT(Authenticator::Create({}), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(Authenticator::Create({.hs256_secret = "short"}), HasCode(Code::kInvalidArgument));
  const auto auth = With({.anonymous = Principal{"demo", "guest", {"viewer"}}});
  const auto who = auth->Authenticate("", kNow);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->subject, "guest");
}

TEST(AuthTest, ClaimsThatNameNoValidPrincipalAreRefused) {
  const auto auth = With({.hs256_secret = kSecret});
  TokenClaims c = Ana();
  c.tenant = "evil\ntenant";
  EXPECT_THAT(MintHs256(c, kSecret), HasCode(Code::kInvalidArgument));
  c = Ana();
  c.subject = "";
  EXPECT_THAT(MintHs256(c, kSecret), HasCode(Code::kInvalidArgument));
}

}  // namespace
}  // namespace rwd::server
