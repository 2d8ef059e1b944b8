// I/O fault injection under LMDB: the write and sync calls LMDB makes
// (write, writev, pwrite, fsync, fdatasync) are interposed by the test
// binary that links io_faults.cc, so a journal meets a failing disk exactly
// where a real one fails it — inside LMDB's page flush, its sync and its meta
// page write — not at a hook of our own choosing.
//
// Only calls on files under the armed directory count; every other file
// descriptor (the test's output, other journals) goes straight to libc.
// Disarmed, the injector counts nothing and forwards everything.
//
// Link io_faults.cc into a test executable of its own: interposing libc in a
// binary changes it for all code in that process. LMDB must be linked as a
// shared library (Debian's liblmdb.so), whose calls go through the PLT.
#pragma once

#include <cstdint>
#include <string>

namespace rwd::test::io_faults {

enum class Op { kWrite, kSync };

enum class Mode {
  kFail,    // the call writes nothing and fails with `error`
  kTorn,    // a write puts its first half on disk and reports a short count
            // (LMDB treats a short write as EIO); a sync fails as kFail
  kSticky,  // as kFail, and every later call under the directory fails too
            // (a device that has gone away)
};

struct Plan {
  std::string directory;        // the journal directory whose files count
  std::uint64_t fail_at = 0;    // the n-th counted call (1-based) fails; 0: only count
  Mode mode = Mode::kFail;
  int error = 5;                // errno of the failure (EIO)
};

// Starts counting (and failing) calls under plan.directory. Replaces any plan.
void Arm(const Plan& plan);
// Stops; later calls go straight to libc.
void Disarm();

// Since the last Arm: calls counted, and whether the planned failure fired.
std::uint64_t Calls();
bool Fired();
// The kind of the call that failed (meaningful when Fired()).
Op FiredOp();

}  // namespace rwd::test::io_faults
