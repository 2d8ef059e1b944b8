// rwd::EventBatch::Parse on arbitrary bytes as a stored record of either
// format, and the chain hashes of what it accepts.
//
// Parse must never crash; it answers Corruption, or a batch that
// record::Encode writes back byte for byte. Random bytes almost never pass
// the checksum, so the target also cuts the input into a run id, a first seq
// and payloads, encodes them in both formats and checks that Parse returns
// the same events, and that each event's chain hash is the same in format 2
// as in format 1, where it is SHA-256 of the record's bytes after the
// checksum.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "journal/src/record.h"

namespace {

bool SameBytes(rwd::ByteView a, rwd::ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// Parses `stored` as a record of `format`; if it is one, encoding its events
// again gives the same bytes.
void RoundTrip(std::uint32_t format, rwd::ByteView stored) {
  rwd::EventBatch batch;
  const rwd::Status parsed = batch.Parse(format, stored, std::uint64_t{1} << 40);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.code() == rwd::Code::kCorruption);
    return;
  }
  FUZZ_CHECK(batch.size() >= 1 && (format == 2 || batch.size() == 1));
  std::vector<rwd::ByteView> payloads;
  for (std::size_t i = 0; i < batch.size(); ++i) payloads.push_back(batch.At(i).payload);
  rwd::Bytes again;
  rwd::record::Encode(format, batch.run(), batch.first_seq(), batch.prev_hash(), payloads, &again);
  FUZZ_CHECK(SameBytes(again, stored));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace record = rwd::record;
  const rwd::ByteView input(data, size);
  RoundTrip(1, input);
  RoundTrip(2, input);
  if (size < rwd::RunId::kSize + 2) return 0;

  // A run id, a first seq and payloads cut from the input (each byte after
  // the first 18 that is 0xff ends a payload).
  rwd::RunId::Bytes id{};
  std::memcpy(id.data(), data, id.size());
  const rwd::RunId run(id);
  const std::uint64_t first_seq = 1 + data[16] * 251u + data[17];
  std::vector<rwd::ByteView> payloads;
  const std::uint8_t* start = data + 18;
  for (const std::uint8_t* p = start; p <= data + size; ++p) {
    if (p == data + size || *p == 0xff) {
      payloads.emplace_back(start, static_cast<std::size_t>(p - start));
      start = p + 1;
    }
  }
  rwd::Hash prev{};
  for (std::size_t i = 0; i < prev.size(); ++i) prev[i] = static_cast<std::uint8_t>(data[i % size] + i);

  rwd::Bytes two;
  record::Encode(2, run, first_seq, prev, payloads, &two);
  rwd::EventBatch batch;
  FUZZ_CHECK(batch.Parse(2, two, 6 + payloads.size()).ok());  // keyed by its last event: the first is at 7
  FUZZ_CHECK(batch.run() == run && batch.first_seq() == first_seq && batch.prev_hash() == prev);
  FUZZ_CHECK(batch.size() == payloads.size());
  rwd::Hash link = prev;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    const rwd::EventRecord e = batch.At(i);
    FUZZ_CHECK(e.run == run && e.seq == first_seq + i && e.position == 7 + i);
    FUZZ_CHECK(SameBytes(e.payload, payloads[i]));
    // The same event alone in a format-1 record has the same chain hash.
    rwd::Bytes one;
    record::Encode(1, run, first_seq + i, link, std::span(&payloads[i], 1), &one);
    FUZZ_CHECK(e.prev_hash() == link);
    FUZZ_CHECK(e.hash() == rwd::Sha256(rwd::ByteView(one).subspan(8)));
    rwd::EventBatch single;
    FUZZ_CHECK(single.Parse(1, one, 7 + i).ok());
    FUZZ_CHECK(single.At(0).hash() == e.hash());
    link = e.hash();
  }
  return 0;
}
