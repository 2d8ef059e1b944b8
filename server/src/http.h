// HTTP/1.1 on Boost.Beast, kept out of every other file: requests in, one
// response out per request, keep-alive, limits. What a request means is the
// handler's business (api.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rewind/base/status.h"

namespace rwd::server_internal {

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // the target before '?', still percent-encoded
  std::map<std::string, std::string> query;  // decoded; a repeated name keeps its last value
  std::string authorization;                 // header values, "" when absent
  std::string if_match;
  std::string if_none_match;
  std::string last_event_id;
  std::string body;
};

// Bytes to write, in pieces shared with whoever else sends them (an event's
// text goes to every stream that wants it): written as one gathered write,
// never copied into one buffer.
using Pieces = std::vector<std::shared_ptr<const std::string>>;

// A response body written as it comes (Server-Sent Events): after the
// header, the io thread asks Next for bytes, writes them, and asks again at
// the next sweep (HttpOptions::stream_coalesce_per_client); when Next has
// none (empty) it waits for the wake given to OnReady. The connection
// closes when Next returns nullopt, the client goes away, a write is not
// taken in within idle_timeout (then Close), or at EndsAt.
class StreamBody {
 public:
  virtual ~StreamBody() = default;
  virtual std::optional<Pieces> Next() = 0;
  virtual void OnReady(std::function<void()> wake) = 0;
  virtual void Close() = 0;
  // When the stream must end whatever it has (the credential that opened it
  // expires then); nullopt: never.
  virtual std::optional<std::chrono::steady_clock::time_point> EndsAt() const { return std::nullopt; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more headers (ETag, Location, Allow)
  std::shared_ptr<StreamBody> stream;  // set: `body` is not sent; the stream is, until it ends
};

// An error answer: application/problem+json (RFC 9457) with type
// about:blank, the status's HTTP title, `detail`, and "code" (a Status
// code's name).
Response Problem(int status, std::string_view code, const std::string& detail);

// Runs on the request pool; may block (engine calls wait for durability).
using Handler = std::function<Response(const Request&)>;
// True for a request the handler answers without blocking (reads of durable
// state, health): it is answered on the io thread, without the two hand-offs
// to the pool and back. Must itself be quick.
using IsQuick = std::function<bool(const Request&)>;

struct HttpOptions {
  std::string address;
  std::uint16_t port = 0;
  unsigned threads = 4;
  std::size_t max_body_bytes = 0;
  std::size_t max_header_bytes = 0;
  std::size_t max_connections = 0;
  std::chrono::seconds idle_timeout{60};
  // A handler that has not answered by then gets 503 for it (the connection
  // closes; what the handler does still takes effect).
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::seconds stream_heartbeat{15};  // a comment line on a quiet stream, to find dead clients
  // Streams with new events are written to together, this long times the
  // number of streams (at most 50 ms) after the first of them got some, and
  // a stream's next write waits for the next such sweep: with many streams,
  // each gets its events in fewer, larger writes, and the io thread is woken
  // once per interval rather than once per stream per commit.
  std::chrono::microseconds stream_coalesce_per_client{20};
  // Both set: every connection speaks TLS (1.2 or later) with this
  // certificate chain and key (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Percent-decodes `text` ('+' stays '+'); nullopt for a bad escape.
std::optional<std::string> PercentDecode(std::string_view text);
// A query string's name=value pairs, '+' a space, percent-decoded (a name
// given twice keeps its last value); nullopt when one does not decode.
std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view query);

class HttpServer {
 public:
  // InvalidArgument for an address that does not parse; Unavailable when it
  // cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpOptions& options, Handler handler,
                                                   IsQuick quick = nullptr);
  // Closes the listener, lets requests in flight finish, closes connections.
  ~HttpServer();
  std::uint16_t port() const;

  struct State;

 private:
  explicit HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace rwd::server_internal
