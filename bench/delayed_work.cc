#include "bench/delayed_work.h"

#include <algorithm>
#include <utility>

namespace rwd::bench {

DelayedWork::DelayedWork(unsigned threads) {
  timer_ = std::thread([this] { TimerLoop(); });
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

DelayedWork::~DelayedWork() { Stop(); }

bool DelayedWork::Later(const Timed& a, const Timed& b) {
  return a.due != b.due ? a.due > b.due : a.order > b.order;
}

void DelayedWork::After(std::chrono::microseconds delay, std::function<void()> work) {
  const Clock::time_point due = Clock::now() + std::max(delay, std::chrono::microseconds(0));
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  timed_.push_back(Timed{due, next_order_++, std::move(work)});
  std::push_heap(timed_.begin(), timed_.end(), Later);
  // Only a new earliest piece changes how long the timer sleeps.
  if (timed_.front().order == next_order_ - 1) timer_cv_.notify_one();
}

void DelayedWork::Now(std::function<void()> work) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  ready_.push_front(std::move(work));
  ready_cv_.notify_one();
}

std::size_t DelayedWork::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timed_.size() + ready_.size();
}

std::size_t DelayedWork::Stop() {
  std::size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return 0;
    stopping_ = true;
    dropped = timed_.size() + ready_.size();
    timed_.clear();
    ready_.clear();
  }
  timer_cv_.notify_all();
  ready_cv_.notify_all();
  timer_.join();
  for (std::thread& t : workers_) t.join();
  return dropped;
}

void DelayedWork::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (timed_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    const Clock::time_point due = timed_.front().due;
    if (due > Clock::now()) {
      timer_cv_.wait_until(lock, due);
      continue;
    }
    std::pop_heap(timed_.begin(), timed_.end(), Later);
    ready_.push_back(std::move(timed_.back().work));
    timed_.pop_back();
    ready_cv_.notify_one();
  }
}

void DelayedWork::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ready_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    std::function<void()> work = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    work();
    work = nullptr;  // whatever it holds is released outside the lock
    lock.lock();
  }
}

}  // namespace rwd::bench
