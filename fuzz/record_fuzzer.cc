// rwd::record::Parse and ChainHash on arbitrary bytes as a stored record.
//
// Parse must never crash; it answers Corruption, or a view of a record that
// record::Encode writes byte for byte from the view's fields. Random bytes
// almost never pass the checksum, so the target also re-encodes the input's
// header fields and payload with a valid checksum and checks that Parse
// accepts that and returns the same fields, and that the chain hash ignores
// the checksum.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz_check.h"
#include "journal/src/record.h"

namespace {

std::uint64_t Le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

bool SameView(const rwd::record::View& a, const rwd::record::View& b) {
  return a.run == b.run && a.seq == b.seq && a.prev_hash == b.prev_hash &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin(), b.payload.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace record = rwd::record;
  const rwd::ByteView stored(data, size);
  if (const auto view = record::Parse(stored, 1); view.has_value()) {
    FUZZ_CHECK(size >= record::kHeaderSize);
    rwd::Bytes again;
    record::Encode(view->run, view->seq, view->prev_hash, view->payload, &again);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), stored.begin(), stored.end()));
    FUZZ_CHECK(record::ChainHash(stored) == rwd::Sha256(stored.subspan(8)));
  } else {
    FUZZ_CHECK(view.error().code() == rwd::Code::kCorruption);
  }
  if (size < record::kHeaderSize) return 0;

  record::View fields;
  rwd::RunId::Bytes run{};
  std::memcpy(run.data(), data + 8, run.size());
  fields.run = rwd::RunId(run);
  fields.seq = Le64(data + 24);
  std::memcpy(fields.prev_hash.data(), data + 32, fields.prev_hash.size());
  fields.payload = stored.subspan(record::kHeaderSize);
  rwd::Bytes fixed;
  record::Encode(fields.run, fields.seq, fields.prev_hash, fields.payload, &fixed);
  FUZZ_CHECK(fixed.size() == size && std::equal(fixed.begin() + 8, fixed.end(), data + 8));
  const auto parsed = record::Parse(fixed, 2);
  FUZZ_CHECK(parsed.has_value());
  FUZZ_CHECK(SameView(*parsed, fields));
  FUZZ_CHECK(record::ChainHash(fixed) == record::ChainHash(stored));
  return 0;
}
