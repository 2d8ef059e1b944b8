#include "rewind/base/bytes.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace rwd {
namespace {

RC_GTEST_PROP(BytesTest, HexDecodeOfHexEncodeIsIdentity, (const std::vector<std::uint8_t>& bytes)) {
  const std::string hex = HexEncode(bytes);
  RC_ASSERT(hex.size() == 2 * bytes.size());
  Bytes back(bytes.size());
  RC_ASSERT(HexDecode(hex, back));
  RC_ASSERT(back == bytes);
}

TEST(BytesTest, HexDecodeRejectsOddLengthAndBadDigits) {
  Bytes out(2);
  EXPECT_FALSE(HexDecode("abc", out));
  EXPECT_FALSE(HexDecode("ab-d", out));
  EXPECT_TRUE(HexDecode("ABcd", out));
  EXPECT_EQ(out, (Bytes{0xab, 0xcd}));
}

}  // namespace
}  // namespace rwd
