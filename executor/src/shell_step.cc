#include "rewind/executor/shell_step.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

extern char** environ;

namespace rwd {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kShell = "/bin/sh";
constexpr std::size_t kStderrTailLines = 20;
constexpr std::size_t kStderrTailBytes = 2048;
// Only the tail of stderr is reported; keep a little more than it.
constexpr std::size_t kStderrKeepBytes = 16u << 10;
// After the command exits, how long pipes held by escaped processes are read.
constexpr milliseconds kDrainLimit{1'000};
// Longest wait in poll(): how late a stop request is noticed at most.
constexpr int kPollMs = 50;

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The attempt's temporary directory, removed with its files on destruction.
class ScratchDir {
 public:
  static Result<ScratchDir> Create() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/rewind-step-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Err(Code::kUnavailable, "cannot create a temporary directory " + pattern + ": " + ErrnoText(errno));
    }
    ScratchDir dir;
    dir.path_ = std::move(pattern);
    return dir;
  }
  ScratchDir() = default;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  ScratchDir& operator=(ScratchDir&&) = delete;

  // Writes `bytes` to a new file `name` in the directory; returns its path.
  Result<std::string> Write(const std::string& name, ByteView bytes) const {
    const std::string path = path_ + "/" + name;
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Err(Code::kUnavailable, "cannot create " + path + ": " + ErrnoText(errno));
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Err(Code::kUnavailable, "cannot write " + path + ": " + ErrnoText(errno));
      done += static_cast<std::size_t>(n);
    }
    return path;
  }

 private:
  std::string path_;
};

// A pipe whose ends are both above stderr, so the child's dup2 onto 0..2
// never clobbers one of them.
Status MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status(Code::kUnavailable, "pipe: " + ErrnoText(errno));
  for (int& fd : fds) {
    if (fd > STDERR_FILENO) continue;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    const int err = errno;
    ::close(fd);
    fd = moved;
    if (moved < 0) {
      for (int other : fds) {
        if (other >= 0) ::close(other);
      }
      return Status(Code::kUnavailable, "pipe: " + ErrnoText(err));
    }
  }
  *read_end = Fd(fds[0]);
  *write_end = Fd(fds[1]);
  return Status::Ok();
}

// Bytes usable as an environment value: not too large, no NUL.
bool FitsEnvironment(ByteView bytes) {
  return bytes.size() <= kMaxEnvValueBytes && std::find(bytes.begin(), bytes.end(), 0) == bytes.end();
}

bool ValidEnvName(std::string_view name) {
  return !name.empty() && name.find('=') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

// Resolves argv[0] as execvp would, but in the command's own PATH.
Result<std::string> FindProgram(const std::string& name, const std::map<std::string, std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  auto it = env.find("PATH");
  const std::string path = it != env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
  bool denied = false;
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    const std::string dir = end == begin ? "." : path.substr(begin, end - begin);
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      denied = true;
    }
    begin = end + 1;
  }
  if (denied) return Err(Code::kFailedPrecondition, "command '" + name + "' is not executable");
  return Err(Code::kFailedPrecondition, "command '" + name + "' not found in PATH=" + path);
}

struct Child {
  pid_t pid = -1;
  Fd out;
  Fd err;
};

Result<Child> Spawn(const std::string& program, const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env) {
  Child child;
  Fd out_write, err_write;
  REWIND_RETURN_IF_ERROR(MakePipe(&child.out, &out_write));
  REWIND_RETURN_IF_ERROR(MakePipe(&child.err, &err_write));

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> entries;
  entries.reserve(env.size());
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Descriptors the engine opened without O_CLOEXEC stay out of the command.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A group of its own (pgid = pid), no blocked signals, and default
  // dispositions for everything the engine may ignore (SIGPIPE above all).
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);

  const int rc = ::posix_spawn(&child.pid, program.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    const Code code = rc == EAGAIN || rc == ENOMEM ? Code::kUnavailable : Code::kFailedPrecondition;
    return Err(code, "cannot start '" + argv[0] + "': " + ErrnoText(rc));
  }
  return child;
}

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return (abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal") + " (" + std::to_string(sig) + ")";
}

