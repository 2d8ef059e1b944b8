// rwd::Decode on arbitrary bytes. Decode must never crash or read out of
// bounds; it answers Corruption or FailedPrecondition, or an event that
// survives Encode and Decode unchanged and re-encodes to the same bytes. The
// answer must not depend on the input's alignment. Decoded with a finder of
// stored definitions, it never crashes either.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "fuzz/fuzz_check.h"
#include "rewind/schemas/events.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const rwd::ByteView input(data, size);
  const rwd::Result<rwd::Event> event = rwd::Decode(input);

  // The same bytes at an odd address take Decode's copy-to-aligned path.
  rwd::Bytes shifted(size + 1);
  if (size > 0) std::memcpy(shifted.data() + 1, data, size);
  FUZZ_CHECK(rwd::Decode(rwd::ByteView(shifted).subspan(1)) == event);

  // With a finder: the definition an event names is the input itself (a
  // blob is untrusted bytes too). Never a crash; an event found decodes the
  // same again with it.
  const rwd::DefinitionFinder find = [&](rwd::ByteView) -> rwd::Result<std::optional<rwd::ByteView>> {
    return std::optional<rwd::ByteView>(input);
  };
  const rwd::Result<rwd::Event> resolved = rwd::Decode(input, &find);
  if (resolved.has_value()) {
    FUZZ_CHECK(event.has_value());
    const rwd::Result<rwd::Event> resolved_again = rwd::Decode(rwd::Encode(*resolved), &find);
    FUZZ_CHECK(resolved_again.has_value());
  } else {
    const rwd::Code code = resolved.error().code();
    FUZZ_CHECK(code == rwd::Code::kCorruption || code == rwd::Code::kFailedPrecondition);
  }

  if (!event.has_value()) {
    const rwd::Code code = event.error().code();
    FUZZ_CHECK(code == rwd::Code::kCorruption || code == rwd::Code::kFailedPrecondition);
    return 0;
  }
  rwd::Event expected = *event;
  expected.schema_version = rwd::kSchemaVersion;  // Encode writes the current version
  const rwd::Bytes encoded = rwd::Encode(*event);
  const rwd::Result<rwd::Event> again = rwd::Decode(encoded);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == expected);
  FUZZ_CHECK(rwd::Encode(*again) == encoded);
  return 0;
}
