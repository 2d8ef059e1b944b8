#include "rewind/fold/decide.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace rwd {
namespace {

bool DependenciesDone(const RunState& s, std::uint32_t step) {
  for (std::uint32_t dep : s.definition->steps[step].depends_on) {
    if (s.steps[dep].status != StepStatus::kCompleted) return false;
  }
  return true;
}

// The first signal named `name` that arrived early and is not yet claimed in
// this round (one signal completes one step).
const SignalReceived* ArrivedSignal(const RunState& s, const std::string& name, std::vector<bool>& claimed) {
  for (std::size_t i = 0; i < s.pending_signals.size(); ++i) {
    if (!claimed[i] && s.pending_signals[i].name == name) {
      claimed[i] = true;
      return &s.pending_signals[i];
    }
  }
  return nullptr;
}

bool CanRetry(const StepDef& def, const StepState& step) {
  return step.retryable && step.attempts < std::max<std::uint32_t>(def.retry.max_attempts, 1);
}

constexpr double kMaxDelayMs = 1e12;

// now + delay (delay >= 0) without overflow; `now` is recorded data when a
// history is replayed, so any value.
std::int64_t DueAt(std::int64_t now, std::int64_t delay_us) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  return now > 0 && delay_us > kMax - now ? kMax : now + delay_us;
}

void WakeAt(Decision& d, std::int64_t due) {
  d.wake_unix_us = d.wake_unix_us ? std::min(*d.wake_unix_us, due) : due;
}

}  // namespace

std::int64_t BackoffMicros(const RetryPolicy& policy, const RunId& run, std::uint32_t step,
                           std::uint32_t epoch, std::uint32_t next_attempt) {
  const double exponent = next_attempt >= 2 ? static_cast<double>(next_attempt - 2) : 0.0;
  double delay_ms = static_cast<double>(policy.initial_backoff_ms) * std::pow(policy.multiplier, exponent);
  if (policy.max_backoff_ms > 0) delay_ms = std::min(delay_ms, static_cast<double>(policy.max_backoff_ms));
  // Without a cap the delay grows until it saturates at kMaxDelayMs (~32 years).
  if (!std::isfinite(delay_ms) || delay_ms > kMaxDelayMs) delay_ms = kMaxDelayMs;
  if (delay_ms < 0) delay_ms = 0;
  if (policy.jitter > 0) {
    std::uint8_t seed[RunId::kSize + 12];
    std::memcpy(seed, run.bytes().data(), RunId::kSize);
    std::memcpy(seed + RunId::kSize, &step, 4);
    std::memcpy(seed + RunId::kSize + 4, &epoch, 4);
    std::memcpy(seed + RunId::kSize + 8, &next_attempt, 4);
    const double u = static_cast<double>(XXH3_64bits(seed, sizeof(seed)) >> 11) * 0x1.0p-53;  // [0, 1)
    delay_ms *= 1.0 - std::min(policy.jitter, 1.0) * u;
  }
  return static_cast<std::int64_t>(delay_ms * 1000.0);
}

std::string IdempotencyKey(const RunId& run, const StepDef& step, std::uint32_t epoch) {
  return run.ToString() + "/" + step.id + "/" + std::to_string(epoch);
}

