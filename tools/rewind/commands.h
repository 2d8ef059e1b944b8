// The rewind CLI's commands, each returning the process exit status
// (exit_codes.h). They print human text (or, with `json`, exactly one JSON
// object on stdout at the end), and errors on stderr (as JSON on stdout with
// `json`).
//
// The commands that act (run, resume, approve, reject, pause, cancel, fork,
// signal) and status and state go through a server when there is one
// (remote.h): `server` (--server, REWIND_SERVER) with `token`; else the
// server holding the journal in `data_dir`, found through its local access
// file. Otherwise they open the engine on the journal in `data_dir`
// themselves. Either way they act as the local OS user with the operator role
// in `tenant` (or as the token says), recorded as "USER/ACTOR" when `actor`
// names the person acting through a shared account.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

namespace rwd::cli {

struct Context {
  std::string data_dir;
  std::string tenant = "default";
  bool tenant_given = false;  // --tenant was given (else a --token's tenant wins)
  bool json = false;
  std::string server;  // --server URL
  std::string token;   // --token
  std::string ca_file;  // --ca-file: CA certificates to trust for an https --server
  std::string actor;   // --actor
  friend bool operator==(const Context&, const Context&) = default;
};

int RunFile(const Context& c, const std::string& file, const std::string& input,
            const std::string& idempotency_key);
int Resume(const Context& c, const std::string& run, const std::string& from_step, const std::string& reason,
           const std::string& request_id, const std::string& resume_data, bool dry_run);
int DecideGate(const Context& c, const std::string& run, const std::string& step, bool approve, const std::string& note);
int Cancel(const Context& c, const std::string& run, const std::string& reason);
int Pause(const Context& c, const std::string& run, const std::string& reason);
// Continues a running run whose process stopped (Engine::Recover), and follows it.
int Recover(const Context& c, const std::string& run);
int Fork(const Context& c, const std::string& run, const std::string& from_step, std::optional<std::uint64_t> at_seq);
int Signal(const Context& c, const std::string& run, const std::string& name, const std::string& payload);
int ShowStatus(const Context& c, const std::string& run);
int ShowState(const Context& c, const std::string& run, std::optional<std::uint64_t> at_seq,
          const std::string& at_step);
// `serve`'s HTTP API (rewind/server/server.h); no --listen: no API.
struct ServeArgs {
  std::string listen;                  // HOST:PORT
  std::vector<std::string> workflows;  // workflow files, or folders of *.json files
  std::string token_secret_file;       // HS256 secret
  std::string token_public_key_file;   // EdDSA / ES256 public key (PEM)
  std::string api_keys_file;           // auth.h LoadApiKeys
  std::string audience;                // a token's "aud"
  std::string tls_cert_file;           // HTTPS: certificate chain (PEM)
  std::string tls_key_file;            // and its key
};

// `token`: a signed token for a server (auth.h TokenClaims), for development.
struct TokenArgs {
  std::string secret_file;       // HS256
  std::string private_key_file;  // EdDSA / ES256 (PEM)
  std::string subject;
  std::string tenant = "default";
  std::vector<std::string> roles;
  std::uint64_t ttl_seconds = 3600;
  std::string audience;
};

// Prints a token (or {"token": ...} with --json).
int MintToken(const Context& c, const TokenArgs& args);

// Drives every run until SIGINT or SIGTERM; with --listen, serves the HTTP
// API on the same engine.
int Serve(const Context& c, const ServeArgs& args);

// --- Shared by the commands (here and in query_commands.h) ---

// Prints `s` as an error (stderr, or JSON on stdout with c.json) and returns
// its exit status. Damage (Corruption) is named with c.data_dir (NameJournal).
int Fail(const Context& c, const Status& s);
// The journal in c.data_dir, read-only: works beside a running writer (an
// engine, `rewind serve`) and on a copy. NotFound when there is no journal;
// journal_open.h's OpenReadOnly. The commands that write open the journal as
// its writer, which refuses a damaged one (journal_open.h).
Result<std::unique_ptr<Journal>> OpenReadOnly(const Context& c);

}  // namespace rwd::cli
