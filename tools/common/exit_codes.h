// Exit statuses of the command-line tools (README "Exit statuses").
#pragma once

#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"

namespace rwd::cli {

inline constexpr int kExitOk = 0;        // done; a followed run completed
inline constexpr int kExitRunFailed = 1;  // a followed run ended failed or cancelled
inline constexpr int kExitUsage = 2;      // bad command line
inline constexpr int kExitPaused = 3;     // a followed run waits for an approval, a signal or a resume
// Reading the journal crashed the process (a fatal signal, reported as
// fatal_signal.h says): its data file is damaged beyond what the checks report.
inline constexpr int kExitJournalCrashed = 21;

// 10 + the code's position: not_found 10, conflict 11, failed_precondition 12,
// permission_denied 13, invalid_argument 14, corruption 15, unavailable 16,
// resource_exhausted 17, internal 18, unauthenticated 19.
inline int ExitCodeFor(Code code) { return code == Code::kOk ? kExitOk : 9 + static_cast<int>(code); }

inline int ExitCodeFor(RunStatus status) {
  switch (status) {
    case RunStatus::kCompleted: return kExitOk;
    case RunStatus::kPaused: return kExitPaused;
    case RunStatus::kPending:
    case RunStatus::kRunning: return kExitPaused;  // not finished (should not happen when followed)
    case RunStatus::kFailed:
    case RunStatus::kCancelled: return kExitRunFailed;
  }
  return kExitRunFailed;
}

}  // namespace rwd::cli
