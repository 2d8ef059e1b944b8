// rwd::inspect::HeadsFromJson on arbitrary bytes parsed as JSON (a heads file
// handed to `journal-inspect verify --against`). It must never crash; it
// answers InvalidArgument, or heads that write back to JSON which reads back
// to the same heads.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "rewind/inspect/heads.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  const rwd::Result<rwd::inspect::Heads> heads = rwd::inspect::HeadsFromJson(j);
  if (!heads.has_value()) {
    FUZZ_CHECK(heads.error().code() == rwd::Code::kInvalidArgument);
    return 0;
  }
  const auto again = rwd::inspect::HeadsFromJson(rwd::inspect::HeadsJson(*heads));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->runs == heads->runs);
  FUZZ_CHECK(again->digest == heads->digest);
  FUZZ_CHECK(again->position == heads->position);
  return 0;
}
