#include "rewind/executor/shell_step.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

#include "executor/src/text_tail.h"
#include "executor/src/warden.h"

extern char** environ;

namespace rwd {
namespace {

using shell_internal::Fd;
using shell_internal::ReadExit;
using shell_internal::Reap;
using shell_internal::StartWarded;
using shell_internal::Warded;
using step_internal::WithTail;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kShell = "/bin/sh";
// Only the tail of stderr is reported; keep a little more than it.
constexpr std::size_t kStderrKeepBytes = 16u << 10;
// After the command exits, how long its pipes are read at most (the warden
// has killed every process that could hold them).
constexpr milliseconds kDrainLimit{1'000};
// Longest wait in poll(): how late a stop request is noticed at most.
constexpr int kPollMs = 50;

std::string ErrnoText(int err) { return std::generic_category().message(err); }

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

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return (abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal") + " (" + std::to_string(sig) + ")";
}

// What the command did: its wait status and what it wrote.
struct Outcome {
  int wait_status = 0;
  Bytes out;
  std::string err;
  bool overflow = false;  // stdout went over kMaxStepOutputBytes
  bool stopped = false;   // the attempt was asked to stop and the command was signalled
  Status lost;            // the warden stopped before the command did
};

// Reads both pipes until the command exits and its pipes close, asking the
// warden to stop the command on a stop request (SIGTERM, then SIGKILL after
// kStopGrace) or to kill it on an output overflow; reaps the warden.
Outcome Supervise(Warded& child, const std::stop_token& stop) {
  Outcome o;
  bool out_open = true, err_open = true, exited = false;
  Clock::time_point drain_until;
  std::vector<std::uint8_t> buf(64u << 10);

  for (;;) {
    const Clock::time_point now = Clock::now();
    if (!exited && !o.stopped && stop.stop_requested()) {
      ::kill(child.warden, SIGTERM);
      o.stopped = true;
    }
    if (exited && ((!out_open && !err_open) || now >= drain_until)) break;

    pollfd fds[3];
    nfds_t n = 0;
    if (out_open) fds[n++] = pollfd{child.out.get(), POLLIN, 0};
    if (err_open) fds[n++] = pollfd{child.err.get(), POLLIN, 0};
    if (!exited) fds[n++] = pollfd{child.report.get(), POLLIN, 0};
    int timeout = kPollMs;
    if (exited) {
      const auto left = std::chrono::duration_cast<milliseconds>(drain_until - now).count();
      timeout = static_cast<int>(std::clamp<std::int64_t>(left, 0, timeout));
    }
    const int ready = ::poll(fds, n, timeout);
    for (nfds_t i = 0; ready > 0 && i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == child.report.get()) {
        Result<int> status = ReadExit(child);
        if (status.has_value()) {
          o.wait_status = *status;
        } else {
          o.lost = status.error();
        }
        exited = true;
        // The warden killed whatever the command left, so the pipes close
        // at once; a second bounds the wait all the same.
        drain_until = Clock::now() + kDrainLimit;
        continue;
      }
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
          ::kill(child.warden, SIGUSR2);
        }
      }  // after an overflow stdout is drained and dropped
    }
  }
  Reap(child);
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
  REWIND_ASSIGN_OR_RETURN(Warded child, StartWarded(program, command.argv, env, ctx.hold_fd, kStopGrace));
  Outcome o = Supervise(child, ctx.stop);
  if (!o.lost.ok()) return Err(o.lost);

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
