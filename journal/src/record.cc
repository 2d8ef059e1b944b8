#include "journal/src/record.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "journal/src/key_codec.h"

namespace rwd::record {
namespace {

std::uint64_t Checksum(ByteView stored) { return XXH3_64bits(stored.data() + 8, stored.size() - 8); }

void PutVarint(std::uint64_t v, Bytes* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<std::uint8_t>(v));
}

// Reads a minimal varint at *p (advancing it); false when it runs past
// `end`, is longer than 10 bytes, overflows 64 bits or is not minimal.
bool GetVarint(const std::uint8_t** p, const std::uint8_t* end, std::uint64_t* v) {
  std::uint64_t out = 0;
  for (std::size_t i = 0; i < kMaxLengthBytes; ++i) {
    if (*p == end) return false;
    const std::uint8_t b = *(*p)++;
    if (i == 9 && b > 1) return false;  // past 64 bits
    out |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0) return false;  // a trailing zero byte: not minimal
      *v = out;
      return true;
    }
  }
  return false;
}

Status Bad(std::uint64_t position, const std::string& what) {
  return Status(Code::kCorruption, "the record at position " + std::to_string(position) + " " + what);
}

}  // namespace

Hash ChainHash(const RunId& run, std::uint64_t seq, const Hash& prev_hash, ByteView payload) {
  // One context per thread, reused: OpenSSL's one-shot EVP_Digest makes and
  // frees a context each call, which costs as much as hashing a small event.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> owned(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_MD_CTX* const ctx = owned.get();
  if (kSha256 == nullptr || ctx == nullptr) std::abort();
  std::uint8_t head[RunId::kSize + 8 + sizeof(Hash)];
  std::memcpy(head, run.bytes().data(), RunId::kSize);
  key::PutLe64(head + RunId::kSize, seq);
  std::memcpy(head + RunId::kSize + 8, prev_hash.data(), prev_hash.size());
  Hash out{};
  unsigned int size = 0;
  if (EVP_DigestInit_ex2(ctx, kSha256, nullptr) != 1 || EVP_DigestUpdate(ctx, head, sizeof(head)) != 1 ||
      (!payload.empty() && EVP_DigestUpdate(ctx, payload.data(), payload.size()) != 1) ||
      EVP_DigestFinal_ex(ctx, out.data(), &size) != 1 || size != out.size()) {
    std::abort();  // SHA-256 cannot fail on valid arguments: a broken OpenSSL is a bug
  }
  return out;
}

void Encode(std::uint32_t format, const RunId& run, std::uint64_t first_seq, const Hash& prev_hash,
            std::span<const ByteView> payloads, Bytes* out) {
  out->clear();
  out->resize(8);  // the checksum, written last
  out->insert(out->end(), run.bytes().begin(), run.bytes().end());
  if (format == 1) {
    std::uint8_t seq[8];
    key::PutLe64(seq, first_seq);
    out->insert(out->end(), seq, seq + 8);
    out->insert(out->end(), prev_hash.begin(), prev_hash.end());
    out->insert(out->end(), payloads[0].begin(), payloads[0].end());
  } else {
    out->insert(out->end(), prev_hash.begin(), prev_hash.end());
    PutVarint(first_seq, out);
    PutVarint(payloads.size(), out);
    for (ByteView p : payloads) {
      PutVarint(p.size(), out);
      out->insert(out->end(), p.begin(), p.end());
    }
  }
  key::PutLe64(out->data(), Checksum(*out));
}

}  // namespace rwd::record

