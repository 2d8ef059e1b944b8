#include "rewind/journal/hash.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace rwd {

Hash Sha256(ByteView bytes) {
  // Fetched once: OpenSSL 3's EVP_sha256() looks the implementation up on every
  // use, which doubles the cost of hashing a small record.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (kSha256 == nullptr) std::abort();
  Hash out{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, kSha256, nullptr) != 1 ||
      size != out.size()) {
    std::abort();  // SHA-256 cannot fail on valid arguments: a broken OpenSSL is a bug
  }
  return out;
}

}  // namespace rwd
