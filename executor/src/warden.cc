#include "executor/src/warden.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace rwd::shell_internal {
namespace {

// What the warden reports on its pipe: one message of two int32s each.
enum Report : std::int32_t {
  kStarted = 1,      // value: the command's pid
  kCannotStart = 2,  // value: the errno of fork or exec
  kExited = 3,       // value: the command's wait status
};

// Descendants are killed and reaped for at most this long; a process stuck
// in the kernel (uninterruptible sleep) is then left to init.
constexpr std::int64_t kReapLimitNs = 10'000'000'000;

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// --- The warden and the command: async-signal-safe calls only. ---

std::int64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void SleepNs(long ns) {
  timespec ts{0, ns};
  ::nanosleep(&ts, nullptr);
}

void Send(int fd, Report kind, std::int32_t value) {
  const std::int32_t message[2] = {kind, value};
  // Less than PIPE_BUF: one write, whole or not at all.
  while (::write(fd, message, sizeof message) < 0 && errno == EINTR) {
  }
}

// pipe2(O_CLOEXEC) with both ends above stderr, so that moving the command's
// stdio onto 0..2 never overwrites one of them (an engine may run with stdin
// closed). Returns 0 or an errno.
int Pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
  for (int i = 0; i < 2; ++i) {
    if (fds[i] > STDERR_FILENO) continue;
    const int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    const int e = errno;
    ::close(fds[i]);
    fds[i] = moved;
    if (moved < 0) {
      if (fds[1 - i] >= 0) ::close(fds[1 - i]);
      return e;
    }
  }
  return 0;
}

// Closes every descriptor from 3 up but those in `keep` (sorted, -1s first).
void CloseAllBut(const int* keep, int n) {
  unsigned from = 3;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < static_cast<int>(from)) continue;
    if (static_cast<unsigned>(keep[i]) > from) ::close_range(from, static_cast<unsigned>(keep[i]) - 1, 0);
    from = static_cast<unsigned>(keep[i]) + 1;
  }
  ::close_range(from, ~0U, 0);
}

// Kills every process below the warden — the command's group and whatever
// left it — and reaps them all, the command included.
void KillAndReapAll(pid_t group) {
  ::kill(-group, SIGKILL);
  const std::int64_t until = NowNs() + kReapLimitNs;
  char buf[4096];
  while (NowNs() < until) {
    // Our children, the re-parented ones included (we are their subreaper).
    const int fd = ::open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? ::read(fd, buf, sizeof buf) : -1;
    if (fd >= 0) ::close(fd);
    pid_t pid = 0;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
      } else if (pid > 0) {
        ::kill(pid, SIGKILL);
        pid = 0;
      }
    }
    if (pid > 0) ::kill(pid, SIGKILL);
    int status = 0;
    pid_t reaped = 0;
    while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
    }
    if (reaped < 0 && errno == ECHILD) return;  // nobody left
    SleepNs(1'000'000);
  }
}

