// Server: the engine's HTTP/1.1 API, in the process that drives the runs.
//
// While one process holds a journal for writing nobody else can act on it;
// the server is how operators, services and the Run Console reach that
// process. `rewind serve --listen` runs one; a service that embeds the engine
// mounts its own on its engine the same way (examples/embed_server.cc).
//
// Routes (JSON; the tenant in the path; README "Server API" and
// GET /v1/openapi.json list every field):
//   GET  /healthz, /readyz                         liveness; readiness
//   GET  /v1/me                                    who the credential says the caller is
//   GET  /v1/workflows                             the workflows POST …/runs starts, with their hashes
//   GET  /v1/tenants/{t}/runs                      the run index, paged
//   GET  /v1/tenants/{t}/runs/{id}                 the state (?at_seq, ?at_step); ETag: its seq
//   GET  /v1/tenants/{t}/runs/{id}/events          the events with their hashes (?after_seq)
//   GET  /v1/tenants/{t}/runs/{id}/timeline        who did what and why
//   POST /v1/tenants/{t}/runs                      start a run of a served workflow: 201
//   POST /v1/tenants/{t}/runs/{id}/resume          resume from a step (If-Match: the seq)
//   POST /v1/tenants/{t}/runs/{id}/approvals/{s}   approve or reject a gate
//   POST /v1/tenants/{t}/runs/{id}/pause, /cancel, /fork, /signals/{name}
//   GET  /v1/tenants/{t}/stream, /v1/tenants/{t}/runs/{id}/stream
//        Server-Sent Events: every event appended (of the tenant, or of the
//        run), "id:" its journal position, "data:" the event as the events
//        route shows it. A client reconnecting with Last-Event-ID (or
//        ?after=POSITION) gets what it missed from the journal, across
//        server restarts, with no gap and no duplicate. Nothing is held
//        per client but its position: a slow client reads older events
//        from the journal at its own pace and slows nobody; one that
//        cannot take in a write within idle_timeout is closed, to
//        reconnect.
//
// Every request but /healthz and /readyz is authenticated (auth.h) and its
// principal goes through the engine's Authorizer. A run of another tenant,
// and a path naming another tenant, is 404 exactly as an unknown run. Errors
// are application/problem+json (RFC 9457) with the Status code's name:
//   400 invalid_argument (a malformed body names the field), 401
//   unauthenticated, 403 permission_denied, 404 not_found, 405 a method the
//   route does not have, 409 conflict, 412 failed_precondition, 413 a body
//   over max_body_bytes, 431 headers over max_header_bytes, 500 corruption
//   or internal, 503 unavailable, 507 resource_exhausted.
//
// Threads: one io thread accepts and reads and writes every connection. It
// answers the requests that cannot block itself: health, the OpenAPI
// document, /v1/me, /v1/workflows and a run's current state (Engine::State
// reads the journal, never waiting for the run; the state and its JSON are
// cached by the run's seq, a verified token by its text). The others, whose
// engine calls block until their events are durable, run on a pool of
// `threads`; their answer is written back by the io thread. A slow client
// holds only its own connection. An event's stream text is made once, kept
// in a window of recent events shared by every stream, and written to each
// as a gathered write; a busy stream is written once per coalescing
// interval (20 µs × streams, at most 50 ms) with all it got meanwhile.
//
// Thread-safety: Start and the destructor from one thread; port() from any.
// The engine must outlive the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/server/auth.h"

namespace rwd::server {

struct ServerOptions {
  // Where to listen. Loopback unless told otherwise; port 0 takes any free
  // port (port() tells which).
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  // Who may call (required).
  std::shared_ptr<const Authenticator> auth;
  // The workflows POST …/runs may start (Workflow::Definition() of those the
  // engine was given), by name; GET /v1/workflows lists them. The API never
  // accepts commands to execute.
  std::vector<RunStarted> workflows;
  unsigned threads = 4;                       // request pool
  std::size_t max_body_bytes = 1 << 20;       // 413 above
  std::size_t max_header_bytes = 16 << 10;    // 431 above
  std::size_t max_connections = 1024;         // further connections are closed at once
  std::chrono::seconds idle_timeout{60};      // a connection silent this long is closed
  // A request the engine has not answered by then gets 503 (what it asked
  // may still take effect).
  std::chrono::milliseconds request_timeout{30'000};
  std::size_t max_streams_per_tenant = 256;   // event streams of one tenant at once (507 above)
  std::chrono::seconds stream_heartbeat{15};  // a comment line on a quiet stream
  // Both set: TLS (1.2 or later) on every connection, with this certificate
  // chain and key (PEM files); InvalidArgument naming a file that will not do.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Seconds since the Unix epoch, for token expiry. Tests drive it.
  std::function<std::int64_t()> clock;
};

class Server {
 public:
  // Binds and starts serving. InvalidArgument for a bad address or no
  // authenticator; Unavailable when the address cannot be bound (in use,
  // not permitted).
  static Result<std::unique_ptr<Server>> Start(Engine& engine, ServerOptions options);
  // Stops: the listener closes, connections are closed, requests in flight
  // finish first.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwd::server