Decision Decide(const RunState& s, std::int64_t now, std::uint32_t max_parallel) {
  Decision d;
  if (s.status != RunStatus::kRunning || !s.definition) return d;
  const auto& defs = s.definition->steps;
  const auto n = static_cast<std::uint32_t>(defs.size());

  bool in_flight = false;       // an attempt is running
  bool progressing = false;     // something will happen without anyone acting
  std::uint32_t running = 0;
  std::optional<std::uint32_t> terminal_failure;
  for (std::uint32_t i = 0; i < n; ++i) {
    const StepState& step = s.steps[i];
    if (step.status == StepStatus::kRunning) {
      in_flight = progressing = true;
      ++running;
    }
    if (step.status == StepStatus::kFailed && !CanRetry(defs[i], step) && !terminal_failure) {
      terminal_failure = i;
    }
  }
  if (!terminal_failure && s.seq >= kMaxRunEvents) {
    // A run this long is a loop (a retry policy without end): it fails once
    // its attempts in flight are recorded, and can be resumed.
    if (!in_flight) {
      d.events.emplace_back(RunFailed{kNoStep, std::string(CodeName(Code::kResourceExhausted)),
                                      "the run reached the limit of " + std::to_string(kMaxRunEvents) + " events"});
    }
    return d;
  }
  if (terminal_failure) {
    // Let attempts in flight finish (their outputs are worth keeping), start nothing new.
    if (!in_flight) {
      const StepState& step = s.steps[*terminal_failure];
      d.events.emplace_back(RunFailed{*terminal_failure, step.error_code,
                                      "step '" + defs[*terminal_failure].id + "' failed after " +
                                          std::to_string(step.attempts) + " attempt(s): " +
                                          step.error_message});
    }
    return d;
  }

  std::optional<std::uint32_t> gate;  // the first approval or signal wait that could pause the run
  bool all_completed = true;
  auto may_start = [&] { return max_parallel == 0 || running < max_parallel; };
  std::vector<bool> claimed(s.pending_signals.size(), false);
  for (std::uint32_t i = 0; i < n; ++i) {
    const StepDef& def = defs[i];
    const StepState& step = s.steps[i];
    if (step.status != StepStatus::kCompleted) all_completed = false;
    switch (step.status) {
      case StepStatus::kFailed:  // retryable, within budget (terminal failures returned above)
        d.events.emplace_back(RetryScheduled{
            i, step.attempts + 1, DueAt(now, BackoffMicros(def.retry, s.run, i, step.epoch, step.attempts + 1))});
        progressing = true;
        break;
      case StepStatus::kRetryWait:
        progressing = true;
        if (step.due_unix_us <= now) {
          if (!may_start()) break;
          d.events.emplace_back(StepStarted{i, step.attempts + 1, step.epoch});
          d.dispatch.push_back(i);
          ++running;
        } else {
          WakeAt(d, step.due_unix_us);
        }
        break;
      case StepStatus::kWaiting:  // a sleep (gates waiting means the run is paused)
        progressing = true;
        if (step.due_unix_us <= now) {
          d.events.emplace_back(TimerFired{i});
        } else {
          WakeAt(d, step.due_unix_us);
        }
        break;
      case StepStatus::kPending:
        if (!DependenciesDone(s, i)) break;
        switch (def.kind) {
          case StepKind::kCode:
            progressing = true;
            if (!may_start()) break;
            d.events.emplace_back(StepStarted{i, step.attempts + 1, step.epoch});
            d.dispatch.push_back(i);
            ++running;
            break;
          case StepKind::kSleep:
            d.events.emplace_back(TimerScheduled{
                i, DueAt(now, static_cast<std::int64_t>(std::min<std::uint64_t>(def.sleep_ms, 1'000'000'000'000) * 1000))});
            progressing = true;
            break;
          case StepKind::kSignal:
            if (const SignalReceived* sig = ArrivedSignal(s, def.handler, claimed)) {
              d.events.emplace_back(StepStarted{i, step.attempts + 1, step.epoch});
              d.events.emplace_back(StepCompleted{i, step.attempts + 1, sig->payload, step.epoch});
              progressing = true;
            } else if (!gate) {
              gate = i;
            }
            break;
          case StepKind::kApproval:
            if (!gate) gate = i;
            break;
        }
        break;
      case StepStatus::kRunning:
      case StepStatus::kCompleted:
      case StepStatus::kCancelled:
        break;
    }
  }
  if (all_completed) {
    d.events.emplace_back(RunCompleted{s.steps[n - 1].output});
  } else if (gate && !progressing) {
    const bool approval = defs[*gate].kind == StepKind::kApproval;
    d.events.emplace_back(RunPaused{*gate,
                                    approval ? PauseReason::kApprovalRequired : PauseReason::kSignalWait,
                                    approval ? "waiting for approval of step '" + defs[*gate].id + "'"
                                             : "waiting for signal '" + defs[*gate].handler + "'"});
  }
  return d;
}

Result<Decision> Plan(RunState& state, std::int64_t now, std::uint32_t max_parallel) {
  Decision plan;
  // Each round either appends events that change the state or ends the loop;
  // the bound only guards against a decider bug.
  const std::size_t max_rounds = 4 * state.steps.size() + 8;
  for (std::size_t round = 0; round < max_rounds; ++round) {
    Decision d = Decide(state, now, max_parallel);
    plan.wake_unix_us = d.wake_unix_us;  // the last round's view of what is pending
    if (d.events.empty()) return plan;
    for (EventBody& body : d.events) {
      const Event event{now, std::nullopt, kSchemaVersion, body};
      if (Status s = Evolve(state, event); !s.ok()) {
        return Err(Code::kInternal, "the decider produced an event the fold refuses: " + s.message());
      }
      plan.events.push_back(std::move(body));
    }
    plan.dispatch.insert(plan.dispatch.end(), d.dispatch.begin(), d.dispatch.end());
  }
  return Err(Code::kInternal, "the decider did not settle for run " + state.run.ToString());
}

}  // namespace rwd
