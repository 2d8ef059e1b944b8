#include "tools/rewind/serving.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "rewind/base/file.h"
#include "rewind/executor/workflow_file.h"

namespace rwd::cli {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Err(errno == EACCES ? Code::kPermissionDenied : Code::kNotFound,
               "cannot read " + what + " '" + path + "'");
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<std::vector<Workflow>> LoadWorkflows(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> in_folder;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.path().extension() == ".json" && entry.is_regular_file()) in_folder.push_back(entry.path().string());
      }
      if (ec) return Err(Code::kPermissionDenied, "cannot list workflow folder '" + path + "': " + ec.message());
      std::sort(in_folder.begin(), in_folder.end());
      files.insert(files.end(), in_folder.begin(), in_folder.end());
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      return Err(Code::kNotFound, "no workflow file or folder '" + path + "'");
    }
  }
  std::vector<Workflow> out;
  std::set<std::string> names;
  for (const std::string& file : files) {
    REWIND_ASSIGN_OR_RETURN(Workflow w, LoadWorkflowFile(file));
    if (!names.insert(w.name()).second) {
      return Err(Code::kInvalidArgument, "'" + file + "' is a second workflow named '" + w.name() + "'");
    }
    out.push_back(std::move(w));
  }
  return out;
}

Result<server::ServerOptions> ServerOptionsFor(const ServeArgs& args, std::string local_secret) {
  server::ServerOptions o;
  o.tls_cert_file = args.tls_cert_file;
  o.tls_key_file = args.tls_key_file;
  server::AuthOptions auth;
  auth.local_secret = std::move(local_secret);
  if (args.listen.empty()) {  // local clients only: loopback, any port
    REWIND_ASSIGN_OR_RETURN(o.auth, server::Authenticator::Create(std::move(auth)));
    return o;
  }
  const std::size_t colon = args.listen.rfind(':');
  if (colon == std::string::npos) {
    return Err(Code::kInvalidArgument, "--listen: expected HOST:PORT, e.g. 127.0.0.1:8080");
  }
  std::string host = args.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = args.listen.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || host.empty()) {
    return Err(Code::kInvalidArgument, "--listen: expected HOST:PORT with a port 0..65535, not '" + args.listen + "'");
  }
  o.address = host == "localhost" ? "127.0.0.1" : host;
  o.port = static_cast<std::uint16_t>(value);
  if (!args.token_secret_file.empty()) {
    REWIND_ASSIGN_OR_RETURN(auth.hs256_secret, ReadFile(args.token_secret_file, "token secret"));
    DropLineEnds(auth.hs256_secret);
  }
  if (!args.token_public_key_file.empty()) {
    REWIND_ASSIGN_OR_RETURN(auth.public_key_pem, ReadFile(args.token_public_key_file, "token public key"));
  }
  if (!args.api_keys_file.empty()) {
    REWIND_ASSIGN_OR_RETURN(auth.api_keys, server::LoadApiKeys(args.api_keys_file));
  }
  auth.audience = args.audience;
  if (auth.hs256_secret.empty() && auth.public_key_pem.empty() && auth.api_keys.empty()) {
    return Err(Code::kInvalidArgument,
               "--listen needs a way to authenticate callers: --token-secret-file, --token-public-key or --api-keys");
  }
  auto authenticator = server::Authenticator::Create(std::move(auth));
  if (!authenticator.has_value()) return Err(authenticator.error().WithContext("--listen"));
  o.auth = std::move(*authenticator);
  return o;
}

Result<std::string> Token(const TokenArgs& args, std::int64_t now_unix) {
  server::TokenClaims claims{.subject = args.subject,
                             .tenant = args.tenant,
                             .roles = args.roles,
                             .expires_unix = now_unix + static_cast<std::int64_t>(args.ttl_seconds),
                             .audience = args.audience};
  if (!args.secret_file.empty()) {
    REWIND_ASSIGN_OR_RETURN(std::string secret, ReadFile(args.secret_file, "token secret"));
    DropLineEnds(secret);
    return server::MintHs256(claims, secret);
  }
  REWIND_ASSIGN_OR_RETURN(std::string key, ReadFile(args.private_key_file, "private key"));
  return server::MintSigned(claims, key);
}

}  // namespace rwd::cli
