#include "rewind/server/client.h"

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
#include <thread>

namespace rwd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

HttpAnswer Http(std::uint16_t port, const HttpCall& call) {
  HttpAnswer answer;
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> req(http::string_to_verb(call.method), call.target, 11);
    req.set(http::field::host, "127.0.0.1");
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
  } catch (const std::exception&) {
    answer.status = 0;
  }
  return answer;
}

struct SseClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
};

SseClient::SseClient(std::uint16_t port, const std::string& target, const std::string& token,
                     const std::string& last_event_id)
    : impl_(std::make_unique<Impl>()) {
  try {
    impl_->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
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
    if (!ReadSome()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return events_;
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
