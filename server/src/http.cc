#include "server/src/http.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <optional>
#include <set>
#include <thread>

#include "rewind/base/bytes.h"
#include "rewind/base/log.h"
#include "rewind/base/mutex.h"
#include "rewind/server/api_json.h"

namespace rwd::server_internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;

}  // namespace

std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string name(pair.substr(0, eq)), value(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    for (std::string* s : {&name, &value}) {
      for (char& c : *s) c = c == '+' ? ' ' : c;  // form encoding: '+' is a space in queries
    }
    auto n = PercentDecode(name);
    auto v = PercentDecode(value);
    if (!n || !v) return std::nullopt;
    out[*n] = *v;
  }
  return out;
}

Response Problem(int status, std::string_view code, const std::string& detail) {
  const nlohmann::json body{{"type", "about:blank"},
                            {"title", std::string(http::obsolete_reason(static_cast<http::status>(status)))},
                            {"status", status},
                            {"detail", detail},
                            {"code", code}};
  return Response{status, "application/problem+json", server::JsonText(body), {}, nullptr};
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    std::uint8_t byte = 0;
    if (i + 2 >= text.size() || !HexDecode(text.substr(i + 1, 2), std::span<std::uint8_t>(&byte, 1))) {
      return std::nullopt;
    }
    out += static_cast<char>(byte);
    i += 2;
  }
  return out;
}

// A connection, whatever its stream: what the server holds and closes.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Close() = 0;
  // A streamed answer has something new to write (io thread).
  virtual void Wake() = 0;
};

// Everything the io thread, the pool and the destructor share.
struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  HttpOptions options;
  Handler handler;
  IsQuick quick;
  asio::io_context io{1};
  // Keeps the io thread running until the destructor has handed it the last
  // work (a handler left queued after it stops would keep this State alive).
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  asio::thread_pool pool;
  std::thread io_thread;
  std::atomic<std::uint16_t> port{0};
  std::optional<ssl::context> tls;  // set: every connection speaks TLS
  std::size_t streams = 0;          // io thread only: streamed answers in progress
  std::set<std::shared_ptr<Connection>> sessions;  // io thread only
  bool stopping = false;                        // io thread only
  // Streams with something new to write, marked from the feed's thread and
  // woken together by one sweep on the io thread, after the coalescing
  // interval (HttpOptions::stream_coalesce_per_client): one hand-off per
  // interval, not one per stream per commit.
  Mutex ready_mu;
  std::vector<std::weak_ptr<Connection>> ready REWIND_GUARDED_BY(ready_mu);
  bool sweep_due REWIND_GUARDED_BY(ready_mu) = false;
  asio::steady_timer sweep{io};

  State(HttpOptions o, Handler h, IsQuick q)
      : options(std::move(o)), handler(std::move(h)), quick(std::move(q)), pool(std::max(1u, options.threads)) {}
  void Accept();
  // Marks `stream` ready and makes sure a sweep will wake it (any thread).
  void MarkReady(std::weak_ptr<Connection> stream) REWIND_EXCLUDES(ready_mu) {
    {
      MutexLock lock(ready_mu);
      ready.push_back(std::move(stream));
      if (sweep_due) return;
      sweep_due = true;
    }
    // Held weakly until it runs: posted after the io thread stopped, it
    // must not keep the server alive.
    asio::post(io, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      const auto interval = std::min(std::chrono::microseconds(50'000),
                                     self->options.stream_coalesce_per_client * static_cast<long>(self->streams));
      self->sweep.expires_after(interval);
      self->sweep.async_wait([self](beast::error_code) { self->Sweep(); });
    });
  }
  // Wakes every stream marked ready (io thread).
  void Sweep() REWIND_EXCLUDES(ready_mu) {
    std::vector<std::weak_ptr<Connection>> woken;
    {
      MutexLock lock(ready_mu);
      woken.swap(ready);
      sweep_due = false;
    }
    for (const auto& weak : woken) {
      if (auto c = weak.lock()) c->Wake();
    }
  }
  // The handler's answer; a handler that throws gets 500.
  Response Answer(const Request& r) const {
    try {
      return handler(r);
    } catch (const std::exception& e) {
      spdlog::error("request {} {} failed: {}", r.method, r.path, e.what());
      return Problem(500, "internal", "the request failed inside the server");
    }
  }
};

