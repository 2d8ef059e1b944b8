// Acting through a server (server.h) instead of opening the journal: the
// RunControl of the `rewind` commands when a server holds the journal.
//
// Which server, and as whom:
//   * --server URL (or REWIND_SERVER) with --token (or REWIND_TOKEN): that
//     server, as the token says; the tenant is --tenant if given, else the
//     token's;
//   * else the server whose local access file (local_access.h) is in the
//     journal's directory, if it answers: as the local OS user with the
//     operator role in --tenant ("USER/ACTOR" with --actor), by a local
//     token, or as --token says when one is given. A file left by a server
//     that crashed (nothing answers at its url) is ignored.
// Runs are followed on the run's event stream; each event is folded here as
// the engine folds it, so progress and the final state print exactly as
// when the command opens the journal itself. A stream cut short is resumed
// from its last event id; a server gone for good is Unavailable.
//
// Errors: the server's problem as a Status of its code (the same exit
// status as the engine's error); Unavailable when the server cannot be
// reached; Unauthenticated for --server without a token.
//
// Thread-safety: one thread (a RunControl is used by one command).
#pragma once

#include <memory>

#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/projections/history.h"
#include "tools/rewind/commands.h"
#include "tools/rewind/run_control.h"

namespace rwd::cli {

// The server to act through, or null when there is none (the command opens
// the journal itself). `me` is who a local token names.
Result<std::unique_ptr<RunControl>> FindServer(const Context& c, const Principal& me);

// Whether the command was given a server (--server or REWIND_SERVER).
inline bool ServerGiven(const Context& c) { return !c.server.empty(); }

// The history of `run` as the server given by --server holds it (status and
// state with --server). `me` as for FindServer.
Result<RunHistory> RemoteHistory(const Context& c, const Principal& me, const RunId& run);

}  // namespace rwd::cli
