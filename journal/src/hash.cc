#include "rewind/journal/hash.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace rwd {

Hash Sha256(ByteView bytes) {
  // The digest is fetched once; EVP_Digest allocates no context of ours.
  static const EVP_MD* const kSha256 = EVP_sha256();
  Hash out{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, kSha256, nullptr) != 1 ||
      size != out.size()) {
    std::abort();  // SHA-256 cannot fail on valid arguments: a broken OpenSSL is a bug
  }
  return out;
}

}  // namespace rwd