// A connection over `Stream`: beast::tcp_stream, or an ssl_stream of one
// (which shakes hands first).
template <typename Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, std::shared_ptr<HttpServer::State> server)
      : stream_(std::move(stream)), server_(std::move(server)) {}

  void Start() {
    if constexpr (kTls) {
      Tcp().expires_after(server_->options.idle_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->Done();  // not TLS, or a handshake that failed: nothing to answer
        self->Read();
      });
    } else {
      Read();
    }
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    Tcp().expires_after(server_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->OnRead(ec);
    });
  }

  void Close() override {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

  void Wake() override {
    if (!waiting_) return;
    waiting_ = false;
    Pump();
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Reply(Problem(413, "resource_exhausted",
                           "the body is over " + std::to_string(server_->options.max_body_bytes) + " bytes"),
                   false);
    }
    if (ec == http::error::header_limit) {
      return Reply(Problem(431, "resource_exhausted",
                           "the headers are over " + std::to_string(server_->options.max_header_bytes) + " bytes"),
                   false);
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof || ec.category() == asio::error::get_ssl_category() ||
        ec == ssl::error::stream_truncated) {
      return Done();
    }
    if (ec) return Reply(Problem(400, "invalid_argument", "not an HTTP/1.1 request"), false);
    http::request<http::string_body> req = parser_->release();
    const bool keep_alive = req.keep_alive();
    Request r;
    r.method = std::string(req.method_string());
    const std::string_view target(req.target().data(), req.target().size());
    const std::size_t q = target.find('?');
    r.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) {
      auto query = ParseQuery(target.substr(q + 1));
      if (!query) return Reply(Problem(400, "invalid_argument", "the query string is not percent-encoded"), keep_alive);
      r.query = std::move(*query);
    }
    if (auto it = req.find(http::field::authorization); it != req.end()) r.authorization = std::string(it->value());
    if (auto it = req.find(http::field::if_match); it != req.end()) r.if_match = std::string(it->value());
    if (auto it = req.find(http::field::if_none_match); it != req.end()) r.if_none_match = std::string(it->value());
    if (auto it = req.find("Last-Event-ID"); it != req.end()) r.last_event_id = std::string(it->value());
    r.body = std::move(req.body());
    if (server_->quick && server_->quick(r)) return Reply(server_->Answer(r), keep_alive);
    Tcp().expires_never();  // the handler may take its time, up to request_timeout
    const std::uint64_t request = ++requests_;
    deadline_.expires_after(server_->options.request_timeout);
    deadline_.async_wait([weak = std::weak_ptr<Session>(this->shared_from_this()), request](beast::error_code e) {
      auto self = weak.lock();
      if (e || !self || self->answered_ == request) return;
      self->answered_ = request;
      self->Reply(Problem(503, "unavailable", "the request took too long and was given up; it may still take effect: "
                                              "look before repeating it"),
                  false);
    });
    asio::post(server_->pool, [self = this->shared_from_this(), r = std::move(r), keep_alive, request]() mutable {
      Response response = self->server_->Answer(r);
      asio::post(self->stream_.get_executor(), [self, response = std::move(response), keep_alive, request]() mutable {
        if (self->answered_ == request) return;  // given up on already
        self->answered_ = request;
        self->deadline_.cancel();
        self->Reply(std::move(response), keep_alive);
      });
    });
  }

  void Reply(Response r, bool keep_alive) {
    if (r.stream) return StartStream(std::move(r));
    if (server_->stopping) keep_alive = false;
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "rewind");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    Tcp().expires_after(server_->options.idle_timeout);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) {
        self->Close();
        return self->Done();
      }
      self->Read();
    });
  }

  void Done() {
    Close();
    if (events_) {
      events_->Close();
      events_.reset();
      heartbeat_.cancel();
      ends_.cancel();
      --server_->streams;
    }
    deadline_.cancel();
    server_->sessions.erase(this->shared_from_this());
  }

  // A streamed answer: the header, then whatever the stream has, until it
  // ends or the client goes away (a write fails; a heartbeat finds it).
  void StartStream(Response r) {
    events_ = std::move(r.stream);
    ++server_->streams;
    auto res = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "rewind");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(false);  // the stream ends with the connection
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    // Called from the feed's thread, maybe after this session and the
    // server are gone: both are held weakly.
    events_->OnReady([session = std::weak_ptr<Connection>(this->shared_from_this()),
                      server = std::weak_ptr<HttpServer::State>(server_)] {
      if (auto s = server.lock()) s->MarkReady(session);
    });
    Tcp().expires_never();  // the watch below waits as long as the stream lasts
    Watch();
    if (auto ends = events_->EndsAt()) {
      ends_.expires_at(*ends);
      ends_.async_wait([weak = std::weak_ptr<Session>(this->shared_from_this())](beast::error_code ec) {
        if (auto self = weak.lock(); self && !ec) self->Done();
      });
    }
    Tcp().expires_after(server_->options.idle_timeout);  // the watch is pending: this is the header write's
    http::async_write_header(stream_, *serializer,
                             [self = this->shared_from_this(), res, serializer](beast::error_code ec, std::size_t) {
                               if (ec) return self->Done();
                               self->Beat();
                               self->Pump();
                             });
  }

  // A stream's client sends nothing after its request, so a read that
  // completes means it went away (or broke the protocol): the stream ends
  // then, not at its next write, which a finished run's stream may never
  // have.
  void Watch() {
    auto scrap = std::make_shared<std::array<char, 64>>();
    stream_.async_read_some(asio::buffer(*scrap), [self = this->shared_from_this(), scrap](beast::error_code, std::size_t) {
      self->Done();
    });
  }

  void Pump() {
    if (!events_) return;
    auto next = events_->Next();
    if (!next) return Done();
    if (next->empty()) {
      waiting_ = true;
      return;
    }
    Write(std::move(*next));
  }

  void Write(Pieces pieces) {
    // A client that cannot take in one write (at most a batch of events)
    // in this long is gone, or too slow to ever catch up: the stream ends,
    // to be reconnected from its last id.
    Tcp().expires_after(server_->options.idle_timeout);
    auto held = std::make_shared<Pieces>(std::move(pieces));
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(held->size());
    for (const auto& piece : *held) buffers.emplace_back(piece->data(), piece->size());
    asio::async_write(stream_, buffers, [self = this->shared_from_this(), held](beast::error_code ec, std::size_t) {
      if (ec) return self->Done();
      self->Rest();
    });
  }

  // After a write, the stream's next one waits for the next sweep: a busy
  // stream then writes once per coalescing interval, with all it got
  // meanwhile, rather than once per commit.
  void Rest() {
    waiting_ = true;
    server_->MarkReady(this->weak_from_this());
  }

  // While the stream waits, a comment line now and then: a client that went
  // away makes the write fail, and proxies keep the connection open.
  void Beat() {
    heartbeat_.expires_after(server_->options.stream_heartbeat);
    heartbeat_.async_wait([weak = std::weak_ptr<Session>(this->shared_from_this())](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->events_) return;
      if (self->waiting_) {
        self->waiting_ = false;
        static const auto kKeepalive = std::make_shared<const std::string>(": keepalive\n\n");
        self->Write({kKeepalive});
      }
      self->Beat();
    });
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<StreamBody> events_;  // a streamed answer in progress
  bool waiting_ = false;                // the stream had nothing; its wake pumps again
  asio::steady_timer heartbeat_{stream_.get_executor()};
  asio::steady_timer ends_{stream_.get_executor()};      // of a stream whose credential expires
  asio::steady_timer deadline_{stream_.get_executor()};  // of the request in the handler's hands
  std::uint64_t requests_ = 0;  // io thread only: requests read
  std::uint64_t answered_ = 0;  // io thread only: the last one answered
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpServer::State> server_;
};

