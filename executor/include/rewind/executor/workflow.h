// Workflow: a named, versioned graph of steps, built as a value and handed to
// an Engine to run (as Taskflow separates a Taskflow from its Executor).
//
//   Workflow order("order");
//   order.Step("validate", Validate);
//   order.Step("reserve", Reserve);                 // after "validate" (the default)
//   order.Step("charge", Charge).Retry({.max_attempts = 5, .initial_backoff_ms = 200});
//   order.Approval("approve");
//   order.Step("ship", Ship).After({"approve", "reserve"});
//
// A step depends on the step defined just before it unless After() says
// otherwise (After({}) makes it a root). Kinds: code (a handler), approval gate,
// signal wait, durable sleep. Code steps retry by default (kDefaultRetry), so a
// run whose attempt was cut short by a crash continues after restart. What the journal records of a workflow is its
// definition (ids, kinds, dependencies, policies, config), not its handlers.
//
// Thread-safety: build on one thread; once handed to an Engine it is read-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/hash.h"
#include "rewind/schemas/events.h"

namespace rwd {

// What a handler sees of its attempt. Valid for the duration of the call.
struct StepContext {
  RunId run;
  const StepDef* step = nullptr;  // the recorded definition: id, kind, config
  std::uint32_t index = 0;        // the step's index in the definition
  std::uint32_t epoch = 0;
  std::uint32_t attempt = 0;      // 1-based within the epoch
  // "<run>/<step>/<epoch>": the same for every attempt of the step in this
  // epoch, across retries and engine restarts, so the service a step calls
  // can deduplicate a retried side effect (pass it as that service's
  // idempotency key). A resume starts a new epoch, and so a new key: it asks
  // for the step to run again on purpose. `attempt` tells attempts apart.
  std::string idempotency_key;
  ByteView input;                                     // the run's input
  const std::map<std::string, Bytes>* dependencies = nullptr;  // outputs by step id
  ByteView resume_data;  // data of the last resume of the run, if any
  // Requested when the attempt timed out or the engine is shutting down.
  std::stop_token stop;
  // The engine's hold on its journal (Journal::lock_fd; -1 when there is
  // none). A process the handler starts that keeps this descriptor open
  // keeps every other engine from opening the journal until it exits, and
  // so from retrying this attempt while it runs: the shell step's warden
  // keeps it (shell_step.h). Never close it.
  int hold_fd = -1;
};

// A step's code. Returns the step's output (memoized in the journal) or an
// error. Errors with code InvalidArgument, FailedPrecondition, PermissionDenied
// or NotFound are permanent (no retry); any other error, and any exception,
// fails the attempt retryably.
using StepHandler = std::function<Result<Bytes>(const StepContext&)>;

// The retry policy of a code step unless Retry() sets another: 3 attempts,
// 100 ms then 200 ms apart (up to 10 s for longer policies), 10% jitter.
inline constexpr RetryPolicy kDefaultRetry{3, 100, 2.0, 10'000, 0.1};

// True for the error codes a handler uses to say "retrying will not help".
bool IsPermanentFailure(Code code);

class Workflow;

// Refines the step just added to a Workflow. Valid until the next step is added.
class StepBuilder {
 public:
  // Replaces the default dependency (the previous step) with these steps.
  StepBuilder& After(std::initializer_list<std::string_view> ids);
  StepBuilder& After(const std::vector<std::string>& ids);
  StepBuilder& Retry(const RetryPolicy& policy);
  // An attempt still running after `timeout` (from its handler's start) is
  // asked to stop (StepContext::stop) and recorded failed with kUnavailable
  // at once; its retry, if any, starts only once the handler has returned,
  // so two attempts of the step never run at once.
  StepBuilder& Timeout(std::chrono::milliseconds timeout);
  // Opaque settings recorded with the definition (the CLI keeps commands here).
  StepBuilder& Config(Bytes config);
  // Names the handler in the recorded definition (code steps; the CLI records
  // "shell" for its command steps, "http" for its http steps). Informational:
  // handlers are the functions.
  StepBuilder& Handler(std::string name);

 private:
  friend class Workflow;
  StepBuilder(Workflow* w, std::size_t index) : workflow_(w), index_(index) {}
  Workflow* workflow_;
  std::size_t index_;
};

class Workflow {
 public:
  explicit Workflow(std::string name, std::uint32_t version = 1);

  StepBuilder Step(std::string id, StepHandler handler);
  StepBuilder Approval(std::string id);
  StepBuilder Signal(std::string id, std::string signal_name);
  StepBuilder Sleep(std::string id, std::chrono::milliseconds duration);

  const std::string& name() const { return name_; }
  std::uint32_t version() const { return version_; }

  // The definition as the journal records it in RunStarted (workflow, version,
  // definition hash, steps with dependency indices). InvalidArgument naming the
  // offending step for an empty workflow, a duplicate id, an unknown
  // dependency or a cycle.
  Result<RunStarted> Definition() const;

  // The handler of step `index` (code steps), or nullptr.
  const StepHandler* handler(std::size_t index) const;

 private:
  friend class StepBuilder;
  struct Entry {
    StepDef def;
    StepHandler handler;
    std::vector<std::string> after;  // dependency ids
    bool explicit_after = false;
  };
  StepBuilder Add(StepDef def, StepHandler handler);

  std::string name_;
  std::uint32_t version_;
  std::vector<Entry> steps_;
};

// SHA-256 of EncodeDefinition: of a definition's workflow, version and steps: equal
// for equal definitions, different when any recorded property differs.
Hash DefinitionHash(const RunStarted& definition);

}  // namespace rwd
