// The Run Console: the page at "/" and its files under "/console/"
// (server/console/), compiled into the server at build time. They hold no
// data: what the page shows it asks /v1 for with the signed-in token, so
// the server's checks are the only ones that count.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rwd::server_internal {

struct EmbeddedFile {
  std::string_view name;   // relative to server/console/, "vendor/preact-htm.js"
  std::string_view bytes;
};
// Every file of server/console/ (generated: cmake/embed_files.cmake).
const std::vector<EmbeddedFile>& EmbeddedConsoleFiles();

struct ConsoleFile {
  std::string_view bytes;
  std::string content_type;
  std::string etag;  // quoted, from the bytes' SHA-256
};

// The file GET `path` serves: "/" is index.html, "/console/NAME" the file
// NAME; nullopt for any other path.
std::optional<ConsoleFile> FindConsoleFile(std::string_view path);

// Headers every console answer carries: a Content-Security-Policy that lets
// the page load only its own files and talk only to this server, no
// framing, no sniffing, no referrer.
const std::vector<std::pair<std::string, std::string>>& ConsoleHeaders();

}  // namespace rwd::server_internal