void HttpServer::State::Accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec || self->stopping) return;
    socket.set_option(tcp::no_delay(true), ec);  // an answer goes out whole at once, never held back
    if (self->sessions.size() >= self->options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);  // over the limit: the client may try again later
    } else {
      if (self->tls) {
        using Tls = beast::ssl_stream<beast::tcp_stream>;
        auto session = std::make_shared<Session<Tls>>(Tls(beast::tcp_stream(std::move(socket)), *self->tls), self);
        self->sessions.insert(session);
        session->Start();
      } else {
        auto session = std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), self);
        self->sessions.insert(session);
        session->Start();
      }
    }
    self->Accept();
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpOptions& options, Handler handler, IsQuick quick) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.address, ec);
  if (ec) return Err(Code::kInvalidArgument, "'" + options.address + "' is not an IP address");
  auto state = std::make_shared<State>(options, std::move(handler), std::move(quick));
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    state->tls.emplace(ssl::context::tls_server);
    state->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    if (state->tls->use_certificate_chain_file(options.tls_cert_file, ec); ec) {
      return Err(Code::kInvalidArgument, "TLS certificate '" + options.tls_cert_file + "': " + ec.message());
    }
    if (state->tls->use_private_key_file(options.tls_key_file, ssl::context::pem, ec); ec) {
      return Err(Code::kInvalidArgument, "TLS key '" + options.tls_key_file + "': " + ec.message());
    }
    if (SSL_CTX_check_private_key(state->tls->native_handle()) != 1) {
      return Err(Code::kInvalidArgument,
                 "TLS key '" + options.tls_key_file + "' is not the key of '" + options.tls_cert_file + "'");
    }
  }
  const tcp::endpoint endpoint(address, options.port);
  const std::string where = options.address + ":" + std::to_string(options.port);
  if (state->acceptor.open(endpoint.protocol(), ec); ec) {
    return Err(Code::kUnavailable, "cannot listen on " + where + ": " + ec.message());
  }
  state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (state->acceptor.bind(endpoint, ec); ec) return Err(Code::kUnavailable, "cannot listen on " + where + ": " + ec.message());
  if (state->acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Err(Code::kUnavailable, "cannot listen on " + where + ": " + ec.message());
  }
  state->port = state->acceptor.local_endpoint().port();
  state->Accept();
  PrepareLogging();
  state->io_thread = std::thread([s = state.get()] { s->io.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::~HttpServer() {
  // No new connections or requests; the requests in flight finish (their
  // answers are written if their connection still stands), then every
  // connection closes.
  asio::dispatch(state_->io, [s = state_] {
    s->stopping = true;
    beast::error_code ignored;
    s->acceptor.close(ignored);
  });
  state_->pool.join();
  asio::post(state_->io, [s = state_] {
    for (const auto& session : std::set<std::shared_ptr<Connection>>(s->sessions)) session->Close();
    s->sessions.clear();
  });
  // The io thread ends when the last connection's handlers have run.
  state_->work.reset();
  state_->io_thread.join();
}

std::uint16_t HttpServer::port() const { return state_->port; }

}  // namespace rwd::server_internal
