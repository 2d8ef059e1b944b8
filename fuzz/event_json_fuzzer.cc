// rwd::inspect::EventFromJson on arbitrary bytes parsed as JSON (what an
// export archive holds). It must never crash; it answers InvalidArgument, or
// an event whose JSON is exactly the input (one spelling per value; a
// RunStarted's definition_stored, which earlier builds' documents lack, may
// be left out when false) and that reads back from its JSON unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "rewind/inspect/event_json.h"

namespace {

// `j` with a RunStarted's (also a fork's start's) definition_stored written
// out where it was left out. REQUIRES: `j` is a valid event document.
nlohmann::json Spelled(nlohmann::json j) {
  auto fill = [](nlohmann::json& start) {
    if (!start.contains("definition_stored")) start["definition_stored"] = false;
  };
  const std::string type = j["type"].get<std::string>();
  if (type == "RunStarted") fill(j["body"]);
  if (type == "RunForked") fill(j["body"]["start"]);
  return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  const rwd::Result<rwd::Event> event = rwd::inspect::EventFromJson(j);
  if (!event.has_value()) {
    FUZZ_CHECK(event.error().code() == rwd::Code::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(rwd::inspect::EventJson(*event) == Spelled(j));
  FUZZ_CHECK(rwd::inspect::EventFromJson(rwd::inspect::EventJson(*event)) == event);
  return 0;
}
