#include "executor/src/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <stop_token>

namespace rwd::http_internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// Interim (1xx) answers skipped before the exchange counts as malformed.
constexpr int kMaxInterimAnswers = 8;

// What one exchange works on; everything outlives the coroutine (Post runs
// the io_context to its end before they go).
struct Exchange {
  const HttpUrl& url;
  tcp::resolver& resolver;
  beast::tcp_stream& stream;
  http::request<http::string_body>& request;
  std::size_t body_limit;
};

std::string Described(const HttpUrl& url) { return "POST " + url.Origin() + url.target; }

asio::awaitable<Result<Answer>> Run(Exchange x) {
  auto [resolve_error, endpoints] = co_await x.resolver.async_resolve(x.url.host, std::to_string(x.url.port), kNoThrow);
  if (resolve_error) {
    co_return Err(Code::kUnavailable, "cannot resolve " + x.url.host + ": " + resolve_error.message());
  }
  auto [connect_error, endpoint] = co_await x.stream.async_connect(endpoints, kNoThrow);
  if (connect_error) {
    co_return Err(Code::kUnavailable, "cannot connect to " + x.url.Authority() + ": " + connect_error.message());
  }
  // A service may answer and close before it has read the whole request:
  // its answer counts all the same, so a failed write is reported only when
  // no answer follows.
  auto [write_error, written] = co_await http::async_write(x.stream, x.request, kNoThrow);
  beast::flat_buffer buffer;
  for (int interim = 0;; ++interim) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(x.body_limit);
    auto [read_error, read] = co_await http::async_read(x.stream, buffer, parser, kNoThrow);
    if (read_error == http::error::body_limit && parser.is_header_done()) {
      Answer answer;
      answer.status = parser.get().result_int();
      answer.location = std::string(parser.get()[http::field::location]);
      answer.body_over_limit = true;
      co_return answer;
    }
    if (read_error) {
      const bool closed = read_error == http::error::end_of_stream || read_error == asio::error::eof ||
                          read_error == http::error::partial_message;
      const std::string what = write_error ? "sending the request failed: " + write_error.message()
                               : closed    ? "the connection closed before a complete answer"
                                           : "reading the answer failed: " + read_error.message();
      co_return Err(Code::kUnavailable, Described(x.url) + ": " + what);
    }
    http::response<http::string_body> response = parser.release();
    if (response.result_int() < 200 && interim < kMaxInterimAnswers) continue;
    Answer answer;
    answer.status = response.result_int();
    answer.location = std::string(response[http::field::location]);
    answer.body = std::move(response.body());
    co_return answer;
  }
}

}  // namespace

Result<Answer> Post(const HttpUrl& url, const Headers& headers, std::string body, std::size_t body_limit,
                    const std::stop_token& stop) {
  if (stop.stop_requested()) return Err(Code::kUnavailable, "stopped (timeout, cancel or shutdown) before sending");
  asio::io_context io(1);
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::string_body> request(http::verb::post, url.target, 11);
  request.set(http::field::host, url.Authority());
  for (const auto& [name, value] : headers) request.set(name, value);
  request.keep_alive(false);
  request.body() = std::move(body);
  request.prepare_payload();

  Result<Answer> result = Err(Code::kInternal, Described(url) + ": the exchange did not finish");
  asio::co_spawn(io, Run(Exchange{url, resolver, stream, request, body_limit}),
                 [&result, &url](const std::exception_ptr& thrown, Result<Answer> answer) {
                   if (thrown) {
                     result = Err(Code::kInternal, Described(url) + ": the exchange threw");
                   } else {
                     result = std::move(answer);
                   }
                 });
  bool stopped = false;
  {
    // Runs on the thread that asks to stop; the close itself runs here, on
    // the io_context's thread, as Asio objects are not thread-safe.
    const std::stop_callback on_stop(stop, [&] {
      asio::post(io, [&] {
        stopped = true;
        resolver.cancel();
        beast::error_code ignored;
        stream.socket().close(ignored);
      });
    });
    io.run();
  }
  if (stopped) return Err(Code::kUnavailable, Described(url) + ": stopped (timeout, cancel or shutdown)");
  return result;
}

}  // namespace rwd::http_internal
