// WriterLock: at most one process opens a journal for writing.
//
// An exclusive flock on the journal directory itself, held for the writer's
// lifetime and released by the kernel when the process dies (so a SIGKILLed
// engine never leaves a stale lock). The directory cannot be removed from
// under a live writer while it holds the journal's files, and removing the
// files removes the journal: nothing lets a second writer in beside the first.
// `<dir>/rewind.lock` holds the owner's pid, for error messages, and is
// flocked too, as builds before this one locked only that file.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "rewind/base/status.h"

namespace rwd::journal_internal {

class WriterLock {
 public:
  // Unavailable naming the holder's pid when another writer has the journal.
  // When that writer died but processes it forked still hold the lock (its
  // steps' supervisors stopping what the steps left running), waits for them
  // up to kLeftoverWait.
  static Result<WriterLock> Acquire(const std::string& dir);
  static constexpr std::chrono::seconds kLeftoverWait{10};
  // The pid of the process holding `dir`'s lock, from /proc/locks; nullopt
  // when none does (Journal::WriterProcess).
  static Result<std::optional<int>> Holder(const std::string& dir);

  WriterLock() = default;
  int fd() const { return fd_; }  // -1 when not held
  ~WriterLock();
  WriterLock(WriterLock&& o) noexcept : fd_(o.fd_), pid_fd_(o.pid_fd_) { o.fd_ = o.pid_fd_ = -1; }
  WriterLock& operator=(WriterLock&& o) noexcept;
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  WriterLock(int fd, int pid_fd) : fd_(fd), pid_fd_(pid_fd) {}
  void Release();
  int fd_ = -1;      // the directory
  int pid_fd_ = -1;  // rewind.lock (-1 when it could not be opened)
};

}  // namespace rwd::journal_internal
