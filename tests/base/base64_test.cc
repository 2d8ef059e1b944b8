#include "rewind/base/base64.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace rwd {
namespace {

TEST(Base64Test, TheRfc4648VectorsEncodeAndDecode) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    EXPECT_EQ(Base64Decode(encoded), ToBytes(plain)) << encoded;
  }
}

TEST(Base64Test, TheUrlAlphabetHasNoPaddingAndNoPlusOrSlash) {
  const Bytes bytes{0xfb, 0xff};
  EXPECT_EQ(Base64Encode(bytes), "+/8=");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8"), bytes);
  EXPECT_EQ(Base64UrlEncode(AsBytes("foobar")), "Zm9vYmFy");
}

TEST(Base64Test, OnlyTheOneSpellingOfAValueDecodes) {
  for (std::string_view bad : {"Zh==", "Zg", "Zg=", "Zg===", " Zg==", "Zg==\n", "Z===", "-_8=", "Zm9v\nYmFy"}) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
  }
  for (std::string_view bad : {"Zg==", "Zh", "+/8", "Z", "Zm9v YmFy"}) {
    EXPECT_EQ(Base64UrlDecode(bad), std::nullopt) << bad;
  }
}

RC_GTEST_PROP(Base64Property, DecodingAnEncodingGivesTheBytesBack, (const std::vector<std::uint8_t>& bytes)) {
  RC_ASSERT(Base64Decode(Base64Encode(bytes)) == bytes);
  RC_ASSERT(Base64UrlDecode(Base64UrlEncode(bytes)) == bytes);
  RC_ASSERT(Base64Encode(bytes).size() == (bytes.size() + 2) / 3 * 4);
}

RC_GTEST_PROP(Base64Property, WhateverDecodesEncodesToTheSameText, (const std::string& text)) {
  if (const auto bytes = Base64Decode(text)) RC_ASSERT(Base64Encode(*bytes) == text);
  if (const auto bytes = Base64UrlDecode(text)) RC_ASSERT(Base64UrlEncode(*bytes) == text);
}

}  // namespace
}  // namespace rwd
