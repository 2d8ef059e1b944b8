// `journal-inspect replay-check` on untrusted input: a workflow file's text
// and a run's recorded events. Input layout:
//   [u16 little-endian n][n bytes of workflow file JSON]
//   then frames [u32 little-endian length][an encoded event], to the end
//   (the run's events in seq order; decoding stops at the first bad frame).
// ParseWorkflowFile, Definition and ReplayCheck must never crash; a report's
// divergence lies within the history (seq 1 .. events + 1), and the events
// replayed before it are exactly those up to it.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "rewind/executor/workflow_file.h"
#include "rewind/inspect/replay_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t n = data[0] | static_cast<std::size_t>(data[1]) << 8;
  if (n > size - 2) return 0;
  auto workflow = rwd::ParseWorkflowFile(
      std::string_view(reinterpret_cast<const char*>(data + 2), n), "fuzz.json");
  if (!workflow.has_value()) {
    FUZZ_CHECK(workflow.error().code() == rwd::Code::kInvalidArgument);
    return 0;
  }
  auto candidate = workflow->Definition();
  FUZZ_CHECK(candidate.has_value());  // a parsed file is a valid definition
  std::vector<rwd::Event> events;
  for (std::size_t at = 2 + n; size - at >= 4;) {
    const std::uint32_t len = data[at] | data[at + 1] << 8 | data[at + 2] << 16 |
                              static_cast<std::uint32_t>(data[at + 3]) << 24;
    at += 4;
    if (len > size - at) break;
    auto event = rwd::Decode(rwd::ByteView(data + at, len));
    if (!event.has_value()) break;
    events.push_back(std::move(*event));
    at += len;
  }
  const rwd::RunId run(rwd::RunId::Bytes{1});
  const auto report = rwd::inspect::ReplayCheck(run, events, *candidate, static_cast<std::uint32_t>(n % 3));
  if (!report.has_value()) return 0;
  FUZZ_CHECK(report->events <= events.size());
  if (report->divergence) {
    FUZZ_CHECK(report->divergence->seq >= 1 && report->divergence->seq <= events.size() + 1);
    FUZZ_CHECK(report->events == report->divergence->seq - 1);
    FUZZ_CHECK(report->divergence->recorded.has_value() == (report->divergence->seq <= events.size()));
  } else {
    FUZZ_CHECK(report->events == events.size());
  }
  return 0;
}
