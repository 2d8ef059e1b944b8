// The fields of every table of schemas/events.fbs, listed once, for code
// that walks events generically: the JSON form (rewind/inspect/event_json.h)
// writes and reads them, the one-line description (describe.h) prints them.
// Names are the schema's; the order is for reading (an epoch beside its
// attempt), the schema's own being append-only.
//
//   Fields(visit, table) calls visit("name", table.member) for each field,
//   const or not: a writer visits const tables, a reader fills others.
//
// A field added to the schema (and events.h) is added here, and every walk
// over events then has it.
#pragma once

#include <type_traits>

#include "rewind/schemas/events.h"

namespace rwd::schema_fields {

// T is X, const or not (the writer visits const tables, the reader others).
template <typename T, typename X>
concept Is = std::is_same_v<std::remove_const_t<T>, X>;

template <typename V, typename T>
  requires Is<T, RetryPolicy>
void Fields(V& v, T& e) {
  v("max_attempts", e.max_attempts);
  v("initial_backoff_ms", e.initial_backoff_ms);
  v("multiplier", e.multiplier);
  v("max_backoff_ms", e.max_backoff_ms);
  v("jitter", e.jitter);
}
template <typename V, typename T>
  requires Is<T, StepDef>
void Fields(V& v, T& e) {
  v("id", e.id);
  v("kind", e.kind);
  v("depends_on", e.depends_on);
  v("retry", e.retry);
  v("timeout_ms", e.timeout_ms);
  v("handler", e.handler);
  v("sleep_ms", e.sleep_ms);
  v("config", e.config);
}
template <typename V, typename T>
  requires Is<T, RunStarted>
void Fields(V& v, T& e) {
  v("workflow", e.workflow);
  v("version", e.version);
  v("definition_hash", e.definition_hash);
  v("steps", e.steps);
  v("input", e.input);
  v("tenant", e.tenant);
  v("idempotency_key", e.idempotency_key);
  v("definition_stored", e.definition_stored);
}
template <typename V, typename T>
  requires Is<T, StepStarted> || Is<T, StepAbandoned>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("attempt", e.attempt);
  v("epoch", e.epoch);
}
template <typename V, typename T>
  requires Is<T, StepCompleted>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("attempt", e.attempt);
  v("epoch", e.epoch);
  v("output", e.output);
}
template <typename V, typename T>
  requires Is<T, StepFailed>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("attempt", e.attempt);
  v("epoch", e.epoch);
  v("code", e.code);
  v("message", e.message);
  v("retryable", e.retryable);
}
template <typename V, typename T>
  requires Is<T, RetryScheduled>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("next_attempt", e.next_attempt);
  v("due_unix_us", e.due_unix_us);
}
template <typename V, typename T>
  requires Is<T, RunPaused>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("reason", e.reason);
  v("message", e.message);
}
template <typename V, typename T>
  requires Is<T, ApprovalDecided>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("approved", e.approved);
  v("data", e.data);
}
template <typename V, typename T>
  requires Is<T, SignalReceived>
void Fields(V& v, T& e) {
  v("name", e.name);
  v("payload", e.payload);
}
template <typename V, typename T>
  requires Is<T, TimerScheduled>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("due_unix_us", e.due_unix_us);
}
template <typename V, typename T>
  requires Is<T, TimerFired>
void Fields(V& v, T& e) {
  v("step", e.step);
}
template <typename V, typename T>
  requires Is<T, ResumeRequested>
void Fields(V& v, T& e) {
  v("from_step", e.from_step);
  v("reason", e.reason);
  v("request_id", e.request_id);
  v("data", e.data);
}
template <typename V, typename T>
  requires Is<T, StepOutput>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("output", e.output);
}
template <typename V, typename T>
  requires Is<T, RunForked>
void Fields(V& v, T& e) {
  v("parent_run", e.parent_run);
  v("parent_seq", e.parent_seq);
  v("from_step", e.from_step);
  v("start", e.start);
  v("kept", e.kept);
}
template <typename V, typename T>
  requires Is<T, CancelRequested> || Is<T, RunCancelled>
void Fields(V& v, T& e) {
  v("reason", e.reason);
}
template <typename V, typename T>
  requires Is<T, RunCompleted>
void Fields(V& v, T& e) {
  v("output", e.output);
}
template <typename V, typename T>
  requires Is<T, RunFailed>
void Fields(V& v, T& e) {
  v("step", e.step);
  v("code", e.code);
  v("message", e.message);
}

// A table of the schema: one that has a list of fields.
template <typename T>
concept Table = requires(T& t, int& v) { Fields(v, t); };

}  // namespace rwd::schema_fields
