#include "rewind/server/local_access.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "rewind/base/bytes.h"
#include "rewind/base/file.h"
#include "rewind/server/auth.h"

namespace rwd::server {
namespace {

using nlohmann::json;

Status FileError(int err, const std::string& what, const std::string& path) {
  const Code code = err == EACCES || err == EPERM || err == EROFS ? Code::kPermissionDenied
                    : err == ENOSPC || err == EDQUOT              ? Code::kResourceExhausted
                                                                  : Code::kUnavailable;
  return Status(code, "cannot " + what + " '" + path + "': " + std::strerror(err));
}

Status WriteAll(int fd, const std::string& text, const std::string& path) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError(errno, "write", path);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return FileError(errno, "write", path);
  return Status::Ok();
}

}  // namespace

std::string NewLocalSecret() {
  Bytes bytes(32);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) std::abort();  // no entropy: nothing is safe
  return HexEncode(bytes);
}

std::string LocalUrl(const std::string& address, std::uint16_t port, bool tls) {
  std::string host = address;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

Result<std::unique_ptr<LocalAccessFile>> LocalAccessFile::Publish(const std::string& dir, LocalAccess access) {
  const std::string path = dir + "/" + std::string(kLocalAccessFile);
  const std::string aside = path + ".new";
  const std::string text = json{{"pid", access.pid}, {"url", access.url}, {"secret", access.secret}, {"ca_file", access.ca_file}}.dump() + "\n";
  ::unlink(aside.c_str());
  const int fd = ::open(aside.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Err(FileError(errno, "write", aside));
  Status written = WriteAll(fd, text, aside);
  ::close(fd);
  if (written.ok() && ::rename(aside.c_str(), path.c_str()) != 0) written = FileError(errno, "write", path);
  if (!written.ok()) {
    ::unlink(aside.c_str());
    return Err(written);
  }
  return std::unique_ptr<LocalAccessFile>(new LocalAccessFile(path, std::move(access)));
}

LocalAccessFile::~LocalAccessFile() {
  // Another server's file (this one lost the journal, another took it) stays.
  const std::string dir = path_.substr(0, path_.rfind('/'));
  if (auto now = ReadLocalAccess(dir); now.has_value() && *now && **now == access_) ::unlink(path_.c_str());
}

Result<std::optional<LocalAccess>> ReadLocalAccess(const std::string& dir) {
  const std::string path = dir + "/" + std::string(kLocalAccessFile);
  auto text = ReadWholeFile(path, 64u << 10);
  if (!text.has_value()) {
    const int err = text.error().error;
    if (err == ENOENT || err == ENOTDIR) return std::optional<LocalAccess>();
    return Err(FileError(err, "read the server's local access file", path));
  }
  const json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() || !j.contains("url") ||
      !j["url"].is_string() || !j.contains("secret") || !j["secret"].is_string()) {
    return Err(Code::kInvalidArgument, "'" + path +
                                           "' is not a server's local access file (expected {pid, url, "
                                           "secret})");
  }
  const std::string ca_file = j.contains("ca_file") && j["ca_file"].is_string() ? j["ca_file"].get<std::string>() : "";
  return std::optional<LocalAccess>(LocalAccess{j["pid"].get<std::int64_t>(), j["url"].get<std::string>(),
                                                j["secret"].get<std::string>(), ca_file});
}

Result<std::string> MintLocalToken(const LocalAccess& access, const Principal& who, std::int64_t now_unix) {
  return MintHs256(TokenClaims{.subject = who.subject,
                               .tenant = who.tenant,
                               .roles = who.roles,
                               .expires_unix = now_unix + kLocalTokenSeconds,
                               .audience = std::string(kLocalAudience),
                               .key_id = std::string(kLocalKeyId)},
                   access.secret);
}

}  // namespace rwd::server
