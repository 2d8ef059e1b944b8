// DelayedWork: callbacks run after a delay on threads of their own.
//
// What a load test's operators and external services do later (approve a
// gate, deliver a signal, resume a failed run) is queued here with its delay,
// so none of it waits on an engine thread and no thread sleeps per pending
// piece of work. One timer thread hands work whose time has come, earliest
// first, to `threads` worker threads; the work may block (an engine call that
// waits until its event is durable): while every worker is busy, due work
// waits for one, so a delay is a lower bound.
//
// Thread-safety: After and pending may be called from any thread, also from
// inside the work. Stop and the destructor must not be called from the work.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rwd::bench {

class DelayedWork {
 public:
  // Starts the timer thread and `threads` workers. REQUIRES: threads >= 1.
  explicit DelayedWork(unsigned threads);
  // Stop().
  ~DelayedWork();
  DelayedWork(const DelayedWork&) = delete;
  DelayedWork& operator=(const DelayedWork&) = delete;

  // Runs `work` on a worker once `delay` has passed (a negative delay counts
  // as none). Dropped without running once Stop was called.
  void After(std::chrono::microseconds delay, std::function<void()> work);

  // Runs `work` on the next free worker, ahead of all work already due: for
  // work that must not wait behind a backlog. Dropped once Stop was called.
  void Now(std::function<void()> work);

  // Pieces of work queued and not yet taken by a worker (waiting for their
  // time or for a free worker). Work being run does not count.
  std::size_t pending() const;

  // Takes no more work, drops what is queued, waits for the work being run
  // and joins the threads. Returns how many pieces were dropped. Idempotent
  // (a second call returns 0).
  std::size_t Stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Timed {
    Clock::time_point due;
    std::uint64_t order;  // ties run in the order they were queued
    std::function<void()> work;
  };
  // The heap's order: the earliest due (then the first queued) on top.
  static bool Later(const Timed& a, const Timed& b);

  void TimerLoop();
  void WorkerLoop();

  mutable std::mutex mu_;  // guards everything below but the threads
  std::condition_variable timer_cv_;  // the timer: new earliest work, or stopping
  std::condition_variable ready_cv_;  // the workers: ready work, or stopping
  std::vector<Timed> timed_;          // a heap ordered by Later
  std::deque<std::function<void()>> ready_;
  std::uint64_t next_order_ = 0;
  bool stopping_ = false;
  std::thread timer_;
  std::vector<std::thread> workers_;
};

}  // namespace rwd::bench
