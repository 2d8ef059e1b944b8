// How the tools show a run's state to people: a header (run, workflow,
// status, seq, epoch, error, what it waits for) and one line per step.
#pragma once

#include <string>

#include "rewind/fold/run_state.h"

namespace rwd::cli {

// A multi-line human description of a run and its steps.
// REQUIRES: state.definition (at least one event folded).
std::string RunText(const RunState& state);

}  // namespace rwd::cli
