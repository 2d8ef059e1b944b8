// Warden: starts a step's command so that its processes never outlive the
// engine that started them, and a retry never overlaps them.
//
// The engine forks a small warden process (fork without exec: it runs only
// async-signal-safe system calls), which forks the command in a process
// group of its own and watches it:
//
//   engine ──fork──> warden ──fork+exec──> command (group G) ──> descendants
//     ^  report pipe: started / exited     (subreaper: descendants that leave
//     |                                     G are re-parented to the warden)
//     └─ holds the journal's writer lock (the descriptor inherited from the
//        engine), so no other engine opens the journal while it lives
//
//   * The warden is a child subreaper (PR_SET_CHILD_SUBREAPER), so every
//     process the command starts, even one that leaves its group (setsid, a
//     double fork), stays below it.
//   * It dies with the engine's thread that started it (PR_SET_PDEATHSIG):
//     when the engine dies, even by SIGKILL, the warden kills G and every
//     descendant, reaps them, and only then exits.
//   * It keeps the journal's writer lock open (`hold_fd`, Journal::lock_fd):
//     flock belongs to the open file, so the lock outlives a killed engine
//     until its wardens exit. The next engine waits for them
//     (WriterLock::Acquire), so recovery never starts a retry while an
//     abandoned attempt's processes may still run.
//   * When the command exits, the warden kills what it left (G and every
//     descendant), reports the command's wait status, and exits.
//
// Signals to the warden: SIGTERM (or SIGINT, SIGHUP, SIGQUIT: a terminal's)
// stops the command: G gets SIGTERM, then SIGKILL `grace` later; SIGUSR2
// kills G at once. SIGPIPE is ignored: nothing ends the warden before it
// has ended the command (a SIGPIPE from reporting to a dead engine did). The
// engine signals the warden, never G: the warden's pid stays valid until the
// engine reaps it, while G's id could be reused once the command is reaped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rewind/base/status.h"

namespace rwd::shell_internal {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset();

 private:
  int fd_ = -1;
};

// A started command and its warden.
struct Warded {
  pid_t warden = -1;  // signal it (Stop, Kill); reap it with Reap
  Fd out, err;        // the command's stdout and stderr
  Fd report;          // readable when the warden reports the command's exit (ReadExit)
};

// Starts `program` with `argv` and `env` (stdin /dev/null, stdout and stderr
// on pipes, default signal dispositions, no blocked signals, every other
// descriptor closed) under a warden that keeps `hold_fd` (-1: none) open
// while it lives. FailedPrecondition when the program cannot be executed,
// Unavailable when processes or memory are short.
Result<Warded> StartWarded(const std::string& program, const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env, int hold_fd,
                           std::chrono::milliseconds grace);

// After `report` polled readable: the command's wait status, once it exited
// (and what it left was killed); Unavailable when the warden died without
// reporting it.
Result<int> ReadExit(Warded& w);

// Waits for the warden to exit and reaps it.
void Reap(Warded& w);

}  // namespace rwd::shell_internal
