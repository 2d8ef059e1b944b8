// Workflow files: a workflow written as JSON whose steps are shell commands
// or calls to a service's URL, as the `rewind` CLI runs them.
//
//   {
//     "name": "order",
//     "version": 1,                                  // optional, default 1
//     "steps": [
//       {"id": "validate", "run": "test -s \"$REWIND_INPUT_FILE\""},
//       {"id": "charge", "run": ["./charge", "--card"],  // argv, no shell
//        "retry": {"max_attempts": 3, "initial_backoff_ms": 200},
//        "timeout_ms": 30000, "env": {"GATEWAY": "sandbox"}},
//       {"id": "notify", "kind": "http", "url": "http://127.0.0.1:8080/notify",
//        "retry": {"max_attempts": 5}, "timeout_ms": 5000},
//       {"id": "approve", "kind": "approval"},
//       {"id": "go", "kind": "signal", "signal": "go-live"},
//       {"id": "cool-off", "kind": "sleep", "sleep_ms": 60000},
//       {"id": "ship", "run": "./ship", "depends_on": ["approve", "charge"]}
//     ]
//   }
//
// Step fields:
//   id          required, non-empty, unique
//   kind        "command" (default; "code", the kind's name in events and
//               JSON, is taken too), "http", "approval", "signal" or "sleep"
//   run         command steps only, required: a script for /bin/sh -c, or an
//               argv array (see shell_step.h for how it runs)
//   url         http steps only, required: http://host[:port]/path[?query],
//               checked by ParseHttpUrl (http_step.h says how the call is made
//               and what its answer means)
//   audience    http steps: the "aud" of the step's token (default: the URL's
//               origin, "http://host[:port]")
//   depends_on  ids of earlier or later steps; default: the step before ([] for
//               the first); [] makes a root
//   retry       command and http steps: {max_attempts >= 1, initial_backoff_ms,
//               multiplier >= 1, max_backoff_ms, jitter in [0, 1]}; a missing
//               field takes kDefaultRetry's value, a missing retry is kDefaultRetry
//   timeout_ms  command and http steps: 0 for none; the default is none for a
//               command, kDefaultHttpTimeoutMs (30 s) for an http step
//   env         command steps: {"NAME": "value"}; names are [A-Za-z_][A-Za-z0-9_]*
//               and must not start with REWIND_ (the engine sets those)
//   signal      signal steps: the signal's name (default: the step id)
//   sleep_ms    sleep steps, required
// Anything else is an error, unknown field names included, so that a typo
// ("depends-on", "max_attempt") never passes silently; so is a key given twice
// in one object.
//
// What the journal records: a command step is a kCode StepDef with handler
// "shell" whose config is the canonical JSON (compact, keys sorted) of
// {"env": {...}, "run": ...}; an http step is a kCode StepDef with handler
// "http" and config {"http": {"audience": ..., "url": ...}} ("audience" only
// when given). So the command or URL is part of the run's definition and its
// hash, and the handler is rebuilt from that record by WorkflowFromDefinition.
// An http step's token secret is never in the file nor in the record: it comes
// from $REWIND_STEP_TOKEN_SECRET_FILE when the step runs (http_step.h).
//
// Thread-safety: free functions on values; ShellWorkflowResolver's resolver may
// be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/executor/workflow.h"
#include "rewind/schemas/events.h"

namespace rwd {

// The timeout of an http step whose file gives none: an answer that never
// comes does not hold the step forever.
inline constexpr std::uint32_t kDefaultHttpTimeoutMs = 30'000;

// Parses a workflow file's text. `source_name` (usually the path) starts every
// error message. Errors, all InvalidArgument:
//   malformed JSON   "<source>:<line>:<column>: <what the parser expected>"
//   anything else    "<source>:<line>:<column>: step 'charge', field
//                    'retry.max_attempts': must be at least 1" (a step without a
//                    usable id is named by its 1-based position: "step 3")
// Line and column are 1-based; the column counts bytes.
Result<Workflow> ParseWorkflowFile(std::string_view json_text, std::string_view source_name);

// Reads and parses the file at `path`. NotFound when it does not exist,
// FailedPrecondition when it cannot be read (permissions, a directory),
// InvalidArgument when it is over 16 MiB, else as ParseWorkflowFile.
Result<Workflow> LoadWorkflowFile(const std::string& path);

// Rebuilds a runnable workflow from a recorded definition (RunStarted, or a
// fork's copy of one): shell and http handlers from the handler names and
// configs of its code steps. The result's Definition().steps equals
// `recorded.steps`, so the engine runs it for that run. InvalidArgument when a
// code step's handler and config are not a command or an http call as
// ParseWorkflowFile records them, or the definition is invalid.
Result<Workflow> WorkflowFromDefinition(const RunStarted& recorded);

// A HandlerResolver for EngineOptions::resolve that answers every definition
// WorkflowFromDefinition accepts (and nullptr otherwise). Rebuilt workflows are
// cached by definition hash for the resolver's lifetime (the engine holds the
// pointers it returns).
HandlerResolver ShellWorkflowResolver();

}  // namespace rwd
