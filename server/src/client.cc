#include "rewind/server/client.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace rwd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;

namespace {

// The url's first endpoint (a name is resolved).
tcp::endpoint Resolve(asio::io_context& io, const ServerUrl& url) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(url.host, ec);
  if (!ec) return tcp::endpoint(address, url.port);
  tcp::resolver resolver(io);
  return *resolver.resolve(url.host, std::to_string(url.port)).begin();
}

std::string HostHeader(const ServerUrl& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  return (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
}

}  // namespace

std::string ServerUrl::ToString() const { return (tls ? "https://" : "http://") + HostHeader(*this); }

Result<ServerUrl> ParseServerUrl(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Err(Code::kInvalidArgument, "server url '" + std::string(text) + "': " + why);
  };
  ServerUrl url;
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    rest = text.substr(8);
    url.tls = true;
  } else {
    return bad("expected http://HOST:PORT or https://HOST:PORT");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("expected no path after HOST:PORT");
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == rest.size()) return bad("expected a port after the host");
  std::string_view host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad("expected a host");
  unsigned port = 0;
  const std::string_view digits = rest.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
    return bad("expected a port 1..65535");
  }
  url.host = std::string(host);
  url.port = static_cast<std::uint16_t>(port);
  return url;
}

HttpAnswer Http(std::uint16_t port, const HttpCall& call) { return Http(ServerUrl{"127.0.0.1", port}, call); }

namespace {

// A client TLS context trusting the system's CAs and the url's ca_file.
std::shared_ptr<ssl::context> TlsContext(const ServerUrl& url) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->set_default_verify_paths();
  if (!url.ca_file.empty()) ctx->load_verify_file(url.ca_file);
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

// Prepares `stream` (an ssl_stream) for a handshake with `url`'s host.
template <typename Tls>
void ForHost(Tls& stream, const ServerUrl& url) {
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
    throw beast::system_error(beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
  }
  if (url.verify_host) stream.set_verify_callback(ssl::host_name_verification(url.host));
}

// One exchange on a connected `stream`, every step bounded by the
// deadline (async operations: a tcp_stream times out only those).
template <typename Stream>
void Exchange(asio::io_context& io, Stream& stream, const HttpCall& call, const ServerUrl& url, HttpAnswer& answer) {
  http::request<http::string_body> req(http::string_to_verb(call.method), call.target, 11);
  req.set(http::field::host, HostHeader(url));
  if (!call.token.empty()) req.set(http::field::authorization, "Bearer " + call.token);
  for (const auto& [name, value] : call.headers) req.set(name, value);
  if (!call.body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = call.body;
  req.keep_alive(false);
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code failed;
  http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
    if (ec) {
      failed = ec;
      return;
    }
    http::async_read(stream, buffer, parser, [&](beast::error_code ec2, std::size_t) { failed = ec2; });
  });
  io.restart();
  io.run();
  if (failed) throw beast::system_error(failed);
  const auto& res = parser.get();
  answer.status = res.result_int();
  for (const auto& field : res) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    answer.headers[name] = std::string(field.value());
  }
  answer.body = res.body();
}

}  // namespace

HttpAnswer Http(const ServerUrl& url, const HttpCall& call) {
  HttpAnswer answer;
  try {
    asio::io_context io;
    beast::tcp_stream plain(io);
    plain.expires_after(std::chrono::milliseconds(call.timeout_ms));
    beast::error_code ec;
    plain.async_connect(Resolve(io, url), [&](beast::error_code e) { ec = e; });
    io.run();
    if (ec) throw beast::system_error(ec);
    if (!url.tls) {
      Exchange(io, plain, call, url, answer);
    } else {
      auto ctx = TlsContext(url);
      beast::ssl_stream<beast::tcp_stream> tls(std::move(plain), *ctx);
      ForHost(tls, url);
      tls.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
      io.restart();
      io.run();
      if (ec) throw beast::system_error(ec);
      Exchange(io, tls, call, url, answer);
    }
  } catch (const std::exception& e) {
    answer.status = 0;
    answer.error = e.what();
  }
  return answer;
}

