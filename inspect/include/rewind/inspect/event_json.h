// Events as JSON, losslessly: what journal-inspect prints and exports.
//
// An event is an object
//   {"type": "StepFailed", "unix_us": 1700000000000000, "schema_version": 1,
//    "actor": null | {"kind": "system"|"engine"|"user", "subject": "...", "tenant": "..."},
//    "body": {...}}
// where "type" is EventTypeName (the schema's Body union member) and the body's
// fields carry the names of schemas/events.fbs, every field always present:
//   * numbers are JSON numbers (64-bit values exactly);
//   * strings are JSON strings, or {"base64": "..."} when not UTF-8;
//   * byte fields are a JSON string when the bytes are UTF-8 text without
//     control characters other than tab, newline and carriage return, and
//     {"base64": "..."} otherwise;
//   * run ids are 32 lowercase hex digits; enums are snake_case names
//     (step kind "code", pause reason "approval_required", ...);
//   * nested tables (steps, retry, start, kept) are objects and arrays of
//     objects the same way.
// EventFromJson(EventJson(e)) == e for every event: nothing is lost.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "rewind/base/status.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"

namespace rwd::inspect {

nlohmann::json EventJson(const Event& event);

// A stored event as exports, `events --json` and the server's events route
// show it: the record's identity and chain (run_id, seq, position,
// prev_hash, hash: 64 hex digits each), then EventJson(event)'s fields.
nlohmann::json RecordJson(const EventRecord& record, const Event& event);

// InvalidArgument naming the field (e.g. "body.steps[2].retry.jitter") when
// `json` is not an event as EventJson writes it: a missing or unknown field,
// a wrong type, a number out of range, an unknown type or enum name, bad hex
// or base64.
Result<Event> EventFromJson(const nlohmann::json& json);

// A byte field as EventJson writes it.
nlohmann::json BytesJson(ByteView bytes);
// A string field as EventJson writes it.
nlohmann::json StringJson(const std::string& text);

}  // namespace rwd::inspect
