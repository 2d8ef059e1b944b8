#include "journal/src/record.h"

#include <xxhash.h>

#include <cstring>
#include <string>

#include "journal/src/key_codec.h"

namespace rwd::record {
namespace {

std::uint64_t Checksum(ByteView stored) {
  return XXH3_64bits(stored.data() + 8, stored.size() - 8);
}

}  // namespace

void Encode(const RunId& run, std::uint64_t seq, const Hash& prev_hash, ByteView payload, Bytes* out) {
  out->resize(kHeaderSize + payload.size());
  std::uint8_t* p = out->data();
  std::memcpy(p + 8, run.bytes().data(), RunId::kSize);
  key::PutLe64(p + 24, seq);
  std::memcpy(p + 32, prev_hash.data(), prev_hash.size());
  if (!payload.empty()) std::memcpy(p + kHeaderSize, payload.data(), payload.size());
  key::PutLe64(p, Checksum(*out));
}

Result<View> Parse(ByteView stored, std::uint64_t position) {
  if (stored.size() < kHeaderSize) {
    return Err(Code::kCorruption, "event at position " + std::to_string(position) + " has " +
                                      std::to_string(stored.size()) +
                                      " bytes, shorter than a record header");
  }
  if (key::GetLe64(stored.data()) != Checksum(stored)) {
    return Err(Code::kCorruption,
               "event at position " + std::to_string(position) + " fails its checksum");
  }
  View view;
  RunId::Bytes run{};
  std::memcpy(run.data(), stored.data() + 8, RunId::kSize);
  view.run = RunId(run);
  view.seq = key::GetLe64(stored.data() + 24);
  std::memcpy(view.prev_hash.data(), stored.data() + 32, view.prev_hash.size());
  view.payload = stored.subspan(kHeaderSize);
  return view;
}

Hash ChainHash(ByteView stored) { return Sha256(stored.subspan(8)); }

}  // namespace rwd::record