// The command, in the warden's fork: its own group, a clean signal state,
// stdio on the pipes, nothing else open; `failed` (close-on-exec) hears why
// exec failed.
[[noreturn]] void ExecCommand(const char* program, char* const* argv, char* const* envp, int out, int err,
                              int failed) {
  ::setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Every descriptor given is above stderr (Pipe), so none is overwritten
  // before it is moved.
  const int null = ::open("/dev/null", O_RDONLY);
  if (null < 0 || ::dup2(null, STDIN_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
      ::dup2(err, STDERR_FILENO) < 0 || (failed != 3 && ::dup3(failed, 3, O_CLOEXEC) < 0)) {
    const std::int32_t e = errno;
    while (::write(failed, &e, sizeof e) < 0 && errno == EINTR) {
    }
    ::_exit(127);
  }
  ::close_range(4, ~0U, 0);
  ::execve(program, argv, envp);
  const std::int32_t e = errno;
  while (::write(3, &e, sizeof e) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

// The warden, in the engine's fork.
[[noreturn]] void Warden(pid_t engine, const char* program, char* const* argv, char* const* envp, int out, int err,
                         int report, int hold, std::int64_t grace_ns) {
  ::prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (::getppid() != engine) ::_exit(0);  // the engine died before the line above
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Nothing may end the warden before it has ended the command: a report to
  // an engine that died is EPIPE, not SIGPIPE, and the signals that stop a
  // process from a terminal are taken as a request to stop the command.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, nullptr);
  sigset_t watched;
  sigemptyset(&watched);
  for (int sig : {SIGCHLD, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&watched, sig);
  ::sigprocmask(SIG_SETMASK, &watched, nullptr);
  int keep[] = {out, err, report, hold};
  std::sort(std::begin(keep), std::end(keep));
  CloseAllBut(keep, 4);

  int failed[2];
  if (const int e = Pipe(failed); e != 0) {
    Send(report, kCannotStart, e);
    ::_exit(0);
  }
  const pid_t command = ::fork();
  if (command < 0) {
    Send(report, kCannotStart, errno);
    ::_exit(0);
  }
  if (command == 0) ExecCommand(program, argv, envp, out, err, failed[1]);
  ::setpgid(command, command);  // as the command does itself: whichever runs first
  ::close(failed[1]);
  ::close(out);
  ::close(err);
  std::int32_t exec_errno = 0;
  ssize_t n;
  while ((n = ::read(failed[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  ::close(failed[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    Send(report, kCannotStart, exec_errno);
    KillAndReapAll(command);
    ::_exit(0);
  }
  Send(report, kStarted, command);

  std::int64_t term_at = -1;
  for (;;) {
    const std::int64_t now = NowNs();
    std::int64_t wait_ns = 1'000'000'000;  // a second at most: getppid() is looked at too
    if (term_at >= 0) wait_ns = std::clamp<std::int64_t>(term_at + grace_ns - now, 0, wait_ns);
    const timespec timeout{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
    siginfo_t info{};
    const int sig = ::sigtimedwait(&watched, &info, &timeout);
    if (sig == SIGUSR1 || ::getppid() != engine) {
      KillAndReapAll(command);  // the engine died: nothing of the step survives it
      ::_exit(0);
    }
    if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT) && term_at < 0) {
      ::kill(-command, SIGTERM);
      term_at = NowNs();
    }
    if (sig == SIGUSR2 || (term_at >= 0 && NowNs() - term_at >= grace_ns)) ::kill(-command, SIGKILL);
    // WNOWAIT: the command stays a zombie, so its group id cannot be reused
    // while what it left is killed.
    siginfo_t exited{};
    if (::waitid(P_PID, static_cast<id_t>(command), &exited, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        exited.si_pid == command) {
      ::kill(-command, SIGKILL);
      int status = 0;
      while (::waitpid(command, &status, 0) < 0 && errno == EINTR) {
      }
      KillAndReapAll(command);
      Send(report, kExited, status);
      ::_exit(0);
    }
  }
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Fd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Warded> StartWarded(const std::string& program, const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env, int hold_fd,
                           std::chrono::milliseconds grace) {
  // Everything the forked processes use is made before the fork: after it
  // they may not allocate.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> entries;
  entries.reserve(env.size());
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);

  Warded w;
  int out[2], err[2], report[2];
  if (const int e = Pipe(out); e != 0) return Err(Code::kUnavailable, "pipe: " + ErrnoText(e));
  w.out = Fd(out[0]);
  Fd out_write(out[1]);
  if (const int e = Pipe(err); e != 0) return Err(Code::kUnavailable, "pipe: " + ErrnoText(e));
  w.err = Fd(err[0]);
  Fd err_write(err[1]);
  if (const int e = Pipe(report); e != 0) return Err(Code::kUnavailable, "pipe: " + ErrnoText(e));
  w.report = Fd(report[0]);
  Fd report_write(report[1]);

  const pid_t engine = ::getpid();
  w.warden = ::fork();
  if (w.warden < 0) return Err(Code::kUnavailable, "cannot start '" + argv[0] + "': fork: " + ErrnoText(errno));
  if (w.warden == 0) {
    Warden(engine, program.c_str(), args.data(), envp.data(), out_write.get(), err_write.get(), report_write.get(),
           hold_fd, std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count());
  }
  out_write.Reset();  // the command's end: EOF once it (and what it started) is gone
  err_write.Reset();
  report_write.Reset();

  std::int32_t first[2] = {0, 0};
  ssize_t n;
  while ((n = ::read(w.report.get(), first, sizeof first)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof first) && first[0] == kStarted) return w;
  Reap(w);
  if (n != static_cast<ssize_t>(sizeof first) || first[0] != kCannotStart) {
    return Err(Code::kUnavailable, "cannot start '" + argv[0] + "': its supervising process stopped");
  }
  const int e = first[1];
  const Code code = e == EAGAIN || e == ENOMEM ? Code::kUnavailable : Code::kFailedPrecondition;
  return Err(code, "cannot start '" + argv[0] + "': " + ErrnoText(e));
}

Result<int> ReadExit(Warded& w) {
  std::int32_t message[2] = {0, 0};
  ssize_t n;
  while ((n = ::read(w.report.get(), message, sizeof message)) < 0 && errno == EINTR) {
  }
  w.report.Reset();
  if (n == static_cast<ssize_t>(sizeof message) && message[0] == kExited) return static_cast<int>(message[1]);
  return Err(Code::kUnavailable, "the process supervising the command stopped before the command did");
}

void Reap(Warded& w) {
  if (w.warden <= 0) return;
  int status = 0;
  while (::waitpid(w.warden, &status, 0) < 0 && errno == EINTR) {
  }
  w.warden = -1;
}

}  // namespace rwd::shell_internal
