#include "rewind/base/run_id.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <thread>

#include "tests/support/matchers.h"

namespace rwd {
namespace {

using test::HasCode;

RC_GTEST_PROP(RunIdTest, ParseOfToStringIsIdentity, (const std::array<std::uint8_t, 16>& bytes)) {
  const RunId id(bytes);
  const auto parsed = RunId::Parse(id.ToString());
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(*parsed == id);
}

TEST(RunIdTest, NewIdsAreNonZeroAndDistinct) {
  const RunId a = RunId::New();
  const RunId b = RunId::New();
  EXPECT_FALSE(a.IsZero());
  EXPECT_NE(a, b);
}

TEST(RunIdTest, NewIdsStartWithTheTimeSoLaterRunsSortAfter) {
  const RunId a = RunId::New();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the next millisecond
  EXPECT_LT(a, RunId::New());
}

TEST(RunIdTest, ParseAcceptsUpperCase) {
  EXPECT_EQ(RunId::Parse("000102030405060708090A0B0C0D0E0F")->ToString(),
            "000102030405060708090a0b0c0d0e0f");
}

TEST(RunIdTest, ParseRejectsWrongLengthAndNonHex) {
  EXPECT_THAT(RunId::Parse("abc"), HasCode(Code::kInvalidArgument));
  EXPECT_THAT(RunId::Parse("zz0102030405060708090a0b0c0d0e0f"), HasCode(Code::kInvalidArgument));
}

}  // namespace
}  // namespace rwd
