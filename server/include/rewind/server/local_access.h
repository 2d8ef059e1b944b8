// Local access: how the `rewind` CLI on this machine reaches the server that
// holds a journal, with no token configured.
//
// A server with local access keeps a file in the journal's directory,
// kLocalAccessFile, readable by its owner only (mode 0600):
//   {"pid": 1234, "url": "http://127.0.0.1:40123", "secret": "<64 hex digits>",
//    "ca_file": ""}
// (over TLS the url is https and ca_file the server's certificate, which a
// local client trusts as it is, whatever names it holds).
// Whoever can read it — the OS user the server runs as, or root, who could
// open the journal directly anyway — mints local tokens with its secret
// (MintLocalToken): HS256 with "kid": "local" (auth.h), acting as the OS
// user, in the tenant they name. A server accepts them only while it runs:
// each start draws a new secret.
//
// The file is written aside and renamed into place, so a reader sees a whole
// one or none, and removed when the server stops cleanly. A server that
// crashed leaves it behind: a client then finds nothing answering at its url
// and treats it as stale (the next server replaces it).
//
// Thread-safety: free functions on values; a LocalAccessFile from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rewind/base/status.h"
#include "rewind/executor/engine.h"

namespace rwd::server {

inline constexpr std::string_view kLocalAccessFile = "server.json";
// How long a local token is valid.
inline constexpr std::int64_t kLocalTokenSeconds = 300;

struct LocalAccess {
  std::int64_t pid = 0;
  std::string url;     // "http://HOST:PORT"
  std::string secret;   // 64 hex digits; AuthOptions::local_secret
  std::string ca_file;  // over TLS: the server's certificate (PEM)
  friend bool operator==(const LocalAccess&, const LocalAccess&) = default;
};

// A fresh secret: 32 random bytes as 64 hex digits.
std::string NewLocalSecret();

// The url a local client uses for a server bound to `address`:`port`: the
// address itself, or loopback for a wildcard address ("0.0.0.0", "::");
// https with `tls`.
std::string LocalUrl(const std::string& address, std::uint16_t port, bool tls = false);

// The file, kept for the object's lifetime.
class LocalAccessFile {
 public:
  // Writes `access` into `dir`/kLocalAccessFile (mode 0600, replacing any
  // file there). PermissionDenied or Unavailable (a full disk) naming the
  // path when it cannot.
  static Result<std::unique_ptr<LocalAccessFile>> Publish(const std::string& dir, LocalAccess access);
  // Removes the file, unless another server has replaced it since.
  ~LocalAccessFile();
  LocalAccessFile(const LocalAccessFile&) = delete;
  LocalAccessFile& operator=(const LocalAccessFile&) = delete;

 private:
  LocalAccessFile(std::string path, LocalAccess access) : path_(std::move(path)), access_(std::move(access)) {}
  std::string path_;
  LocalAccess access_;
};

// The file in `dir`: nullopt when there is none; PermissionDenied when it
// cannot be read (another user's server); InvalidArgument when it is not
// such a file.
Result<std::optional<LocalAccess>> ReadLocalAccess(const std::string& dir);

// A local token for `who`, valid kLocalTokenSeconds from `now_unix`.
// InvalidArgument for a principal a server would refuse.
Result<std::string> MintLocalToken(const LocalAccess& access, const Principal& who, std::int64_t now_unix);

}  // namespace rwd::server
