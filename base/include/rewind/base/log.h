#pragma once

#include <spdlog/spdlog.h>

namespace rwd {

// Call before starting a thread that may log. spdlog builds its registry on first use, inside its shared
// library; built by the thread that starts the others, it is visibly finished before any of them reads it
// (to ThreadSanitizer too, which cannot see the once-only construction inside an uninstrumented library).
inline void PrepareLogging() { spdlog::default_logger_raw(); }

}  // namespace rwd
