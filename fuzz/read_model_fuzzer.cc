// The read-model decoders (projections/src/read_model_codec.h) on arbitrary
// bytes. The first byte picks the decoder (modulo 3: run summary, step
// counters, audit entry); the rest is its input. A decoder must never crash or
// read out of bounds; it answers Corruption or FailedPrecondition, or a value
// that survives encoding and decoding unchanged and re-encodes to the same
// bytes. The answer must not depend on the input's alignment.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz_check.h"
#include "projections/src/read_model_codec.h"

namespace {

namespace rm = rwd::projections_internal;

template <typename T>
void Check(rwd::ByteView input, rwd::Bytes (*encode)(const T&),
           rwd::Result<T> (*decode)(rwd::ByteView)) {
  const rwd::Result<T> value = decode(input);

  // The same bytes at an odd address take the copy-to-aligned path.
  rwd::Bytes shifted(input.size() + 1);
  if (!input.empty()) std::memcpy(shifted.data() + 1, input.data(), input.size());
  FUZZ_CHECK(decode(rwd::ByteView(shifted).subspan(1)) == value);

  if (!value.has_value()) {
    const rwd::Code code = value.error().code();
    FUZZ_CHECK(code == rwd::Code::kCorruption || code == rwd::Code::kFailedPrecondition);
    return;
  }
  const rwd::Bytes encoded = encode(*value);
  const rwd::Result<T> again = decode(encoded);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *value);
  FUZZ_CHECK(encode(*again) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const rwd::ByteView input(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      Check(input, rm::EncodeSummary, rm::DecodeSummary);
      break;
    case 1:
      Check(input, rm::EncodeStepCounters, rm::DecodeStepCounters);
      break;
    default:
      Check(input, rm::EncodeAudit, rm::DecodeAudit);
      break;
  }
  return 0;
}
