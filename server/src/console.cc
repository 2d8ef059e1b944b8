#include "server/src/console.h"

#include <openssl/sha.h>

#include <map>

#include "rewind/base/bytes.h"

namespace rwd::server_internal {
namespace {

std::string ContentType(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},    {".svg", "image/svg+xml"},
      {".txt", "text/plain; charset=utf-8"},  {".json", "application/json"}};
  const std::size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    if (auto it = kTypes.find(name.substr(dot)); it != kTypes.end()) return it->second;
  }
  return "application/octet-stream";
}

// The files by the path that serves them, made once.
const std::map<std::string, ConsoleFile, std::less<>>& Files() {
  static const auto files = [] {
    std::map<std::string, ConsoleFile, std::less<>> out;
    for (const EmbeddedFile& f : EmbeddedConsoleFiles()) {
      std::uint8_t digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(f.bytes.data()), f.bytes.size(), digest);
      ConsoleFile file{f.bytes, ContentType(f.name), "\"" + HexEncode(std::span<const std::uint8_t>(digest, 16)) + "\""};
      out.emplace("/console/" + std::string(f.name), file);
      if (f.name == "index.html") out.emplace("/", file);
    }
    return out;
  }();
  return files;
}

}  // namespace

std::optional<ConsoleFile> FindConsoleFile(std::string_view path) {
  auto it = Files().find(path);
  if (it == Files().end()) return std::nullopt;
  return it->second;
}

const std::vector<std::pair<std::string, std::string>>& ConsoleHeaders() {
  static const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"}};
  return headers;
}

}  // namespace rwd::server_internal
