// A blocking HTTP/1.1 client for the server's tests, on loopback: one
// request per connection, its whole answer read (Boost.Beast).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rwd::test {

struct HttpAnswer {
  int status = 0;  // 0: no answer (the connection failed or closed)
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
};

HttpAnswer Http(std::uint16_t port, const HttpCall& call);

// Sends `raw` bytes as they are and returns what comes back until the server
// closes the connection or `timeout_ms` passes.
std::string RawHttp(std::uint16_t port, const std::string& raw, int timeout_ms = 2000);

}  // namespace rwd::test
