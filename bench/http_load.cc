#include "bench/http_load.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace rwd::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One connection of the generator: write the request, read the answer, again.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, const std::string& request, const bool& stop, std::uint64_t& answered,
         std::optional<std::string>& failure)
      : stream_(io), request_(request), stop_(stop), answered_(answered), failure_(failure) {}

  void Start(std::uint16_t port) {
    beast::error_code ec;
    stream_.socket().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return Fail("connect: " + ec.message());
    stream_.socket().set_option(tcp::no_delay(true), ec);
    Send();
  }
  void Close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void Send() {
    asio::async_write(stream_, asio::buffer(request_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Fail("write: " + ec.message());
      self->Receive();
    });
  }
  void Receive() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Fail("read: " + ec.message());
      if (self->parser_->get().result_int() != 200) {
        return self->Fail("answered " + std::to_string(self->parser_->get().result_int()) + ": " +
                          self->parser_->get().body());
      }
      ++self->answered_;
      if (!self->stop_) self->Send();
    });
  }
  void Fail(std::string what) {
    if (!stop_ && !failure_) failure_ = std::move(what);
  }

  beast::tcp_stream stream_;
  const std::string& request_;
  const bool& stop_;
  std::uint64_t& answered_;
  std::optional<std::string>& failure_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

}  // namespace

Result<LoadResult> GetLoad(std::uint16_t port, const std::string& target, const std::string& token,
                           unsigned connections, double seconds) {
  asio::io_context io(1);
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "\r\n";
  bool stop = false;
  std::uint64_t answered = 0;
  std::optional<std::string> failure;
  std::vector<std::shared_ptr<Client>> clients;
  for (unsigned i = 0; i < connections; ++i) {
    clients.push_back(std::make_shared<Client>(io, request, stop, answered, failure));
    clients.back()->Start(port);
  }
  const auto start = std::chrono::steady_clock::now();
  asio::steady_timer end(io, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(seconds)));
  LoadResult result;
  end.async_wait([&](beast::error_code) {
    stop = true;  // requests in flight are answered; none is sent after
    result.answered = answered;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (auto& c : clients) c->Close();
  });
  io.run();
  if (failure) return Err(Code::kInternal, "GET " + target + ": " + *failure);
  return result;
}

// The floor server: accept, read a request with Beast, write the fixed answer.
struct FloorServer::State {
  std::string answer;  // the whole response, header and body
  asio::io_context io{1};  // destroyed before `answer`, which the sessions its handlers hold read
  tcp::acceptor acceptor{io};
  std::thread thread;

  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, const std::string& a) : stream(std::move(s)), answer(a) {}
    void Read() {
      request = {};
      http::async_read(stream, buffer, request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return;
        asio::async_write(self->stream, asio::buffer(self->answer), [self](beast::error_code e, std::size_t) {
          if (!e) self->Read();
        });
      });
    }
    beast::tcp_stream stream;
    const std::string& answer;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
  };

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), answer)->Read();
      Accept();
    });
  }
};

Result<std::unique_ptr<FloorServer>> FloorServer::Start(std::string body) {
  auto state = std::make_unique<State>();
  http::response<http::string_body> res(http::status::ok, 11);
  res.set(http::field::server, "floor");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  std::ostringstream text;
  text << res;
  state->answer = text.str();
  beast::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Err(Code::kUnavailable, "floor server: " + ec.message());
  state->Accept();
  state->thread = std::thread([s = state.get()] { s->io.run(); });
  return std::unique_ptr<FloorServer>(new FloorServer(std::move(state)));
}

FloorServer::FloorServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

FloorServer::~FloorServer() {
  state_->io.stop();
  state_->thread.join();
}

std::uint16_t FloorServer::port() const { return state_->acceptor.local_endpoint().port(); }

}  // namespace rwd::bench
