// ChildProcess: runs a helper program of the test suite with its stdout on a
// pipe, so crash tests can read what it acknowledged and SIGKILL it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace rwd::test {

class ChildProcess {
 public:
  // Starts `program` (a path, or a name in this test binary's directory).
  ChildProcess(const std::string& program, const std::vector<std::string>& args);
  ~ChildProcess();  // kills and reaps the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads complete lines available within `timeout_ms` (0: only what is
  // buffered). Returns false at end of stream.
  bool ReadLines(int timeout_ms, std::vector<std::string>* lines);
  // SIGKILL, reap, then collect every line the child wrote before dying.
  void KillAndDrain(std::vector<std::string>* lines);
  // Sends `sig` to the child, which must not have been reaped yet.
  void Signal(int sig);
  // Waits for exit; returns the wait status.
  int Wait();
  // Whether the child has exited (reaped then), without waiting.
  bool Exited();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string partial_;
};

// The directory holding the running test binary.
std::string TestBinaryDir();

// What a program printed, and how it ended.
struct ProgramOutput {
  int exit_code = -1;  // -1: it did not start, or a signal ended it
  std::string out, err;
};

// Runs `program` (a path) with `args` to the end. Its stdout and stderr go
// to files in `scratch_dir`, so no pipe fills up while the caller waits.
ProgramOutput RunProgram(const std::string& program, const std::vector<std::string>& args,
                         const std::string& scratch_dir);

}  // namespace rwd::test
