#include "rewind/server/server.h"

#include <chrono>

#include "server/src/api.h"
#include "server/src/http.h"

namespace rwd::server {

// Destroyed in reverse: the HTTP server first (its connections and their
// streams close), then the API, then the feed the streams subscribed to.
class Server::Impl {
 public:
  std::unique_ptr<server_internal::Feed> feed_;
  std::unique_ptr<server_internal::Api> api_;
  std::unique_ptr<server_internal::HttpServer> http_;
};

Result<std::unique_ptr<Server>> Server::Start(Engine& engine, ServerOptions options) {
  if (!options.auth) return Err(Code::kInvalidArgument, "a server needs an authenticator");
  if (!options.clock) {
    options.clock = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  auto impl = std::make_unique<Impl>();
  impl->feed_ = std::make_unique<server_internal::Feed>(
      engine.journal(), server_internal::FeedOptions{.max_per_tenant = options.max_streams_per_tenant});
  impl->api_ = std::make_unique<server_internal::Api>(
      engine, *impl->feed_, options.auth, options.workflows, options.clock);
  server_internal::HttpOptions http{.address = options.address,
                                    .port = options.port,
                                    .threads = options.threads,
                                    .max_body_bytes = options.max_body_bytes,
                                    .max_header_bytes = options.max_header_bytes,
                                    .max_connections = options.max_connections,
                                    .idle_timeout = options.idle_timeout,
                                    .request_timeout = options.request_timeout,
                                    .stream_heartbeat = options.stream_heartbeat,
                                    .tls_cert_file = options.tls_cert_file,
                                    .tls_key_file = options.tls_key_file};
  const server_internal::Api* api = impl->api_.get();
  REWIND_ASSIGN_OR_RETURN(impl->http_, server_internal::HttpServer::Start(
                                           http, [api](const server_internal::Request& r) { return api->Handle(r); },
                                           [api](const server_internal::Request& r) { return api->Quick(r); }));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

std::uint16_t Server::port() const { return impl_->http_->port(); }

}  // namespace rwd::server
