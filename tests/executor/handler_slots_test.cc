// HandlerSlots: step handlers on the engine's io_context, at most N at once,
// and nothing started once the slots are closed.
#include "executor/src/handler_slots.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace rwd::engine_internal {
namespace {

using namespace std::chrono_literals;

class HandlerSlotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  static void AwaitTrue(const std::atomic<bool>& flag) {
    while (!flag) std::this_thread::sleep_for(1ms);
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
};

TEST_F(HandlerSlotsTest, WorkBeyondTheSlotsWaitsAndRunsInArrivalOrder) {
  HandlerSlots slots(io_, 1);
  std::atomic<bool> release{false}, holding{false};
  std::atomic<int> order{0}, second{-1}, third{-1};
  slots.Run([&] {
    holding = true;
    AwaitTrue(release);
  });
  AwaitTrue(holding);
  slots.Run([&] { second = order++; });
  slots.Run([&] { third = order++; });
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(order.load(), 0) << "work ran while the only slot was held";
  release = true;
  slots.Drain();  // closes, and waits for what runs
  EXPECT_LE(order.load(), 2);
  if (order.load() == 2) {
    EXPECT_LT(second.load(), third.load());
  }
}

// The engine's close: the slots are closed before the running handlers are
// asked to stop. A handler that then returns at once frees its slot, and the
// work waiting for it must not start in it.
TEST_F(HandlerSlotsTest, OnceClosedAFreedSlotStartsNoWaitingWork) {
  for (int round = 0; round < 50; ++round) {
    HandlerSlots slots(io_, 1);
    std::atomic<bool> stop{false}, holding{false}, waiting_ran{false};
    slots.Run([&] {
      holding = true;
      AwaitTrue(stop);
    });
    AwaitTrue(holding);
    slots.Run([&] { waiting_ran = true; });
    slots.Close();
    stop = true;  // the running handler returns and frees its slot
    std::this_thread::sleep_for(2ms);
    slots.Drain();
    EXPECT_FALSE(waiting_ran) << "round " << round;
    slots.Run([&] { waiting_ran = true; });  // given after the close: dropped too
    std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(waiting_ran) << "round " << round;
  }
}

}  // namespace
}  // namespace rwd::engine_internal
