#include "executor/src/handler_slots.h"

#include <boost/asio/defer.hpp>

#include <utility>

namespace rwd::engine_internal {

void HandlerSlots::Run(std::function<void()> work) {
  {
    MutexLock lock(mu_);
    if (closed_) return;  // the engine is closing: the attempt is retried after the next Open
    if (running_ == slots_) {
      waiting_.push_back(std::move(work));
      return;
    }
    ++running_;
  }
  Start(std::move(work));
}

void HandlerSlots::Start(std::function<void()> work) {
  boost::asio::defer(io_, [this, work = std::move(work)] {
    // The slot passes on however the work ends.
    struct Release {
      HandlerSlots* slots;
      ~Release() { slots->Finished(); }
    } release{this};
    if (!Closed()) work();
  });
}

bool HandlerSlots::Closed() {
  MutexLock lock(mu_);
  return closed_;
}

void HandlerSlots::Finished() {
  std::function<void()> next;
  {
    MutexLock lock(mu_);
    if (waiting_.empty()) {
      --running_;
      if (running_ == 0) idle_.NotifyAll();
      return;
    }
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  Start(std::move(next));  // the slot passes on (a closed one runs nothing)
}

void HandlerSlots::Close() {
  MutexLock lock(mu_);
  closed_ = true;
}

void HandlerSlots::Drain() {
  Close();
  MutexLock lock(mu_);
  while (running_ != 0) lock.Wait(idle_);
}

}  // namespace rwd::engine_internal