namespace rwd {

Status EventBatch::Parse(std::uint32_t format, ByteView stored, std::uint64_t last_position) {
  return Parse(format, stored, last_position, /*key_is_last=*/true);
}

Status EventBatch::ParseReceived(ByteView stored, std::uint64_t first_position) {
  return Parse(2, stored, first_position, /*key_is_last=*/false);
}

Status EventBatch::Parse(std::uint32_t format, ByteView stored, std::uint64_t position, bool key_is_last) {
  using namespace record;
  const std::uint64_t last_position = position;  // when key_is_last
  format_ = format;
  position_ = position;
  stored_ = stored;
  payloads_.clear();
  hashes_.clear();
  const std::size_t fixed = format == 1 ? kFormat1HeaderSize : kFormat2FixedSize;
  if (stored.size() < fixed) {
    return Bad(position, "has " + std::to_string(stored.size()) + " bytes, shorter than a record header");
  }
  if (key::GetLe64(stored.data()) != Checksum(stored)) return Bad(position, "fails its checksum");
  RunId::Bytes run{};
  std::memcpy(run.data(), stored.data() + 8, RunId::kSize);
  run_ = RunId(run);
  if (format == 1) {
    first_seq_ = key::GetLe64(stored.data() + 24);
    std::memcpy(prev_hash_.data(), stored.data() + 32, prev_hash_.size());
    payloads_.push_back(stored.subspan(kFormat1HeaderSize));
    return Status::Ok();  // one event: its position is the key
  }
  std::memcpy(prev_hash_.data(), stored.data() + 24, prev_hash_.size());
  const std::uint8_t* p = stored.data() + kFormat2FixedSize;
  const std::uint8_t* const end = stored.data() + stored.size();
  std::uint64_t count = 0;
  if (!GetVarint(&p, end, &first_seq_) || !GetVarint(&p, end, &count)) return Bad(position, "has a malformed header");
  if (first_seq_ == 0 || count == 0) return Bad(position, "names seq 0 or no events");
  // Each event takes at least its length's byte: a count past that is damage.
  if (count > static_cast<std::uint64_t>(end - p) || first_seq_ + count < first_seq_) {
    return Bad(position, "names more events than it holds");
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t length = 0;
    if (!GetVarint(&p, end, &length) || length > static_cast<std::uint64_t>(end - p)) {
      return Bad(position, "has an event running past its end (event " + std::to_string(i + 1) + " of " +
                               std::to_string(count) + ")");
    }
    payloads_.push_back(ByteView(p, length));
    p += length;
  }
  if (p != end) return Bad(position, "has " + std::to_string(end - p) + " bytes after its last event");
  if (!key_is_last) {
    if (position + count - 1 < position) return Bad(position, "holds more events than positions are left");
    return Status::Ok();
  }
  if (count > last_position) return Bad(position, "holds more events than there are positions before it");
  position_ = last_position - count + 1;
  return Status::Ok();
}

void EventBatch::Assign(std::uint32_t format, const RunId& run, std::uint64_t first_seq, std::uint64_t position,
                        const Hash& prev_hash, std::span<const ByteView> payloads, std::span<const Hash> hashes,
                        ByteView stored) {
  format_ = format;
  run_ = run;
  first_seq_ = first_seq;
  position_ = position;
  prev_hash_ = prev_hash;
  stored_ = stored;
  payloads_.assign(payloads.begin(), payloads.end());
  hashes_.assign(hashes.begin(), hashes.end());
}

EventRecord EventBatch::At(std::size_t i) const {
  return EventRecord{run_, first_seq_ + i, position_ + i, payloads_[i], this, i};
}

Hash EventBatch::HashOf(std::size_t i) const {
  while (hashes_.size() <= i) {
    const std::size_t k = hashes_.size();
    hashes_.push_back(record::ChainHash(run_, first_seq_ + k, k == 0 ? prev_hash_ : hashes_[k - 1], payloads_[k]));
  }
  return hashes_[i];
}

std::uint64_t EventBatch::SumOf(std::size_t i) const {
  if (format_ == 1) return XXH3_64bits(stored_.data(), stored_.size());
  std::uint8_t id[RunId::kSize + 8];
  std::memcpy(id, run_.bytes().data(), RunId::kSize);
  key::PutLe64(id + RunId::kSize, first_seq_ + i);
  return XXH3_64bits_withSeed(payloads_[i].data(), payloads_[i].size(), XXH3_64bits(id, sizeof(id)));
}

Hash EventRecord::prev_hash() const { return batch->PrevHashOf(index); }
Hash EventRecord::hash() const { return batch->HashOf(index); }
std::uint64_t EventRecord::sum() const { return batch->SumOf(index); }
ByteView EventRecord::record() const { return batch->stored(); }

}  // namespace rwd
