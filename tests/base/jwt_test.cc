#include "rewind/base/jwt.h"

#include <gtest/gtest.h>

#include "rewind/base/base64.h"
#include "tests/support/matchers.h"

namespace rwd {
namespace {

using test::HasCode;
using test::IsOk;

const std::string kSecret(32, 's');

TEST(JwtTest, HmacSha256MatchesRfc4231) {
  const auto mac = HmacSha256("Jefe", "what do ya want for nothing?");
  ASSERT_THAT(mac, IsOk());
  EXPECT_EQ(HexEncode(*mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(JwtTest, ATokenIsHeaderClaimsAndSignatureInBase64Url) {
  const auto token = SignJwtHs256(R"({"sub":"rewind"})", kSecret);
  ASSERT_THAT(token, IsOk());
  const std::size_t dot1 = token->find('.'), dot2 = token->rfind('.');
  EXPECT_EQ(token->substr(0, dot1), Base64UrlEncode(AsBytes(R"({"alg":"HS256","typ":"JWT"})")));
  EXPECT_EQ(token->substr(dot1 + 1, dot2 - dot1 - 1), Base64UrlEncode(AsBytes(R"({"sub":"rewind"})")));
  EXPECT_EQ(Base64UrlDecode(token->substr(dot2 + 1)), HmacSha256(kSecret, token->substr(0, dot2)).value());
}

TEST(JwtTest, AShortSecretIsRefused) {
  EXPECT_THAT(SignJwtHs256("{}", std::string(kMinHs256SecretBytes - 1, 's')), HasCode(Code::kInvalidArgument));
}

TEST(JwtTest, ASignersErrorIsTheResult) {
  const auto failing = [](std::string_view) -> Result<Bytes> { return Err(Code::kInternal, "no key"); };
  EXPECT_THAT(EncodeJwt("EdDSA", "{}", failing), HasCode(Code::kInternal));
}

}  // namespace
}  // namespace rwd
