// The HTTP layer on its own (server/src/http.h), with handlers of the test's
// own: a handler that does not answer in time gets 503 for it, and the
// server goes on serving.
#include "server/src/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_cert.h"

namespace rwd::server_internal {
namespace {

using namespace std::chrono_literals;

TEST(HttpTest, AHandlerThatDoesNotAnswerInTimeGets503AndTheServerGoesOn) {
  std::atomic<bool> release{false};
  std::atomic<int> finished{0};
  auto server = HttpServer::Start(
      HttpOptions{.address = "127.0.0.1", .threads = 2, .max_body_bytes = 1024, .max_header_bytes = 4096,
                  .max_connections = 16, .request_timeout = 200ms},
      [&](const Request& r) {
        if (r.path == "/slow") {
          while (!release.load()) std::this_thread::sleep_for(5ms);
          ++finished;
        }
        return Response{200, "application/json", "{}", {}, nullptr};
      });
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  const std::uint16_t port = (*server)->port();
  const auto t0 = std::chrono::steady_clock::now();
  const test::HttpAnswer slow = test::Http(port, {"GET", "/slow", "", "", {}});
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(slow.status, 503) << slow.body;
  EXPECT_NE(slow.body.find("may still take effect"), std::string::npos) << slow.body;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 5s);
  EXPECT_EQ(test::Http(port, {"GET", "/fast", "", "", {}}).status, 200) << "the other thread serves meanwhile";
  release = true;
  for (int i = 0; i < 200 && finished == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(finished.load(), 1) << "the handler ran to its end; its late answer went nowhere";
  EXPECT_EQ(test::Http(port, {"GET", "/fast", "", "", {}}).status, 200);
}

// With a certificate and key every connection speaks TLS: a client that
// trusts the certificate is answered (streams too), one that does not, or
// that speaks plain HTTP, is not; files that will not do are named.
TEST(HttpTest, TlsServesClientsThatTrustItsCertificate) {
  test::TempDir dir;
  const test::TlsFiles tls = test::SelfSignedCertificate(dir.path());
  class Once : public StreamBody {
   public:
    std::optional<Pieces> Next() override {
      if (sent_) return std::nullopt;
      sent_ = true;
      return Pieces{std::make_shared<const std::string>(": attached\n\n"),
                    std::make_shared<const std::string>("id: 7\ndata: {\"seq\": 1}\n\n")};
    }
    void OnReady(std::function<void()>) override {}
    void Close() override {}

   private:
    bool sent_ = false;
  };
  HttpOptions options{.address = "127.0.0.1", .max_body_bytes = 1024, .max_header_bytes = 4096,
                      .max_connections = 16, .tls_cert_file = tls.cert, .tls_key_file = tls.key};
  auto server = HttpServer::Start(options, [](const Request& r) {
    if (r.path == "/stream") return Response{200, "text/event-stream", "", {}, std::make_shared<Once>()};
    return Response{200, "application/json", "{\"path\": \"" + r.path + "\"}", {}, nullptr};
  });
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  server::ServerUrl url{.host = "127.0.0.1", .port = (*server)->port(), .tls = true, .ca_file = tls.cert};
  const test::HttpAnswer answer = server::Http(url, {"GET", "/hello", "", "", {}});
  EXPECT_EQ(answer.status, 200) << answer.error;
  EXPECT_EQ(answer.json()["path"], "/hello");
  server::SseClient stream(url, "/stream", "");
  const auto& events = stream.ReadUntil([](const auto& got) { return !got.empty(); }, 5000);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, 7u);

  server::ServerUrl untrusting = url;
  untrusting.ca_file.clear();
  EXPECT_EQ(server::Http(untrusting, {"GET", "/hello", "", "", {}}).status, 0) << "an unknown certificate";
  server::ServerUrl wrong_name = url;
  wrong_name.host = "127.0.0.2";
  EXPECT_EQ(server::Http(wrong_name, {"GET", "/hello", "", "", {}, 2000}).status, 0) << "a name it does not hold";
  EXPECT_EQ(test::Http((*server)->port(), {"GET", "/hello", "", "", {}, 2000}).status, 0) << "plain HTTP";
  EXPECT_EQ(server::Http(url, {"GET", "/again", "", "", {}}).status, 200) << "and it goes on serving";

  options.tls_key_file = dir.Sub("missing.pem");
  auto refused = HttpServer::Start(options, [](const Request&) { return Response{}; });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.error().message().find("missing.pem"), std::string::npos) << refused.error().ToString();
}

// A stream client that takes in nothing is closed once a write has waited
// for it for the idle timeout: it holds no more than its connection until
// then, and the server goes on serving.
TEST(HttpTest, AStreamClientThatReadsNothingIsClosedAfterTheIdleTimeout) {
  std::atomic<bool> closed{false};
  class Endless : public StreamBody {
   public:
    explicit Endless(std::atomic<bool>& closed) : closed_(closed) {}
    std::optional<Pieces> Next() override { return Pieces{piece_}; }
    void OnReady(std::function<void()>) override {}
    void Close() override { closed_ = true; }

   private:
    std::atomic<bool>& closed_;
    std::shared_ptr<const std::string> piece_ = std::make_shared<const std::string>(64 << 10, 'x');
  };
  auto server = HttpServer::Start(
      HttpOptions{.address = "127.0.0.1", .max_body_bytes = 1024, .max_header_bytes = 4096, .max_connections = 16,
                  .idle_timeout = 1s},
      [&](const Request& r) {
        if (r.path == "/stream") return Response{200, "text/event-stream", "", {}, std::make_shared<Endless>(closed)};
        return Response{200, "application/json", "{}", {}, nullptr};
      });
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((*server)->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
  const std::string request = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(closed.load()) << "not before the timeout";
  EXPECT_EQ(test::Http((*server)->port(), {"GET", "/other", "", "", {}}).status, 200);
  for (int i = 0; i < 1000 && !closed.load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(closed.load()) << "the stream ended";
  ::close(fd);
  EXPECT_EQ(test::Http((*server)->port(), {"GET", "/other", "", "", {}}).status, 200);
}

}  // namespace
}  // namespace rwd::server_internal
