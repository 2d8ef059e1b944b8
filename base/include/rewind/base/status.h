// Status and Result<T>: how every Rewind call reports an expected failure.
//
// Rewind's C++ namespace is `rwd`: `rewind` is already taken by stdio's
// ::rewind(FILE*), and a namespace cannot share a name with a function.
//
// A Status is a code from a small closed set plus a message a person can act
// on ("run 3f2a…: expected seq 4 but the run is at 6"). Codes exist only where
// a caller would branch on them; everything else is in the message.
//
// Result<T> is std::expected<T, Status>. Functions return errors as values and
// never throw; bugs are asserts. Both types are cheap to move; an ok Status holds
// no allocation. Thread-safety: values, no shared state.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace rwd {

enum class Code : unsigned char {
  kOk = 0,
  kNotFound,            // unknown run, step, file or key (also: another tenant's run)
  kConflict,            // optimistic-concurrency mismatch or a state that forbids the call
  kFailedPrecondition,  // the request is well-formed but the system is not in a state for it
  kPermissionDenied,    // the actor may not do this
  kInvalidArgument,     // the request itself is malformed
  kCorruption,          // stored or received bytes fail their checks
  kUnavailable,         // cannot serve now (poisoned journal, shut down); may succeed later
  kResourceExhausted,   // out of space or over a configured limit
  kInternal,            // an invariant of Rewind itself broke, or an unexpected library error
  kUnauthenticated,     // no credentials, or ones that are malformed, expired or forged
};

// Stable lower-case name of a code ("not_found"), used in messages and JSON.
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  // Lets `return std::unexpected(status);` work in functions returning Status too.
  Status(std::unexpected<Status> u) : Status(std::move(u).error()) {}  // NOLINT: implicit

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "not_found: run 3f2a… is unknown"; "ok" for an ok status.
  std::string ToString() const;

  // A copy with `context: ` put before the message, for adding where an error
  // surfaced without losing its code.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Status>;

// Shorthand for the error side: `return Err(Code::kNotFound, "run … is unknown");`
inline std::unexpected<Status> Err(Code code, std::string message) {
  return std::unexpected<Status>(Status(code, std::move(message)));
}
inline std::unexpected<Status> Err(Status status) {
  return std::unexpected<Status>(std::move(status));
}

namespace internal {
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.has_value() ? Status() : r.error();
}
}  // namespace internal

}  // namespace rwd

#define REWIND_CONCAT_INNER(a, b) a##b
#define REWIND_CONCAT(a, b) REWIND_CONCAT_INNER(a, b)

// Returns the error of a Status or Result expression from the enclosing function
// (which returns Status or Result<U>).
#define REWIND_RETURN_IF_ERROR(expr) \
  REWIND_RETURN_IF_ERROR_IMPL(REWIND_CONCAT(rewind_status_, __COUNTER__), expr)
#define REWIND_RETURN_IF_ERROR_IMPL(status, expr)                                          \
  do {                                                                                     \
    if (::rwd::Status status = ::rwd::internal::StatusOf(expr); !status.ok())              \
      return ::rwd::Err(std::move(status));                                                \
  } while (false)

// `REWIND_ASSIGN_OR_RETURN(auto x, MakeX());` binds the value or returns the error.
#define REWIND_ASSIGN_OR_RETURN(lhs, expr) \
  REWIND_ASSIGN_OR_RETURN_IMPL(REWIND_CONCAT(rewind_result_, __COUNTER__), lhs, expr)
#define REWIND_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)        \
  auto tmp = (expr);                                        \
  if (!tmp.has_value()) return ::rwd::Err(std::move(tmp).error()); \
  lhs = std::move(*tmp)
