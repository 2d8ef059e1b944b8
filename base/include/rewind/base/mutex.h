// Mutex, MutexLock and CondVar: Rewind's locks, written so that clang's
// thread-safety analysis checks who holds what.
//
// A Mutex is a capability: data it protects is declared
// `REWIND_GUARDED_BY(mu_)`, and a function that must be called with it held is
// declared `REWIND_REQUIRES(mu_)` (one that takes it itself may say
// `REWIND_EXCLUDES(mu_)`). The only way to hold a Mutex is a MutexLock, which
// locks it for its scope (RAII); it is neither copyable nor movable. Under
// clang the project builds with -Wthread-safety -Werror=thread-safety, so
// touching guarded data without the lock, or calling a REQUIRES function
// without it, fails the build; under g++ the macros expand to nothing and the
// types are plain std::mutex, std::unique_lock and std::condition_variable.
//
// Waiting: a CondVar is waited on through the MutexLock that holds the mutex
// it pairs with, in a loop on the condition, so that the condition is read
// where the analysis sees the lock held:
//
//   MutexLock lock(mu_);
//   while (queue_.empty() && !stopping_) lock.Wait(wake_);
//
// There are no predicate overloads: a lambda is analysed as a function of its
// own, which does not hold the lock. A wait may wake spuriously; the loop is
// what makes it correct. For a bounded wait, compute one deadline and loop on
// WaitUntil (a relative wait in a loop would restart at each wake-up).
//
// What the analysis does not see: a pointer or reference to guarded data
// kept after the lock is released, and a caller's lock inside a lambda (a
// lambda that touches guarded data takes the lock itself).
// REWIND_NO_THREAD_SAFETY_ANALYSIS turns it off for one function; every use
// says why.
//
// Thread-safety: Mutex and CondVar are shared between threads; a MutexLock
// belongs to the thread that made it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define REWIND_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define REWIND_THREAD_ANNOTATION_(x)
#endif

// On a class: its objects are capabilities named `name` in diagnostics.
#define REWIND_CAPABILITY(name) REWIND_THREAD_ANNOTATION_(capability(name))
// On a class: an RAII object that holds a capability for its lifetime.
#define REWIND_SCOPED_CAPABILITY REWIND_THREAD_ANNOTATION_(scoped_lockable)
// On a data member: read or written only with `mu` held.
#define REWIND_GUARDED_BY(mu) REWIND_THREAD_ANNOTATION_(guarded_by(mu))
// On a pointer member: what it points to is read or written only with `mu` held.
#define REWIND_PT_GUARDED_BY(mu) REWIND_THREAD_ANNOTATION_(pt_guarded_by(mu))
// On a function: callers hold the capabilities.
#define REWIND_REQUIRES(...) REWIND_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
// On a function: it acquires the capabilities (none named: its own object).
#define REWIND_ACQUIRE(...) REWIND_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
// On a function: it releases the capabilities (none named: its own object).
#define REWIND_RELEASE(...) REWIND_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
// On a function: callers must not hold the capabilities (it takes them).
#define REWIND_EXCLUDES(...) REWIND_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// On a function: not analysed. Only with a comment saying why it has to be.
#define REWIND_NO_THREAD_SAFETY_ANALYSIS REWIND_THREAD_ANNOTATION_(no_thread_safety_analysis)

namespace rwd {

class CondVar;

// A std::mutex the analysis knows about. Not recursive: a thread that holds
// it must not lock it again.
class REWIND_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex from construction to destruction (a std::unique_lock on it),
// and waits on CondVars paired with that mutex.
class REWIND_SCOPED_CAPABILITY MutexLock {
 public:
  // Blocks until `mu` is held. REQUIRES: this thread does not hold `mu`.
  explicit MutexLock(Mutex& mu) REWIND_ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() REWIND_RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Releases the mutex, blocks until `cv` is notified (or wakes spuriously),
  // and holds the mutex again before returning. Call in a loop on the condition.
  inline void Wait(CondVar& cv);
  // Wait, but gives up at `deadline`: false when it returns because the
  // deadline passed (the mutex is held again either way).
  template <typename Clock, typename Duration>
  bool WaitUntil(CondVar& cv, const std::chrono::time_point<Clock, Duration>& deadline);

 private:
  std::unique_lock<std::mutex> lock_;
};

// A std::condition_variable, waited on only through MutexLock. Every waiter
// on one CondVar uses the same Mutex. Notifying needs no lock.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  friend class MutexLock;
  std::condition_variable cv_;
};

inline void MutexLock::Wait(CondVar& cv) { cv.cv_.wait(lock_); }

template <typename Clock, typename Duration>
bool MutexLock::WaitUntil(CondVar& cv, const std::chrono::time_point<Clock, Duration>& deadline) {
  return cv.cv_.wait_until(lock_, deadline) == std::cv_status::no_timeout;
}

}  // namespace rwd
