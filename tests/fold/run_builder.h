// Terse construction of definitions and event sequences for fold and decider tests.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "rewind/fold/run_state.h"
#include "rewind/schemas/events.h"
#include "tests/support/matchers.h"

namespace rwd::test {

// A step: id, kind, dependencies by index; retry budget `attempts`.
inline StepDef Def(std::string id, std::initializer_list<std::uint32_t> deps = {},
                   StepKind kind = StepKind::kCode, std::uint32_t attempts = 1) {
  StepDef d;
  d.id = std::move(id);
  d.kind = kind;
  d.depends_on = deps;
  d.retry.max_attempts = attempts;
  if (kind == StepKind::kSignal) d.handler = "go";
  return d;
}

inline RunStarted Definition(std::vector<StepDef> steps) {
  RunStarted r;
  r.workflow = "test";
  r.version = 1;
  r.steps = std::move(steps);
  return r;
}

// Applies events one by one, failing the test on the first refusal.
class RunBuilder {
 public:
  explicit RunBuilder(RunStarted definition) {
    state_.run = RunId::New();
    Apply(std::move(definition));
  }
  RunBuilder& Apply(EventBody body) {
    const Status s = Evolve(state_, Event{static_cast<std::int64_t>(state_.seq + 1), std::nullopt,
                                          kSchemaVersion, std::move(body)});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return *this;
  }
  // Starts and completes one attempt of `step` in its current epoch.
  RunBuilder& Complete(std::uint32_t step, std::string output = "out") {
    const StepState& s = state_.steps[step];
    const std::uint32_t attempt = s.attempts + 1, epoch = s.epoch;
    Apply(StepStarted{step, attempt, epoch});
    return Apply(StepCompleted{step, attempt, ToBytes(output), epoch});
  }
  RunBuilder& FailAttempt(std::uint32_t step, bool retryable = true) {
    const StepState& s = state_.steps[step];
    const std::uint32_t attempt = s.attempts + 1, epoch = s.epoch;
    Apply(StepStarted{step, attempt, epoch});
    return Apply(StepFailed{step, attempt, "boom", "it broke", retryable, epoch});
  }
  // Tries an event; returns what Evolve said (the state is kept either way).
  Status Try(EventBody body) {
    return Evolve(state_, Event{0, std::nullopt, kSchemaVersion, std::move(body)});
  }
  RunState& state() { return state_; }

 private:
  RunState state_;
};

}  // namespace rwd::test
