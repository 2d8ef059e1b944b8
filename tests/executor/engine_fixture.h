// Shared setup of the engine tests: an engine on a temporary journal, principals,
// handlers that count their calls, and a few waiting helpers.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "rewind/executor/engine.h"
#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {

inline Principal Operator(std::string tenant = "default") {
  return Principal{std::move(tenant), "ops", {std::string(kOperatorRole)}};
}
inline Principal User(std::string tenant = "default") { return Principal{std::move(tenant), "user", {}}; }

// Counts calls per step id; thread-safe.
class Calls {
 public:
  void Add(const std::string& step) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[step];
  }
  int operator[](const std::string& step) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(step);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> calls_;
};

// A handler that records its call and returns "<id>-out", failing the first
// `failures` calls (retryably).
inline StepHandler Counting(std::shared_ptr<Calls> calls, int failures = 0) {
  auto left = std::make_shared<std::atomic<int>>(failures);
  return [calls, left](const StepContext& c) -> Result<Bytes> {
    calls->Add(c.step->id);
    if (left->fetch_sub(1) > 0) return Err(Code::kUnavailable, "transient failure");
    return ToBytes(c.step->id + "-out");
  };
}

// A gate handlers wait at until the test opens it: steps that stay "running"
// for as long as a test needs, without sleeping.
class Gate {
 public:
  void Wait() const { opened_.wait(); }
  void Open() { open_->set_value(); }
  // A handler that waits at the gate, then returns an empty output.
  StepHandler Handler() const {
    return [opened = opened_](const StepContext&) -> Result<Bytes> {
      opened.wait();
      return Bytes{};
    };
  }

 private:
  std::shared_ptr<std::promise<void>> open_ = std::make_shared<std::promise<void>>();
  std::shared_future<void> opened_ = open_->get_future().share();
};

class EngineTest : public ::testing::Test {
 protected:
  EngineOptions Options() {
    EngineOptions o;
    o.journal.directory = dir_.Sub("journal");
    o.journal.durability = Durability::kNoSync;
    return o;
  }
  void Open(std::vector<Workflow> workflows) {
    EngineOptions o = Options();
    o.workflows = std::move(workflows);
    Open(std::move(o));
  }
  void Open(EngineOptions o) {
    engine_.reset();
    auto e = Engine::Open(std::move(o));
    ASSERT_THAT(e, IsOk());
    engine_ = std::move(*e);
  }
  RunId StartRun(const std::string& workflow, Principal who = User()) {
    auto run = engine_->Start(StartRequest{workflow, ToBytes("input"), "", std::move(who)});
    EXPECT_THAT(run, IsOk());
    return run.value_or(RunId());
  }
  RunState AwaitStopped(const RunId& run) {
    auto s = engine_->Await(run, User(), std::chrono::seconds(20));
    EXPECT_THAT(s, IsOk());
    return s.value_or(RunState());
  }
  ResumeRequest Resume(const RunId& run, std::string from = "") {
    ResumeRequest r;
    r.run = run;
    r.from_step = std::move(from);
    r.actor = Operator();
    r.reason = "test";
    return r;
  }
  std::vector<std::string> Types(const RunId& run) {
    std::vector<std::string> out;
    const auto events = engine_->Events(run, User());
    EXPECT_THAT(events, IsOk());
    for (const Event& e : events.value_or(std::vector<Event>{})) out.emplace_back(EventTypeName(e.body));
    return out;
  }
  std::size_t Count(const RunId& run, std::string_view type) {
    const auto types = Types(run);
    return static_cast<std::size_t>(std::count(types.begin(), types.end(), type));
  }

  TempDir dir_;
  std::shared_ptr<Calls> calls_ = std::make_shared<Calls>();
  std::unique_ptr<Engine> engine_;
};

}  // namespace rwd::test