struct SseClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  std::shared_ptr<ssl::context> ctx;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;  // over `socket`, for https

  // Bytes that can be read now, read; would_block when none.
  std::size_t ReadNow(asio::mutable_buffer into, beast::error_code& ec) {
    if (!tls) {
      socket.non_blocking(true);
      return socket.read_some(into, ec);
    }
    if (SSL_pending(tls->native_handle()) == 0 && !Readable(0)) {
      ec = asio::error::would_block;
      return 0;
    }
    return tls->read_some(into, ec);  // a record begun arrives whole soon
  }
  bool Readable(int timeout_ms) {
    if (tls && SSL_pending(tls->native_handle()) > 0) return true;
    pollfd p{socket.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }
};

SseClient::SseClient(std::uint16_t port, const std::string& target, const std::string& token,
                     const std::string& last_event_id)
    : SseClient(ServerUrl{"127.0.0.1", port}, target, token, last_event_id) {}

SseClient::SseClient(const ServerUrl& url, const std::string& target, const std::string& token,
                     const std::string& last_event_id)
    : impl_(std::make_unique<Impl>()) {
  try {
    impl_->socket.connect(Resolve(impl_->io, url));
    if (url.tls) {
      impl_->ctx = TlsContext(url);
      impl_->tls = std::make_unique<ssl::stream<tcp::socket&>>(impl_->socket, *impl_->ctx);
      ForHost(*impl_->tls, url);
      impl_->tls->handshake(ssl::stream_base::client);
    }
    std::string request =
        "GET " + target + " HTTP/1.1\r\nHost: " + HostHeader(url) + "\r\nAccept: text/event-stream\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    if (!last_event_id.empty()) request += "Last-Event-ID: " + last_event_id + "\r\n";
    request += "\r\n";
    if (impl_->tls) {
      asio::write(*impl_->tls, asio::buffer(request));
    } else {
      asio::write(impl_->socket, asio::buffer(request));
    }
  } catch (const std::exception&) {
    closed_ = true;
  }
}

SseClient::~SseClient() = default;

const std::vector<SseEvent>& SseClient::ReadUntil(const std::function<bool(const std::vector<SseEvent>&)>& done,
                                                  int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!closed_ && !(status_ != 0 && done(events_)) && std::chrono::steady_clock::now() < deadline) {
    if (!ReadSome()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      Wait(static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1000)));
    }
  }
  return events_;
}

void SseClient::Wait(int timeout_ms) { impl_->Readable(timeout_ms); }

const std::vector<SseEvent>& SseClient::Poll() {
  while (!closed_ && ReadSome()) {
  }
  return events_;
}

bool SseClient::ReadSome() {
  // Read what is there without blocking.
  char buf[8192];
  beast::error_code ec;
  const std::size_t n = impl_->ReadNow(asio::buffer(buf), ec);
  if (ec == asio::error::would_block) return false;
  if (ec) closed_ = true;
  buffer_.append(buf, n);
  if (status_ == 0) {
    const std::size_t end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) return !closed_;
    head_ = buffer_.substr(0, end);
    status_ = std::atoi(head_.c_str() + head_.find(' ') + 1);
    buffer_.erase(0, end + 4);
  }
  for (std::size_t at = buffer_.find("\n\n"); at != std::string::npos; at = buffer_.find("\n\n")) {
    const std::string block = buffer_.substr(0, at);
    buffer_.erase(0, at + 2);
    SseEvent e;
    bool has_data = false;
    std::size_t from = 0;
    while (from <= block.size()) {
      const std::size_t nl = std::min(block.find('\n', from), block.size());
      const std::string line = block.substr(from, nl - from);
      from = nl + 1;
      if (line.rfind(": attached", 0) == 0) attached_ = true;
      if (line.rfind("id: ", 0) == 0) std::from_chars(line.data() + 4, line.data() + line.size(), e.id);
      if (line.rfind("data: ", 0) == 0) {
        e.data = nlohmann::json::parse(line.substr(6), nullptr, false);
        has_data = true;
      }
    }
    if (has_data) events_.push_back(std::move(e));
  }
  return !closed_;
}

}  // namespace rwd::server
