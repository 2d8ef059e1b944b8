#include "rewind/server/client.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace rwd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

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

std::string ServerUrl::ToString() const { return "http://" + HostHeader(*this); }

Result<ServerUrl> ParseServerUrl(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Err(Code::kInvalidArgument, "server url '" + std::string(text) + "': " + why);
  };
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    return bad(text.substr(0, 8) == "https://" ? "https is not served yet; use http:// on a trusted network"
                                               : "expected http://HOST:PORT");
  }
  std::string_view rest = text.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("expected no path after HOST:PORT");
  ServerUrl url;
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

HttpAnswer Http(const ServerUrl& url, const HttpCall& call) {
  HttpAnswer answer;
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::milliseconds(call.timeout_ms));
    stream.connect(Resolve(io, url));
    http::request<http::string_body> req(http::string_to_verb(call.method), call.target, 11);
    req.set(http::field::host, HostHeader(url));
    if (!call.token.empty()) req.set(http::field::authorization, "Bearer " + call.token);
    for (const auto& [name, value] : call.headers) req.set(name, value);
    if (!call.body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = call.body;
    req.keep_alive(false);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream, buffer, parser);
    const auto& res = parser.get();
    answer.status = res.result_int();
    for (const auto& field : res) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      answer.headers[name] = std::string(field.value());
    }
    answer.body = res.body();
  } catch (const std::exception& e) {
    answer.status = 0;
    answer.error = e.what();
  }
  return answer;
}

struct SseClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
};

SseClient::SseClient(std::uint16_t port, const std::string& target, const std::string& token,
                     const std::string& last_event_id)
    : SseClient(ServerUrl{"127.0.0.1", port}, target, token, last_event_id) {}

SseClient::SseClient(const ServerUrl& url, const std::string& target, const std::string& token,
                     const std::string& last_event_id)
    : impl_(std::make_unique<Impl>()) {
  try {
    impl_->socket.connect(Resolve(impl_->io, url));
    std::string request =
        "GET " + target + " HTTP/1.1\r\nHost: " + HostHeader(url) + "\r\nAccept: text/event-stream\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    if (!last_event_id.empty()) request += "Last-Event-ID: " + last_event_id + "\r\n";
    request += "\r\n";
    asio::write(impl_->socket, asio::buffer(request));
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

void SseClient::Wait(int timeout_ms) {
  pollfd p{impl_->socket.native_handle(), POLLIN, 0};
  ::poll(&p, 1, timeout_ms);
}

const std::vector<SseEvent>& SseClient::Poll() {
  while (!closed_ && ReadSome()) {
  }
  return events_;
}

bool SseClient::ReadSome() {
  // Read what is there without blocking.
  impl_->socket.non_blocking(true);
  char buf[8192];
  beast::error_code ec;
  const std::size_t n = impl_->socket.read_some(asio::buffer(buf), ec);
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
