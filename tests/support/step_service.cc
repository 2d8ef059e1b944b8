#include "tests/support/step_service.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "rewind/base/base64.h"
#include "rewind/base/jwt.h"

namespace rwd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::unexpected<Status> Refused(std::string why) { return Err(Code::kUnauthenticated, std::move(why)); }

std::optional<json> JsonPart(std::string_view part) {
  const auto bytes = Base64UrlDecode(part);
  if (!bytes) return std::nullopt;
  json j = json::parse(bytes->begin(), bytes->end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

Result<json> VerifyStepToken(std::string_view authorization, std::string_view secret, std::string_view audience,
                             std::int64_t now_unix) {
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer)) return Refused("no bearer token");
  const std::string_view token = authorization.substr(kBearer.size());
  const std::size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  if (dot1 == std::string_view::npos || dot1 == dot2) return Refused("not a JWT");
  const auto header = JsonPart(token.substr(0, dot1));
  if (!header || header->value("alg", "") != "HS256" || header->value("typ", "") != "JWT") {
    return Refused("the header is not {alg: HS256, typ: JWT}");
  }
  const auto mac = HmacSha256(secret, token.substr(0, dot2));
  if (!mac || Base64UrlDecode(token.substr(dot2 + 1)) != *mac) return Refused("the signature does not verify");
  auto claims = JsonPart(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!claims) return Refused("the claims are not a JSON object");
  if (claims->value("sub", "") != "rewind") return Refused("sub is not rewind");
  if (claims->value("aud", "") != audience) return Refused("aud is not " + std::string(audience));
  if (!(*claims)["exp"].is_number_integer() || (*claims)["exp"].get<std::int64_t>() <= now_unix) {
    return Refused("expired");
  }
  if (!(*claims)["iat"].is_number_integer() || (*claims)["iat"].get<std::int64_t>() > now_unix) {
    return Refused("issued in the future");
  }
  return *claims;
}

struct StepService::Impl {
  std::string secret;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;

  std::mutex script_mu;
  Script script;  // guarded by script_mu
  mutable std::mutex mu;
  mutable std::condition_variable changed;
  std::string audience;
  std::vector<Hit> hits;
  std::size_t hangs_closed = 0;

  Reply Record(Hit hit) {
    {
      std::lock_guard lock(mu);
      hits.push_back(hit);
      changed.notify_all();
    }
    std::lock_guard lock(script_mu);  // a script may keep state: called, not copied
    return script ? script(hit) : Reply{};
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    auto [read_error, read] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (read_error) co_return;
    const http::request<http::string_body>& req = parser.get();
    Hit hit;
    hit.method = std::string(req.method_string());
    hit.target = std::string(req.target());
    hit.content_type = std::string(req[http::field::content_type]);
    hit.user_agent = std::string(req[http::field::user_agent]);
    hit.authorization = std::string(req[http::field::authorization]);
    hit.idempotency_key = std::string(req["Idempotency-Key"]);
    hit.body = req.body();
    hit.json = json::parse(hit.body, nullptr, /*allow_exceptions=*/false);
    {
      std::lock_guard lock(mu);
      const auto now =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      hit.claims = VerifyStepToken(hit.authorization, secret, audience, now);
    }
    const Reply reply = Record(std::move(hit));
    if (reply.close) co_return;
    if (reply.hang) {
      char byte = 0;
      co_await stream.socket().async_read_some(asio::buffer(&byte, 1), kNoThrow);
      std::lock_guard lock(mu);
      ++hangs_closed;
      changed.notify_all();
      co_return;
    }
    http::response<http::string_body> res;
    res.version(11);
    res.result(reply.status);
    for (const auto& [name, value] : reply.headers) res.set(name, value);
    res.body() = reply.body;
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(stream, res, kNoThrow);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      auto [error, socket] = co_await acceptor.async_accept(kNoThrow);
      if (error) co_return;
      asio::co_spawn(io, Serve(std::move(socket)), asio::detached);
    }
  }
};

StepService::StepService(std::string secret) : impl_(std::make_unique<Impl>()) {
  impl_->secret = std::move(secret);
  const tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(any.protocol());
  impl_->acceptor.bind(any);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->audience = Origin();
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

StepService::~StepService() {
  impl_->io.stop();
  impl_->thread.join();
}

ClosedPort::ClosedPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot bind a port on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
}

ClosedPort::~ClosedPort() { ::close(fd_); }

std::string StepService::Origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

void StepService::Answer(Script script) {
  std::lock_guard lock(impl_->script_mu);
  impl_->script = std::move(script);
}

void StepService::ExpectAudience(std::string audience) {
  std::lock_guard lock(impl_->mu);
  impl_->audience = std::move(audience);
}

std::vector<StepService::Hit> StepService::Hits() const {
  std::lock_guard lock(impl_->mu);
  return impl_->hits;
}

std::size_t StepService::HitCount() const {
  std::lock_guard lock(impl_->mu);
  return impl_->hits.size();
}

std::size_t StepService::HitCount(std::string_view target) const {
  std::lock_guard lock(impl_->mu);
  return static_cast<std::size_t>(
      std::count_if(impl_->hits.begin(), impl_->hits.end(), [&](const Hit& h) { return h.target == target; }));
}

bool StepService::AwaitHits(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->hits.size() >= n; });
}

bool StepService::AwaitHangsClosed(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->hangs_closed >= n; });
}

}  // namespace rwd::test
