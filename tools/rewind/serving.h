// What `rewind serve` needs before it opens the journal: the workflows the
// API may start and the server's options (address, who may call), each
// checked so that a bad flag fails before anything is served.
#pragma once

#include <string>
#include <vector>

#include "rewind/base/status.h"
#include "rewind/executor/workflow.h"
#include "rewind/server/server.h"
#include "tools/rewind/commands.h"

namespace rwd::cli {

// The workflow files named, a folder standing for its *.json files (in name
// order). InvalidArgument naming the file that does not parse, or two files
// with one workflow name; NotFound for a path that does not exist.
Result<std::vector<Workflow>> LoadWorkflows(const std::vector<std::string>& paths);

// The server `serve` runs: on --listen's HOST:PORT ([v6]:PORT) with the
// authenticator from the token flags, or without --listen on loopback (any
// port) for local clients only; local tokens signed with `local_secret`
// (local_access.h) are accepted either way. InvalidArgument for a bad
// address, --listen without a way to authenticate, or a key file that is
// not what its flag says; NotFound or PermissionDenied for a file that
// cannot be read.
Result<server::ServerOptions> ServerOptionsFor(const ServeArgs& args, std::string local_secret);

// A token for `args` that expires args.ttl_seconds after `now_unix`,
// signed as TokenArgs says. InvalidArgument for a bad key or secret.
Result<std::string> Token(const TokenArgs& args, std::int64_t now_unix);

}  // namespace rwd::cli
