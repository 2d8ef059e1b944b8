// The workflow of the engine crash test, shared by the child process that is
// killed and by the test that recovers its journal.
//
// "crash": a -> {b, c} -> d -> e. Each handler first appends
// "exec <run> <step> <epoch> <attempt>" to the file descriptor `exec_log`
// (O_APPEND), sleeps 0-3 ms, and fails retryably on its first two attempts when
// a fixed hash of (run, step, attempt) says so. A step's output is
// "<id>(<outputs of its dependencies>)", so a completed run's output is
// "e(d(b(a()),c(a())))".
#pragma once

#include "rewind/executor/workflow.h"

namespace rwd::test {

Workflow EngineCrashWorkflow(int exec_log);

}  // namespace rwd::test
