// rwd::DecodeState on arbitrary bytes, against a fixed run and a fixed
// three-step definition (the seeds in corpus/state_fuzzer/ are snapshots of
// that run). DecodeState must never crash or read out of bounds; it answers
// Corruption or FailedPrecondition, or a state that survives EncodeState and
// DecodeState unchanged and re-encodes to the same bytes. The answer must not
// depend on the input's alignment.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz/fuzz_check.h"
#include "projections/src/state_codec.h"

namespace {

const rwd::RunId kRun(rwd::RunId::Bytes{0x01, 0x8f, 0xc4, 0x2a, 0x00, 0x01, 0x5a, 0x5a, 0x11, 0x22,
                                        0x33, 0x44, 0x55, 0x66, 0x77, 0x88});

rwd::Definition MakeDefinition() {
  auto start = std::make_shared<rwd::RunStarted>();
  start->workflow = "fuzz";
  std::vector<rwd::StepDef>& steps = start->steps.Mutable();
  steps.resize(3);
  steps[0].id = "build";
  steps[1].id = "approve";
  steps[1].kind = rwd::StepKind::kApproval;
  steps[1].depends_on = {0};
  steps[2].id = "wait";
  steps[2].kind = rwd::StepKind::kSignal;
  steps[2].depends_on = {1};
  steps[2].handler = "go";
  return start;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const rwd::Definition definition = MakeDefinition();
  const rwd::Result<rwd::RunState> state = rwd::DecodeState(rwd::ByteView(data, size), kRun, definition);

  // The same bytes at an odd address take DecodeState's copy-to-aligned path.
  rwd::Bytes shifted(size + 1);
  if (size > 0) std::memcpy(shifted.data() + 1, data, size);
  FUZZ_CHECK(rwd::DecodeState(rwd::ByteView(shifted).subspan(1), kRun, definition) == state);

  if (!state.has_value()) {
    const rwd::Code code = state.error().code();
    FUZZ_CHECK(code == rwd::Code::kCorruption || code == rwd::Code::kFailedPrecondition);
    return 0;
  }
  FUZZ_CHECK(state->definition == definition);
  const rwd::Bytes encoded = rwd::EncodeState(*state);
  const rwd::Result<rwd::RunState> again = rwd::DecodeState(encoded, kRun, definition);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *state);
  FUZZ_CHECK(rwd::EncodeState(*again) == encoded);
  return 0;
}
