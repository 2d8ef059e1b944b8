// HandlerSlots: step handlers on the engine's own io_context, at most N at once.
//
// The io_context runs on N + 1 threads. A handler is started with
// asio::defer: started from a strand (a run's decision to dispatch a step),
// it is queued on that thread, which takes it up once the strand's ready
// work is done (another thread may, when work was queued before it), and the
// outcome it defers back to the run's strand follows it the same way: a
// quick handler usually costs no thread hand-off at all. At most N handlers
// run at once, the rest wait in arrival order, so one thread is always left
// for the strands and timers however long handlers block: a run is never
// kept from answering a request, a timeout or a cancel by others' handlers.
//
// Thread-safety: Run, Close and Drain may be called from any thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <deque>
#include <functional>

#include "rewind/base/mutex.h"

namespace rwd::engine_internal {

class HandlerSlots {
 public:
  // `io` must outlive this; `slots` >= 1, and `io` run by more threads than that.
  HandlerSlots(boost::asio::io_context& io, unsigned slots) : io_(io), slots_(slots) {}

  // Runs `work` on the io_context when a slot is free; in arrival order.
  // Once Close was called, nothing more is run: work given then, or still
  // waiting for a slot, is dropped (its attempt is retried after the next
  // Open, as an attempt in flight at a crash is).
  void Run(std::function<void()> work) REWIND_EXCLUDES(mu_);
  // Closes the slots; handlers running go on. Called before the running
  // ones are asked to stop, so that no waiting one takes a slot they free.
  void Close() REWIND_EXCLUDES(mu_);
  // Closes the slots and waits until every handler running has returned.
  void Drain() REWIND_EXCLUDES(mu_);

 private:
  void Start(std::function<void()> work);
  bool Closed() REWIND_EXCLUDES(mu_);
  void Finished() REWIND_EXCLUDES(mu_);

  boost::asio::io_context& io_;
  const unsigned slots_;
  Mutex mu_;
  unsigned running_ REWIND_GUARDED_BY(mu_) = 0;  // slots taken, by work running or about to
  bool closed_ REWIND_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> waiting_ REWIND_GUARDED_BY(mu_);
  CondVar idle_;
};

}  // namespace rwd::engine_internal
