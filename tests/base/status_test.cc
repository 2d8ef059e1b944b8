#include "rewind/base/status.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/support/matchers.h"

namespace rwd {
namespace {

using test::HasCode;
using test::IsOk;

Result<int> Half(int x) {
  if (x % 2 != 0) return Err(Code::kInvalidArgument, std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  REWIND_ASSIGN_OR_RETURN(int half, Half(x));
  return Half(half);
}

Status CheckEven(int x) {
  REWIND_RETURN_IF_ERROR(Half(x));
  return Status::Ok();
}

TEST(StatusTest, DefaultIsOkAndPrintsOk) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().ToString(), "ok");
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
  EXPECT_EQ(Status(Code::kNotFound, "run x is unknown").ToString(), "not_found: run x is unknown");
}

TEST(StatusTest, WithContextKeepsCodeAndPrefixesMessage) {
  const Status s = Status(Code::kCorruption, "bad checksum").WithContext("reading run x");
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.message(), "reading run x: bad checksum");
}

TEST(StatusTest, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  const Result<int> r = Quarter(6);
  ASSERT_THAT(r, HasCode(Code::kInvalidArgument));
  EXPECT_EQ(r.error().message(), "3 is odd");
}

TEST(StatusTest, ReturnIfErrorWorksInStatusFunctions) {
  EXPECT_THAT(CheckEven(4), IsOk());
  EXPECT_THAT(CheckEven(5), HasCode(Code::kInvalidArgument));
}

TEST(StatusTest, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(Code::kUnauthenticated); ++c) {
    names.insert(CodeName(static_cast<Code>(c)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(Code::kUnauthenticated) + 1);
}

}  // namespace
}  // namespace rwd
