#include "tests/support/io_faults.h"

#include <dlfcn.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <cstdio>
#include <string_view>

namespace rwd::test::io_faults {
namespace {

std::atomic<bool> armed{false};
std::mutex mu;
Plan plan;                      // guarded by mu
std::uint64_t calls = 0;        // guarded by mu
bool fired = false;             // guarded by mu
Op fired_op = Op::kWrite;       // guarded by mu

bool UnderDirectory(int fd, const std::string& dir) {
  char link[64], target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target);
  if (n <= 0 || static_cast<std::size_t>(n) <= dir.size()) return false;
  return std::string_view(target, static_cast<std::size_t>(n)).starts_with(dir + "/");
}

enum class Verdict { kPass, kFail, kTear };

// Counts a call on `fd` and decides its fate; sets errno for a failure.
Verdict Decide(int fd, Op op) {
  if (!armed.load(std::memory_order_acquire)) return Verdict::kPass;
  std::lock_guard<std::mutex> lock(mu);
  if (!UnderDirectory(fd, plan.directory)) return Verdict::kPass;
  ++calls;
  const bool now = plan.fail_at != 0 && calls == plan.fail_at;
  const bool after = fired && plan.mode == Mode::kSticky;
  if (!now && !after) return Verdict::kPass;
  if (now) {
    fired = true;
    fired_op = op;
  }
  errno = plan.error;
  return now && plan.mode == Mode::kTorn && op == Op::kWrite ? Verdict::kTear : Verdict::kFail;
}

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

void Arm(const Plan& p) {
  std::lock_guard<std::mutex> lock(mu);
  plan = p;
  calls = 0;
  fired = false;
  armed.store(true, std::memory_order_release);
}

void Disarm() { armed.store(false, std::memory_order_release); }

std::uint64_t Calls() {
  std::lock_guard<std::mutex> lock(mu);
  return calls;
}

bool Fired() {
  std::lock_guard<std::mutex> lock(mu);
  return fired;
}

Op FiredOp() {
  std::lock_guard<std::mutex> lock(mu);
  return fired_op;
}

}  // namespace rwd::test::io_faults

// The interposed calls. A torn write writes its first half for real and
// reports that count, as a disk that fails part way through a request.
using rwd::test::io_faults::Op;
using Verdict = rwd::test::io_faults::Verdict;

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static const auto real = rwd::test::io_faults::Real<ssize_t (*)(int, const void*, size_t)>("write");
  switch (rwd::test::io_faults::Decide(fd, Op::kWrite)) {
    case Verdict::kPass: return real(fd, buf, n);
    case Verdict::kTear: return real(fd, buf, n / 2);
    case Verdict::kFail: return -1;
  }
  return -1;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  static const auto real = rwd::test::io_faults::Real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  switch (rwd::test::io_faults::Decide(fd, Op::kWrite)) {
    case Verdict::kPass: return real(fd, buf, n, offset);
    case Verdict::kTear: return real(fd, buf, n / 2, offset);
    case Verdict::kFail: return -1;
  }
  return -1;
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  static const auto real = rwd::test::io_faults::Real<ssize_t (*)(int, const struct iovec*, int)>("writev");
  switch (rwd::test::io_faults::Decide(fd, Op::kWrite)) {
    case Verdict::kPass: return real(fd, iov, count);
    case Verdict::kTear: {
      if (count <= 0) return real(fd, iov, count);
      struct iovec half = iov[0];
      half.iov_len /= 2;
      return real(fd, &half, 1);
    }
    case Verdict::kFail: return -1;
  }
  return -1;
}

int fsync(int fd) {
  static const auto real = rwd::test::io_faults::Real<int (*)(int)>("fsync");
  return rwd::test::io_faults::Decide(fd, Op::kSync) == Verdict::kPass ? real(fd) : -1;
}

int fdatasync(int fd) {
  static const auto real = rwd::test::io_faults::Real<int (*)(int)>("fdatasync");
  return rwd::test::io_faults::Decide(fd, Op::kSync) == Verdict::kPass ? real(fd) : -1;
}

}  // extern "C"
