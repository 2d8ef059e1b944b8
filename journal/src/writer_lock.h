// WriterLock: at most one process opens a journal for writing.
//
// An exclusive flock on `<dir>/rewind.lock`, held for the writer's lifetime and
// released by the kernel when the process dies (so a SIGKILLed engine never
// leaves a stale lock). The file holds the owner's pid for error messages.
#pragma once

#include <string>

#include "rewind/base/status.h"

namespace rwd::journal_internal {

class WriterLock {
 public:
  // Unavailable naming the holder's pid when another writer has the journal.
  static Result<WriterLock> Acquire(const std::string& dir);

  WriterLock() = default;
  ~WriterLock();
  WriterLock(WriterLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  WriterLock& operator=(WriterLock&& o) noexcept;
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  explicit WriterLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace rwd::journal_internal
