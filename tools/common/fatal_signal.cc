#include "tools/common/fatal_signal.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "tools/common/exit_codes.h"
#include "tools/common/json_out.h"

namespace rwd::cli {
namespace {

constexpr std::array<int, 5> kFatalSignals = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

// Written once by ReportFatalSignals before any handler is installed; only
// read by the handler.
std::array<std::string, kFatalSignals.size()> reports;
int report_fd = STDERR_FILENO;
std::atomic<bool> reporting{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the handler needs a lock-free flag");

void WriteAll(int fd, const std::string& text) {
  const char* at = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    at += n;
    left -= static_cast<std::size_t>(n);
  }
}

void OnFatalSignal(int sig) {
  // A second thread faulting meanwhile waits for the first one's _exit.
  if (reporting.exchange(true)) {
    for (;;) ::pause();
  }
  for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
    if (kFatalSignals[i] == sig) WriteAll(report_fd, reports[i]);
  }
  ::_exit(kExitJournalCrashed);
}

}  // namespace

std::string JournalCrashMessage(const std::string& data_dir, int sig) {
  return "reading the journal in '" + data_dir + "' crashed the process (signal " + std::to_string(sig) + ", " +
         strsignal(sig) + "): its data file is most likely damaged beyond what the checks can report " +
         "(`journal-inspect verify --data '" + data_dir + "'` shows what they find)";
}

void ReportFatalSignals(std::string_view tool, const std::string& data_dir, bool json) {
  for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
    const std::string message = JournalCrashMessage(data_dir, kFatalSignals[i]);
    reports[i] = json ? ErrorJson(kCrashedErrorCode, message, kExitJournalCrashed) + "\n"
                      : std::string(tool) + ": " + message + "\n";
  }
  report_fd = json ? STDOUT_FILENO : STDERR_FILENO;

  static char alternate_stack[64 * 1024];
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof(alternate_stack);
  sigaltstack(&stack, nullptr);

  struct sigaction action{};
  action.sa_handler = OnFatalSignal;
  action.sa_flags = SA_ONSTACK;
  // One report at a time in a thread: the other fatal signals wait. A fault
  // inside the handler (its own signal blocked) ends the process as before.
  sigemptyset(&action.sa_mask);
  for (int sig : kFatalSignals) sigaddset(&action.sa_mask, sig);
  for (int sig : kFatalSignals) sigaction(sig, &action, nullptr);
}

}  // namespace rwd::cli