// The last kStderrTailLines lines of `err`, at most kStderrTailBytes of them,
// without trailing whitespace.
std::string Tail(std::string_view err) {
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r' || err.back() == ' ' || err.back() == '\t')) {
    err.remove_suffix(1);
  }
  std::size_t start = err.size();
  for (std::size_t lines = 0; start > 0; --start) {
    if (err[start - 1] == '\n' && ++lines == kStderrTailLines) break;
  }
  if (err.size() - start > kStderrTailBytes) {
    start = err.size() - kStderrTailBytes;
    // Do not begin inside a UTF-8 sequence.
    while (start < err.size() && (static_cast<unsigned char>(err[start]) & 0xC0) == 0x80) ++start;
  }
  return std::string(err.substr(start));
}

std::string WithTail(std::string message, const std::string& err) {
  const std::string tail = Tail(err);
  return tail.empty() ? message : message + ": " + tail;
}

// What the command did: its wait status and what it wrote.
struct Outcome {
  int wait_status = 0;
  Bytes out;
  std::string err;
  bool overflow = false;  // stdout went over kMaxStepOutputBytes
  bool stopped = false;   // the attempt was asked to stop and the group was signalled
};

// Reads both pipes until the command exits (and its pipes close), signalling
// the group on a stop request or an output overflow; reaps the command.
Outcome Supervise(Child& child, const std::stop_token& stop) {
  Outcome o;
  bool out_open = true, err_open = true, exited = false, killed = false;
  Clock::time_point term_at, drain_until;
  int idle_ms = 1;
  std::vector<std::uint8_t> buf(64u << 10);
  const auto kill_group = [&](int sig) { ::kill(-child.pid, sig); };

  for (;;) {
    const Clock::time_point now = Clock::now();
    if (!exited) {
      if (!o.stopped && !killed && stop.stop_requested()) {
        kill_group(SIGTERM);
        o.stopped = true;
        term_at = now;
      }
      if (o.stopped && !killed && now - term_at >= kStopGrace) {
        kill_group(SIGKILL);
        killed = true;
      }
    } else if ((!out_open && !err_open) || now >= drain_until) {
      break;
    }

    pollfd fds[2];
    nfds_t n = 0;
    if (out_open) fds[n++] = pollfd{child.out.get(), POLLIN, 0};
    if (err_open) fds[n++] = pollfd{child.err.get(), POLLIN, 0};
    int timeout = kPollMs;
    if (n == 0) {
      // Both pipes closed but the command still runs: exit is usually a
      // moment away, so look again soon, then less often.
      timeout = idle_ms;
      idle_ms = std::min(idle_ms * 2, kPollMs);
    }
    if (exited) {
      const auto left = std::chrono::duration_cast<milliseconds>(drain_until - now).count();
      timeout = static_cast<int>(std::clamp<std::int64_t>(left, 0, timeout));
    }
    const int ready = ::poll(fds, n, timeout);
    for (nfds_t i = 0; ready > 0 && i < n; ++i) {
      if (fds[i].revents == 0) continue;
      const bool is_out = fds[i].fd == child.out.get();
      const ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        (is_out ? out_open : err_open) = false;
        (is_out ? child.out : child.err).Reset();
        continue;
      }
      const auto chunk = std::span(buf.data(), static_cast<std::size_t>(got));
      if (!is_out) {
        o.err.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        if (o.err.size() > 2 * kStderrKeepBytes) o.err.erase(0, o.err.size() - kStderrKeepBytes);
      } else if (!o.overflow) {
        o.out.insert(o.out.end(), chunk.begin(), chunk.end());
        if (o.out.size() > kMaxStepOutputBytes) {
          o.overflow = true;
          o.out = Bytes();
          kill_group(SIGKILL);
          killed = true;
        }
      }  // after an overflow stdout is drained and dropped
    }

    if (!exited) {
      // WNOWAIT leaves the command a zombie, so its pid (the group id) cannot
      // be reused while the rest of its group is killed.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == child.pid) {
        exited = true;
        kill_group(SIGKILL);  // what it left behind
        drain_until = Clock::now() + kDrainLimit;
      }
    }
  }
  while (::waitpid(child.pid, &o.wait_status, 0) < 0 && errno == EINTR) {
  }
  return o;
}

