// rwd::inspect::EventFromJson on arbitrary bytes parsed as JSON (what an
// export archive holds). It must never crash; it answers InvalidArgument, or
// an event whose JSON is exactly the input (one spelling per value) and that
// survives Encode and Decode unchanged.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "rewind/inspect/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  const rwd::Result<rwd::Event> event = rwd::inspect::EventFromJson(j);
  if (!event.has_value()) {
    FUZZ_CHECK(event.error().code() == rwd::Code::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(rwd::inspect::EventJson(*event) == j);
  FUZZ_CHECK(rwd::inspect::EventFromJson(rwd::inspect::EventJson(*event)) == event);
  return 0;
}
