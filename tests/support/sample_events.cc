#include "tests/support/sample_events.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "rewind/journal/hash.h"

namespace rwd {

void PrintTo(const Event& event, std::ostream* os) {
  *os << EventTypeName(event.body) << "{unix_us=" << event.unix_us
      << " actor=" << (event.actor.has_value() ? event.actor->subject : "(none)")
      << " schema_version=" << event.schema_version << " encoded=" << HexEncode(Encode(event))
      << "}";
}

void showValue(const Event& event, std::ostream& os) { PrintTo(event, &os); }

namespace test {
namespace {

constexpr std::int64_t kT0 = 1'717'200'000'000'000;  // 2024-06-01, in µs

Bytes Filled(std::size_t n, std::uint8_t first) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

Actor User() { return Actor{ActorKind::kUser, "alice@example.com", "acme"}; }
Actor Engine() { return Actor{ActorKind::kEngine, "engine-7", ""}; }
Actor System() { return Actor{ActorKind::kSystem, "cron", "ops"}; }

// Four steps of every kind: build → approve → wait for a signal → cool down,
// the last also depending on the first.
RunStarted Deploy() {
  RunStarted r;
  r.workflow = "deploy";
  r.version = 3;
  r.definition_hash = Filled(32, 0xa0);
  StepDef build;
  build.id = "build";
  build.kind = StepKind::kCode;
  build.retry = RetryPolicy{5, 250, 1.5, 30'000, 0.25};
  build.timeout_ms = 600'000;
  build.handler = "make";
  build.config = ToBytes("make -j2 all");
  StepDef approve;
  approve.id = "approve";
  approve.kind = StepKind::kApproval;
  approve.depends_on = {0};
  approve.timeout_ms = 86'400'000;
  StepDef wait;
  wait.id = "wait-go-live";
  wait.kind = StepKind::kSignal;
  wait.depends_on = {1};
  wait.handler = "go-live";
  wait.retry = RetryPolicy{1, 0, 0.0, 0, 1.0};
  StepDef cool;
  cool.id = "cool-down";
  cool.kind = StepKind::kSleep;
  cool.depends_on = {0, 2};
  cool.sleep_ms = 5'000'000'000;  // beyond 32 bits
  r.steps = {build, approve, wait, cool};
  r.input = Bytes{0x00, 0xff, 0x7b, 0x7d, 0x00};
  r.tenant = "acme";
  r.idempotency_key = "deploy-2024-06-01";
  return r;
}

Event At(int i, EventBody body, std::optional<Actor> actor = std::nullopt) {
  Event e;
  e.unix_us = kT0 + i * 1'000;
  e.actor = std::move(actor);
  e.body = std::move(body);
  return e;
}

}  // namespace

RunStarted SampleDefinition() { return Deploy(); }

std::vector<Event> SampleEvents() {
  RunStarted single;
  single.workflow = "nightly report";
  std::vector<StepDef>& steps = single.steps.Mutable();
  steps.resize(1);
  steps[0].id = "render";
  steps[0].handler = "report.render";

  // Naming the definition a journal stores (schema version 2), as decoded
  // without looking it up.
  RunStarted named = Deploy();
  const Hash hash = Sha256(EncodeDefinition(named));
  named.definition_hash.assign(hash.begin(), hash.end());
  named.steps.clear();
  named.definition_stored = true;
  RunForked named_fork;
  named_fork.parent_run = RunId(RunId::Bytes{0x01, 0x02});
  named_fork.parent_seq = 9;
  named_fork.from_step = 3;
  named_fork.start = named;
  named_fork.kept = {StepOutput{2, ToBytes("kept")}};

  RunForked fork;
  fork.parent_run = RunId(RunId::Bytes{0x3f, 0x2a, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                       0x08, 0x09, 0x0a, 0x0b, 0x0c, 0xff});
  fork.parent_seq = 17;
  fork.from_step = 2;
  fork.start = Deploy();
  fork.kept = {StepOutput{0, ToBytes("artifact sha256:00ab")}, StepOutput{1, Bytes{}}};

  int i = 0;
  return {
      At(i++, Deploy(), User()),
      At(i++, single),
      At(i++, StepStarted{0, 1, 0}),
      At(i++, StepFailed{0, 1, "exit_status", "make exited with status 2", true}),
      At(i++, RetryScheduled{0, 2, kT0 + 250'000}),
      At(i++, StepStarted{0, 2, 1}, Engine()),
      At(i++, StepCompleted{0, 2, ToBytes("artifact sha256:00ab")}),
      At(i++, RunPaused{1, PauseReason::kApprovalRequired, "release needs an approval"}),
      At(i++, ApprovalDecided{1, true, ToBytes(R"({"ticket":"OPS-12"})")}, User()),
      At(i++, RunPaused{2, PauseReason::kSignalWait, "waiting for go-live"}),
      At(i++, SignalReceived{"go-live", Bytes{0x01, 0x02, 0x03}}, System()),
      At(i++, TimerScheduled{3, kT0 + 5'000'000'000'000}),
      At(i++, TimerFired{3}),
      At(i++, StepFailed{3, 7, "timeout", "", false}),
      At(i++, StepAbandoned{3, 7}),
      At(i++, RunPaused{3, PauseReason::kManual, "paused by operator"}, User()),
      At(i++, ResumeRequested{2, "config fixed", "req-42", ToBytes("--force")}, User()),
      At(i++, fork, User()),
      At(i++, CancelRequested{"superseded by release 1.3"}, Actor{ActorKind::kUser, "bob", ""}),
      At(i++, RunCancelled{"superseded by release 1.3"}),
      At(i++, RunCompleted{Bytes{0xde, 0xad, 0xbe, 0xef}}),
      At(i++, RunFailed{3, "timeout", "step 'cool-down' timed out"}),
      At(i++, ApprovalDecided{1, false, Bytes{}}, Actor{ActorKind::kUser, "Zoë", "acme"}),
      Event{-1, std::nullopt, kSchemaVersion, RunCompleted{}},  // before the epoch, no output
      // Epochs on attempt outcomes (added to schema version 1 before any release).
      At(i++, StepCompleted{2, 1, ToBytes("again"), 3}),
      At(i++, StepFailed{2, 2, "exit_status", "exit 1", true, 3}),
      At(i++, StepAbandoned{2, 3, 3}),
      // Schema version 2.
      At(i++, named, User()),
      At(i++, named_fork, User()),
  };
}

// ---------------------------------------------------------------- generators

namespace gen = rc::gen;

namespace {

rc::Gen<std::string> AnyString() { return gen::string<std::string>(); }
rc::Gen<Bytes> AnyBytes() { return gen::arbitrary<Bytes>(); }
template <typename T>
rc::Gen<T> Any() {
  return gen::arbitrary<T>();
}

// A double in [0, max] on a grid of 1/`steps`, with the ends themselves likely.
rc::Gen<double> UnitRange(double max, std::uint32_t steps) {
  return gen::oneOf(gen::just(0.0), gen::just(max),
                    gen::map(gen::inRange<std::uint32_t>(0, steps + 1),
                             [=](std::uint32_t k) { return max * k / steps; }));
}

rc::Gen<StepDef> GenStepWithoutDeps() {
  return gen::build<StepDef>(
      gen::set(&StepDef::id, gen::nonEmpty(AnyString())),
      gen::set(&StepDef::kind, gen::element(StepKind::kCode, StepKind::kApproval, StepKind::kSignal,
                                            StepKind::kSleep)),
      gen::set(&StepDef::retry, GenRetryPolicy()), gen::set(&StepDef::timeout_ms),
      gen::set(&StepDef::handler, AnyString()), gen::set(&StepDef::sleep_ms),
      gen::set(&StepDef::config, AnyBytes()));
}

}  // namespace

rc::Gen<Actor> GenActor() {
  return gen::build<Actor>(
      gen::set(&Actor::kind,
               gen::element(ActorKind::kSystem, ActorKind::kEngine, ActorKind::kUser)),
      gen::set(&Actor::subject, AnyString()), gen::set(&Actor::tenant, AnyString()));
}

rc::Gen<RetryPolicy> GenRetryPolicy() {
  return gen::build<RetryPolicy>(gen::set(&RetryPolicy::max_attempts),
                                 gen::set(&RetryPolicy::initial_backoff_ms),
                                 gen::set(&RetryPolicy::multiplier, UnitRange(1e6, 1'000'000'000)),
                                 gen::set(&RetryPolicy::max_backoff_ms),
                                 gen::set(&RetryPolicy::jitter, UnitRange(1.0, 1'000'000)));
}

rc::Gen<std::vector<StepDef>> GenSteps() {
  return gen::mapcat(gen::element<std::size_t>(0, 1, 2, 3, 4, 5), [](std::size_t n) {
    // Raw dependency numbers become indices in [0, n) other than the step's own.
    return gen::map(
        gen::pair(
            gen::container<std::vector<StepDef>>(n, GenStepWithoutDeps()),
            gen::container<std::vector<std::vector<std::uint32_t>>>(
                n, gen::container<std::vector<std::uint32_t>>(gen::arbitrary<std::uint32_t>()))),
        [n](std::pair<std::vector<StepDef>, std::vector<std::vector<std::uint32_t>>> p) {
          auto& [steps, raw] = p;
          for (std::size_t i = 0; i < n && n > 1; ++i) {
            for (std::uint32_t r : raw[i]) {
              auto dep = static_cast<std::uint32_t>(r % (n - 1));
              steps[i].depends_on.push_back(dep >= i ? dep + 1 : dep);
            }
          }
          return std::move(steps);
        });
  });
}

rc::Gen<RunStarted> GenRunStarted() {
  const auto held = gen::build<RunStarted>(
      gen::set(&RunStarted::workflow, AnyString()), gen::set(&RunStarted::version),
      gen::set(&RunStarted::definition_hash,
               gen::oneOf(gen::just(Bytes{}), gen::container<Bytes>(32, Any<std::uint8_t>()))),
      gen::set(&RunStarted::steps, GenSteps()), gen::set(&RunStarted::input, AnyBytes()),
      gen::set(&RunStarted::tenant, AnyString()),
      gen::set(&RunStarted::idempotency_key, AnyString()));
  // Naming a stored definition, as decoded without looking it up: no steps.
  const auto named = gen::map(gen::pair(held, gen::container<Bytes>(32, Any<std::uint8_t>())), [](auto p) {
    p.first.definition_stored = true;
    p.first.steps.clear();
    p.first.definition_hash = std::move(p.second);
    return std::move(p.first);
  });
  return gen::weightedOneOf<RunStarted>({{3, held}, {1, named}});
}

rc::Gen<StepStarted> GenStepStarted() {
  return gen::build<StepStarted>(gen::set(&StepStarted::step), gen::set(&StepStarted::attempt),
                                 gen::set(&StepStarted::epoch));
}

rc::Gen<StepCompleted> GenStepCompleted() {
  return gen::build<StepCompleted>(gen::set(&StepCompleted::step),
                                   gen::set(&StepCompleted::attempt),
                                   gen::set(&StepCompleted::output, AnyBytes()),
                                   gen::set(&StepCompleted::epoch));
}

rc::Gen<StepFailed> GenStepFailed() {
  return gen::build<StepFailed>(gen::set(&StepFailed::step), gen::set(&StepFailed::attempt),
                                gen::set(&StepFailed::code, AnyString()),
                                gen::set(&StepFailed::message, AnyString()),
                                gen::set(&StepFailed::retryable), gen::set(&StepFailed::epoch));
}

rc::Gen<RetryScheduled> GenRetryScheduled() {
  return gen::build<RetryScheduled>(gen::set(&RetryScheduled::step),
                                    gen::set(&RetryScheduled::next_attempt),
                                    gen::set(&RetryScheduled::due_unix_us));
}

rc::Gen<StepAbandoned> GenStepAbandoned() {
  return gen::build<StepAbandoned>(gen::set(&StepAbandoned::step),
                                   gen::set(&StepAbandoned::attempt),
                                   gen::set(&StepAbandoned::epoch));
}

rc::Gen<RunPaused> GenRunPaused() {
  return gen::build<RunPaused>(
      gen::set(&RunPaused::step),
      gen::set(&RunPaused::reason, gen::element(PauseReason::kApprovalRequired,
                                                PauseReason::kManual, PauseReason::kSignalWait)),
      gen::set(&RunPaused::message, AnyString()));
}

rc::Gen<ApprovalDecided> GenApprovalDecided() {
  return gen::build<ApprovalDecided>(gen::set(&ApprovalDecided::step),
                                     gen::set(&ApprovalDecided::approved),
                                     gen::set(&ApprovalDecided::data, AnyBytes()));
}

rc::Gen<SignalReceived> GenSignalReceived() {
  return gen::build<SignalReceived>(gen::set(&SignalReceived::name, AnyString()),
                                    gen::set(&SignalReceived::payload, AnyBytes()));
}

rc::Gen<TimerScheduled> GenTimerScheduled() {
  return gen::build<TimerScheduled>(gen::set(&TimerScheduled::step),
                                    gen::set(&TimerScheduled::due_unix_us));
}

rc::Gen<TimerFired> GenTimerFired() { return gen::build<TimerFired>(gen::set(&TimerFired::step)); }

rc::Gen<ResumeRequested> GenResumeRequested() {
  return gen::build<ResumeRequested>(gen::set(&ResumeRequested::from_step),
                                     gen::set(&ResumeRequested::reason, AnyString()),
                                     gen::set(&ResumeRequested::request_id, AnyString()),
                                     gen::set(&ResumeRequested::data, AnyBytes()));
}

rc::Gen<StepOutput> GenStepOutput() {
  return gen::build<StepOutput>(gen::set(&StepOutput::step),
                                gen::set(&StepOutput::output, AnyBytes()));
}

rc::Gen<RunForked> GenRunForked() {
  // A fork starts from, and keeps outputs of, steps of its (non-empty) definition.
  const auto start =
      gen::suchThat(GenRunStarted(), [](const RunStarted& s) { return !s.steps.empty(); });
  return gen::mapcat(start, [](RunStarted s) {
    const auto n = static_cast<std::uint32_t>(s.steps.size());
    const auto kept = gen::build<StepOutput>(
        gen::set(&StepOutput::step, gen::inRange<std::uint32_t>(0, n)),
        gen::set(&StepOutput::output, AnyBytes()));
    return gen::build<RunForked>(
        gen::set(&RunForked::parent_run, gen::construct<RunId>(Any<RunId::Bytes>())),
        gen::set(&RunForked::parent_seq),
        gen::set(&RunForked::from_step, gen::inRange<std::uint32_t>(0, n)),
        gen::set(&RunForked::start, gen::just(std::move(s))),
        gen::set(&RunForked::kept, gen::container<std::vector<StepOutput>>(kept)));
  });
}

rc::Gen<CancelRequested> GenCancelRequested() {
  return gen::build<CancelRequested>(gen::set(&CancelRequested::reason, AnyString()));
}

rc::Gen<RunCancelled> GenRunCancelled() {
  return gen::build<RunCancelled>(gen::set(&RunCancelled::reason, AnyString()));
}

rc::Gen<RunCompleted> GenRunCompleted() {
  return gen::build<RunCompleted>(gen::set(&RunCompleted::output, AnyBytes()));
}

rc::Gen<RunFailed> GenRunFailed() {
  return gen::build<RunFailed>(gen::set(&RunFailed::step), gen::set(&RunFailed::code, AnyString()),
                               gen::set(&RunFailed::message, AnyString()));
}

rc::Gen<EventBody> GenEventBody() {
  return gen::oneOf(
      gen::cast<EventBody>(GenRunStarted()), gen::cast<EventBody>(GenStepStarted()),
      gen::cast<EventBody>(GenStepCompleted()), gen::cast<EventBody>(GenStepFailed()),
      gen::cast<EventBody>(GenRetryScheduled()), gen::cast<EventBody>(GenStepAbandoned()),
      gen::cast<EventBody>(GenRunPaused()), gen::cast<EventBody>(GenApprovalDecided()),
      gen::cast<EventBody>(GenSignalReceived()), gen::cast<EventBody>(GenTimerScheduled()),
      gen::cast<EventBody>(GenTimerFired()), gen::cast<EventBody>(GenResumeRequested()),
      gen::cast<EventBody>(GenRunForked()), gen::cast<EventBody>(GenCancelRequested()),
      gen::cast<EventBody>(GenRunCancelled()), gen::cast<EventBody>(GenRunCompleted()),
      gen::cast<EventBody>(GenRunFailed()));
}

rc::Gen<Event> GenEvent(rc::Gen<EventBody> body) {
  return gen::build<Event>(
      gen::set(&Event::unix_us),
      gen::set(&Event::actor, gen::oneOf(gen::just(std::optional<Actor>()),
                                         gen::cast<std::optional<Actor>>(GenActor()))),
      gen::set(&Event::schema_version, gen::just(kSchemaVersion)),
      gen::set(&Event::body, std::move(body)));
}

rc::Gen<Event> GenEvent() { return GenEvent(GenEventBody()); }

}  // namespace test
}  // namespace rwd

namespace rc {

#define REWIND_ARBITRARY(T, gen) \
  Gen<rwd::T> Arbitrary<rwd::T>::arbitrary() { return rwd::test::gen(); }

REWIND_ARBITRARY(Actor, GenActor)
REWIND_ARBITRARY(RetryPolicy, GenRetryPolicy)
REWIND_ARBITRARY(RunStarted, GenRunStarted)
REWIND_ARBITRARY(StepStarted, GenStepStarted)
REWIND_ARBITRARY(StepCompleted, GenStepCompleted)
REWIND_ARBITRARY(StepFailed, GenStepFailed)
REWIND_ARBITRARY(RetryScheduled, GenRetryScheduled)
REWIND_ARBITRARY(StepAbandoned, GenStepAbandoned)
REWIND_ARBITRARY(RunPaused, GenRunPaused)
REWIND_ARBITRARY(ApprovalDecided, GenApprovalDecided)
REWIND_ARBITRARY(SignalReceived, GenSignalReceived)
REWIND_ARBITRARY(TimerScheduled, GenTimerScheduled)
REWIND_ARBITRARY(TimerFired, GenTimerFired)
REWIND_ARBITRARY(ResumeRequested, GenResumeRequested)
REWIND_ARBITRARY(StepOutput, GenStepOutput)
REWIND_ARBITRARY(RunForked, GenRunForked)
REWIND_ARBITRARY(CancelRequested, GenCancelRequested)
REWIND_ARBITRARY(RunCancelled, GenRunCancelled)
REWIND_ARBITRARY(RunCompleted, GenRunCompleted)
REWIND_ARBITRARY(RunFailed, GenRunFailed)
REWIND_ARBITRARY(EventBody, GenEventBody)
REWIND_ARBITRARY(Event, GenEvent)

#undef REWIND_ARBITRARY

}  // namespace rc
