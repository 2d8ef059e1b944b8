// Events for tests: a fixed list covering every body type, and rapidcheck
// generators of valid events.
//
// SampleEvents() is the content of the committed schema fixtures
// (tests/schemas/fixtures/events_vN.bin) and of the fuzz seed corpora, so it is
// append-only: never change or remove an entry, add new ones at the end. An
// entry sets no field that its schema version did not have.
//
// The generators produce only events that Decode accepts: step ids non-empty,
// depends_on indices in range and never the step itself, definition hashes
// empty or 32 bytes, retry multipliers in [0, 1e6] and jitter in [0, 1] (finite
// doubles only), forks of a non-empty definition whose from_step and kept steps
// index it, schema_version = kSchemaVersion. A generated event therefore
// round-trips through Encode and Decode.
#pragma once

#include <rapidcheck.h>

#include <ostream>
#include <vector>

#include "rewind/schemas/events.h"

namespace rwd {

// Prints the body type, time and encoding in hex, for gtest and rapidcheck
// failure messages (the structs have no operator<<).
void PrintTo(const Event& event, std::ostream* os);
void showValue(const Event& event, std::ostream& os);

namespace test {

// A fixed, deterministic list with at least one event of every EventBody
// alternative, every field set to a non-default value somewhere, events with
// and without an actor, multi-step definitions with dependencies and retry
// policies, and a fork that keeps outputs. Append-only (see above). The last
// two (schema version 2) name the definition of the first by its real hash,
// as decoded without looking it up: no steps (SampleDefinition() has them).
std::vector<Event> SampleEvents();

// The definition the events of SampleEvents() that name one name.
RunStarted SampleDefinition();

// Named generators; each produces valid values (see the file comment).
rc::Gen<Actor> GenActor();
rc::Gen<RetryPolicy> GenRetryPolicy();
// A definition of 0-5 steps whose depends_on indices are in range and not self.
rc::Gen<std::vector<StepDef>> GenSteps();
rc::Gen<RunStarted> GenRunStarted();
rc::Gen<StepStarted> GenStepStarted();
rc::Gen<StepCompleted> GenStepCompleted();
rc::Gen<StepFailed> GenStepFailed();
rc::Gen<RetryScheduled> GenRetryScheduled();
rc::Gen<StepAbandoned> GenStepAbandoned();
rc::Gen<RunPaused> GenRunPaused();
rc::Gen<ApprovalDecided> GenApprovalDecided();
rc::Gen<SignalReceived> GenSignalReceived();
rc::Gen<TimerScheduled> GenTimerScheduled();
rc::Gen<TimerFired> GenTimerFired();
rc::Gen<ResumeRequested> GenResumeRequested();
rc::Gen<StepOutput> GenStepOutput();
// A fork of a 1-5 step definition, from and keeping steps within it.
rc::Gen<RunForked> GenRunForked();
rc::Gen<CancelRequested> GenCancelRequested();
rc::Gen<RunCancelled> GenRunCancelled();
rc::Gen<RunCompleted> GenRunCompleted();
rc::Gen<RunFailed> GenRunFailed();
// Any body type, each equally likely.
rc::Gen<EventBody> GenEventBody();
// An event with the given body generator: any time, actor present or absent,
// schema_version = kSchemaVersion.
rc::Gen<Event> GenEvent(rc::Gen<EventBody> body);
rc::Gen<Event> GenEvent();

}  // namespace test
}  // namespace rwd

// rc::gen::arbitrary<T>() and property arguments of these types use the
// generators above. StepDef has none: its validity depends on its definition.
namespace rc {

#define REWIND_ARBITRARY(T)         \
  template <>                       \
  struct Arbitrary<rwd::T> {        \
    static Gen<rwd::T> arbitrary(); \
  }

REWIND_ARBITRARY(Actor);
REWIND_ARBITRARY(RetryPolicy);
REWIND_ARBITRARY(RunStarted);
REWIND_ARBITRARY(StepStarted);
REWIND_ARBITRARY(StepCompleted);
REWIND_ARBITRARY(StepFailed);
REWIND_ARBITRARY(RetryScheduled);
REWIND_ARBITRARY(StepAbandoned);
REWIND_ARBITRARY(RunPaused);
REWIND_ARBITRARY(ApprovalDecided);
REWIND_ARBITRARY(SignalReceived);
REWIND_ARBITRARY(TimerScheduled);
REWIND_ARBITRARY(TimerFired);
REWIND_ARBITRARY(ResumeRequested);
REWIND_ARBITRARY(StepOutput);
REWIND_ARBITRARY(RunForked);
REWIND_ARBITRARY(CancelRequested);
REWIND_ARBITRARY(RunCancelled);
REWIND_ARBITRARY(RunCompleted);
REWIND_ARBITRARY(RunFailed);
REWIND_ARBITRARY(EventBody);
REWIND_ARBITRARY(Event);

#undef REWIND_ARBITRARY

}  // namespace rc
