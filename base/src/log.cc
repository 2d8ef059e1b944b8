#include "rewind/base/log.h"

#include <spdlog/spdlog.h>

namespace rwd {

void PrepareLogging() { spdlog::default_logger_raw(); }

}  // namespace rwd
