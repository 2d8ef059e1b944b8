// A blocking HTTP/1.1 client of a Rewind server, for the `rewind` CLI, tests
// and benchmarks: one request per connection, its whole answer read; or a
// stream of Server-Sent Events read as it comes. The port-only forms call
// 127.0.0.1. Boost.Beast stays in client.cc.
//
// Every exchange of Http is bounded by its call's timeout_ms.
//
// Thread-safety: Http from any thread; an SseClient from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rewind/base/status.h"

namespace rwd::server {

// Where a server is: "http://HOST:PORT" or "https://HOST:PORT" (a trailing
// "/" is allowed; IPv6 hosts in brackets). Over https the server's
// certificate must verify against the system's CAs or `ca_file` (PEM), and
// name `host` unless verify_host is off (a certificate pinned by ca_file).
struct ServerUrl {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  bool tls = false;
  std::string ca_file;
  bool verify_host = true;
  std::string ToString() const;
};
// InvalidArgument naming `text` unless it is such a url.
Result<ServerUrl> ParseServerUrl(std::string_view text);

struct HttpAnswer {
  int status = 0;     // 0: no answer (the connection failed or closed)
  std::string error;  // with status 0: why (e.g. "Connection refused")
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false); }
};

struct HttpCall {
  std::string method = "GET";
  std::string target;  // "/v1/..."
  std::string token;   // sent as "Authorization: Bearer <token>" when set
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int timeout_ms = 30'000;  // for the whole exchange
};

HttpAnswer Http(const ServerUrl& url, const HttpCall& call);
HttpAnswer Http(std::uint16_t port, const HttpCall& call);

// One Server-Sent Event.
struct SseEvent {
  std::uint64_t id = 0;
  nlohmann::json data;
};

// A stream client: connects and sends the request at construction, then
// reads events as they come.
class SseClient {
 public:
  SseClient(const ServerUrl& url, const std::string& target, const std::string& token,
            const std::string& last_event_id = "");
  SseClient(std::uint16_t port, const std::string& target, const std::string& token,
            const std::string& last_event_id = "");
  ~SseClient();
  // Reads until `done(events so far)` holds or `timeout_ms` passes; returns
  // every event read so far. Stops early when the server closes the stream.
  const std::vector<SseEvent>& ReadUntil(const std::function<bool(const std::vector<SseEvent>&)>& done,
                                         int timeout_ms = 10000);
  // Reads what has arrived, without waiting; returns every event read so far.
  const std::vector<SseEvent>& Poll();
  int status() const { return status_; }   // the answer's status (0 before it or on failure)
  bool attached() const { return attached_; }  // the stream said it is attached
  bool closed() const { return closed_; }  // the server ended the stream
  std::string head() const { return head_; }

 private:
  bool ReadSome();  // one non-blocking read, parsed; false when nothing came (or the stream ended)
  void Wait(int timeout_ms);  // until there is something to read, or the time passes
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string buffer_, head_;
  std::vector<SseEvent> events_;
  int status_ = 0;
  bool attached_ = false, closed_ = false;
};

}  // namespace rwd::server
