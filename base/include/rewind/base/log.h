#pragma once

namespace rwd {

// Makes the process's logging ready. Call it on the thread that starts a
// thread that may log, before starting it: spdlog builds its registry on
// first use, inside its shared library; built first by the starting thread,
// it is visibly finished before any started thread reads it (to
// ThreadSanitizer too, which cannot see the once-only construction inside an
// uninstrumented library). Thread-safe; cheap after the first call.
void PrepareLogging();

}  // namespace rwd