Result<Bytes> RunAttempt(const ShellCommand& command, const StepContext& ctx) {
  for (const auto& [name, value] : command.env) {
    if (!ValidEnvName(name) || value.find('\0') != std::string::npos) {
      return Err(Code::kInvalidArgument, "environment variable '" + name + "' has an invalid name or value");
    }
  }
  if (ctx.stop.stop_requested()) return Err(Code::kUnavailable, "stopped before the command started");

  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq != std::string_view::npos && eq > 0) env[std::string(entry.substr(0, eq))] = entry.substr(eq + 1);
  }
  for (const auto& [name, value] : command.env) env[name] = value;

  REWIND_ASSIGN_OR_RETURN(ScratchDir scratch, ScratchDir::Create());
  const std::string step_id = ctx.step != nullptr ? ctx.step->id : std::string();
  env["REWIND_RUN_ID"] = ctx.run.ToString();
  env["REWIND_STEP"] = step_id;
  env["REWIND_STEP_INDEX"] = std::to_string(ctx.index);
  env["REWIND_ATTEMPT"] = std::to_string(ctx.attempt);
  env["REWIND_EPOCH"] = std::to_string(ctx.epoch);
  env["REWIND_IDEMPOTENCY_KEY"] = ctx.idempotency_key;
  REWIND_ASSIGN_OR_RETURN(env["REWIND_INPUT_FILE"], scratch.Write("input", ctx.input));
  if (FitsEnvironment(ctx.input)) env["REWIND_INPUT"] = AsChars(ctx.input);
  if (!ctx.resume_data.empty() && FitsEnvironment(ctx.resume_data)) {
    env["REWIND_RESUME_DATA"] = AsChars(ctx.resume_data);
  }
  if (ctx.dependencies != nullptr) {
    std::map<std::string, std::string> stems;
    for (const auto& [id, output] : *ctx.dependencies) {
      const std::string var = "REWIND_OUTPUT_" + OutputVariableStem(id);
      if (auto [other, fresh] = stems.emplace(var, id); !fresh) {
        return Err(Code::kInvalidArgument,
                   "dependencies '" + other->second + "' and '" + id + "' would both be " + var);
      }
      REWIND_ASSIGN_OR_RETURN(env[var + "_FILE"], scratch.Write("output-" + OutputVariableStem(id), output));
      if (FitsEnvironment(output)) env[var] = AsChars(output);
    }
  }

  REWIND_ASSIGN_OR_RETURN(const std::string program, FindProgram(command.argv[0], env));
  REWIND_ASSIGN_OR_RETURN(Child child, Spawn(program, command.argv, env));
  Outcome o = Supervise(child, ctx.stop);

  if (o.overflow) return Err(Code::kInvalidArgument, "step output exceeds 1 MiB");
  const int ws = o.wait_status;
  if (o.stopped) {
    const std::string how = WIFSIGNALED(ws) ? "killed by " + SignalName(WTERMSIG(ws))
                                            : "exit status " + std::to_string(WEXITSTATUS(ws));
    return Err(Code::kUnavailable, "stopped (timeout, cancel or shutdown): " + how);
  }
  if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) return std::move(o.out);
  if (WIFEXITED(ws)) {
    const int status = WEXITSTATUS(ws);
    if (command.IsScript() && status == 127) {
      return Err(Code::kFailedPrecondition, WithTail("command not found (exit status 127)", o.err));
    }
    if (command.IsScript() && status == 126) {
      return Err(Code::kFailedPrecondition, WithTail("command cannot be executed (exit status 126)", o.err));
    }
    return Err(Code::kUnavailable, WithTail("exit status " + std::to_string(status), o.err));
  }
  return Err(Code::kUnavailable, WithTail("killed by " + SignalName(WTERMSIG(ws)), o.err));
}

}  // namespace

ShellCommand ShellCommand::Script(std::string script, std::map<std::string, std::string> env) {
  return ShellCommand{{kShell, "-c", std::move(script)}, std::move(env)};
}

bool ShellCommand::IsScript() const { return argv.size() == 3 && argv[0] == kShell && argv[1] == "-c"; }

StepHandler ShellStep(ShellCommand command) {
  return [command = std::move(command)](const StepContext& ctx) -> Result<Bytes> {
    if (command.argv.empty() || command.argv[0].empty()) {
      return Err(Code::kInvalidArgument, "the step has no command to run");
    }
    return RunAttempt(command, ctx);
  };
}

std::string OutputVariableStem(std::string_view step_id) {
  std::string out(step_id);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      c = '_';
    }
  }
  return out;
}

}  // namespace rwd
