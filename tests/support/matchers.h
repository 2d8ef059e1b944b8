// GoogleTest matchers for Status and Result<T> that print the status on failure:
//   EXPECT_THAT(journal->Append(...), IsOk());
//   EXPECT_THAT(journal->Append(...), HasCode(Code::kConflict));
#pragma once

#include <gmock/gmock.h>

#include <ostream>

#include "rewind/base/status.h"

namespace rwd {

inline void PrintTo(const Status& s, std::ostream* os) { *os << s.ToString(); }

namespace test {

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.has_value() ? Status() : r.error();
}

MATCHER(IsOk, "is ok") {
  const Status s = StatusOf(arg);
  *result_listener << s.ToString();
  return s.ok();
}

MATCHER_P(HasCode, code, std::string("has code ") + std::string(CodeName(code))) {
  const Status s = StatusOf(arg);
  *result_listener << s.ToString();
  return s.code() == code;
}

}  // namespace test
}  // namespace rwd
