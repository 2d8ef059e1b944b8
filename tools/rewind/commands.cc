#include "tools/rewind/commands.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <set>
#include <sstream>

#include "rewind/base/mutex.h"
#include "rewind/base/time.h"
#include "rewind/executor/engine.h"
#include "rewind/executor/workflow_file.h"
#include "rewind/projections/history.h"
#include "rewind/server/api_json.h"
#include "rewind/server/local_access.h"
#include "tools/common/exit_codes.h"
#include "tools/common/journal_open.h"
#include "tools/common/json_out.h"
#include "tools/common/run_text.h"
#include "tools/common/text.h"
#include "tools/rewind/cli_args.h"
#include "tools/rewind/remote.h"
#include "tools/rewind/render.h"
#include "tools/rewind/run_control.h"
#include "tools/rewind/serving.h"

namespace rwd::cli {
namespace {

using namespace std::chrono_literals;

// Writes `text` to stdout whole and flushed: the engine's threads print
// progress while the command's own thread prints its results, and no line
// may be cut into another.
void Print(const std::string& text) {
  static Mutex mu;
  MutexLock lock(mu);
  std::cout << text;
  std::cout.flush();
}

// Runs whose progress this process prints (all of them for `serve`).
class Followed {
 public:
  void Add(const RunId& run) {
    MutexLock lock(mu_);
    runs_.insert(run);
  }
  void All() {
    MutexLock lock(mu_);
    all_ = true;
  }
  bool Has(const RunId& run) {
    MutexLock lock(mu_);
    return all_ || runs_.count(run) != 0;
  }

 private:
  Mutex mu_;
  std::set<RunId> runs_ REWIND_GUARDED_BY(mu_);
  bool all_ REWIND_GUARDED_BY(mu_) = false;
};

Principal Me(const Context& c) {
  std::string user;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr) user = pw->pw_name;
  if (user.empty()) user = "uid-" + std::to_string(getuid());
  if (!c.actor.empty()) user += "/" + c.actor;  // a person acting through a shared account
  return OperatorPrincipal(c.tenant, user);
}

// The engine on the journal, printing progress of followed runs (unless JSON).
struct Session {
  std::unique_ptr<Engine> engine;
  std::shared_ptr<Followed> followed = std::make_shared<Followed>();
  Principal me;
};

// `may_create`: start a new journal where there is none (run, serve); the
// commands that act on a run need an existing one. The journal is opened as
// its one writer, taking the lock before anything is checked, and a damaged
// one is refused (journal_open.h); `touched`: the run the command acts on,
// verified before the engine opens.
// `recover`: drive every unfinished run (serve); the one-shot commands only
// drive the run they act on, so they never take attempts of other runs.
Result<Session> Open(const Context& c, bool may_create, std::optional<RunId> touched, bool recover = false,
                     std::function<void(const Status&)> on_journal_failure = nullptr,
                     std::vector<Workflow> workflows = {}) {
  const bool serving = recover;  // only `serve` recovers every run
  REWIND_RETURN_IF_ERROR(CheckJournalDir(c.data_dir, may_create));
  // The journal first, as its writer (the lock, then LMDB's structure), and
  // the run the command acts on verified, before the engine and its
  // projections write anything: a refused command leaves the file as it was.
  JournalOptions jo;
  jo.directory = c.data_dir;
  auto journal = Journal::Open(jo);
  if (!journal.has_value()) return Err(RefusingToWrite(journal.error(), c.data_dir));
  if (touched) {
    if (auto verified = (*journal)->VerifyRun(*touched); !verified.has_value()) {
      return Err(RefusingToWrite(verified.error(), c.data_dir));
    }
    // And the definition its first event names (stored once, a blob): the
    // engine could not load the run, and would record the refusal.
    const Status first = (*journal)->ReadRun(*touched, 1, 1, [](const EventRecord& r) -> Status {
      auto event = DecodeRecord(r);
      return event.has_value() ? Status::Ok() : event.error();
    });
    if (!first.ok()) return Err(RefusingToWrite(first, c.data_dir));
  }
  Session s;
  s.me = Me(c);
  EngineOptions o;
  o.recover = recover;
  o.on_journal_failure = std::move(on_journal_failure);
  o.resolve = ShellWorkflowResolver();
  o.workflows = std::move(workflows);
  if (serving) s.followed->All();
  o.observer = [followed = s.followed, json = c.json, serving](const RunState& state,
                                                               const std::vector<Event>& appended) {
    if (!followed->Has(state.run)) return;
    if (json) {
      // Only `serve` prints them: the one-shot commands print one object, the run's state.
      if (!serving) return;
      std::uint64_t seq = state.seq - appended.size();
      std::string lines;
      for (const Event& e : appended) lines += EventLineJson(state, e, ++seq) + '\n';
      Print(lines);
    } else {
      std::string lines;
      for (const std::string& line : ProgressLines(state, appended, NowUnixMicros())) lines += line + '\n';
      Print(lines);
    }
  };
  auto engine = Engine::Open(std::move(*journal), std::move(o));
  if (!engine.has_value()) return Err(RefusingToWrite(engine.error(), c.data_dir));
  s.engine = std::move(*engine);
  return s;
}

Result<RunId> ParseRun(const std::string& text) { return RunId::Parse(text); }

// The engine of this process, opened on the journal.
class LocalControl final : public RunControl {
 public:
  explicit LocalControl(Session s) : s_(std::move(s)) {}

  Result<RunId> Start(Workflow workflow, Bytes input, std::string idempotency_key) override {
    const std::string name = workflow.name();
    REWIND_RETURN_IF_ERROR(s_.engine->Register(std::move(workflow)));
    s_.followed->All();  // a new run's id is known only once RunStarted is appended
    return s_.engine->Start(StartRequest{name, std::move(input), std::move(idempotency_key), s_.me});
  }
  Result<ResumeResult> Resume(ResumeRequest request) override {
    request.actor = s_.me;
    return s_.engine->Resume(request);
  }
  Status Decide(const RunId& run, const std::string& step, bool approve, const std::string& note) override {
    return approve ? s_.engine->Approve(run, step, s_.me, ToBytes(note))
                   : s_.engine->Reject(run, step, s_.me, ToBytes(note));
  }
  Status Pause(const RunId& run, const std::string& reason) override { return s_.engine->Pause(run, s_.me, reason); }
  Status Cancel(const RunId& run, const std::string& reason) override {
    return s_.engine->Cancel(run, s_.me, reason);
  }
  Status Signal(const RunId& run, const std::string& name, const std::string& payload) override {
    return s_.engine->Signal(run, name, ToBytes(payload), s_.me);
  }
  Result<RunId> Fork(const RunId& run, const std::string& from_step, std::optional<std::uint64_t> at_seq) override {
    s_.followed->All();
    return s_.engine->Fork(ForkRequest{run, from_step, at_seq, s_.me});
  }
  Status Recover(const RunId& run) override { return s_.engine->Recover(run, s_.me); }
  Status Watch(const RunId& run) override {
    s_.followed->Add(run);
    return Status::Ok();
  }
  Result<RunState> Await(const RunId& run) override {
    constexpr auto kForever = std::chrono::hours(24 * 365);
    return s_.engine->Await(run, s_.me, kForever);
  }

 private:
  Session s_;
};

// The server holding the journal (remote.h), or an engine this process
// opens on it: `may_create` a journal where there is none (run); `touched`:
// the run the command acts on.
Result<std::unique_ptr<RunControl>> Control(const Context& c, bool may_create, std::optional<RunId> touched) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<RunControl> remote, FindServer(c, Me(c)));
  if (remote) return remote;
  REWIND_ASSIGN_OR_RETURN(Session s, Open(c, may_create, touched));
  return std::unique_ptr<RunControl>(std::make_unique<LocalControl>(std::move(s)));
}

Result<Bytes> ReadInput(const std::string& input) {
  const std::optional<std::string> path = InputFilePath(input);
  if (!path) return ToBytes(input);
  std::error_code ec;
  if (std::filesystem::is_directory(*path, ec)) {
    return Err(Code::kInvalidArgument, "input file '" + *path + "' is a directory");
  }
  std::ifstream in(*path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Err(err == EACCES ? Code::kPermissionDenied : Code::kNotFound,
               "cannot read input file '" + *path + "': " + std::strerror(err));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Err(Code::kUnavailable, "cannot read input file '" + *path + "'");
  return ToBytes(buf.str());
}

// Waits until the run stops (completed, failed, cancelled or paused) and
// reports it; returns the exit status for its state, or the error that
// stopped this process driving it (no room to record its progress: 17).
int Follow(const Context& c, RunControl& control, const RunId& run) {
  auto state = control.Await(run);
  if (!state.has_value()) return Fail(c, state.error());
  Print(c.json ? RunJson(*state) + "\n" : "run " + run.ToString() + " " + std::string(RunStatusName(state->status)) + "\n");
  return ExitCodeFor(state->status);
}

// The control for a command acting on the run `run_text` names, watching it.
Result<std::pair<RunId, std::unique_ptr<RunControl>>> ActOn(const Context& c, const std::string& run_text) {
  REWIND_ASSIGN_OR_RETURN(RunId run, ParseRun(run_text));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<RunControl> control, Control(c, /*may_create=*/false, run));
  REWIND_RETURN_IF_ERROR(control->Watch(run));
  return std::pair<RunId, std::unique_ptr<RunControl>>(run, std::move(control));
}

}  // namespace

int Fail(const Context& c, const Status& error) {
  const Status s = NameJournal(error, c.data_dir);
  const int code = ExitCodeFor(s.code());
  if (c.json) {
    Print(ErrorJson(s, code) + "\n");
  } else {
    std::cerr << "rewind: " << Printable(s.ToString()) << std::endl;
  }
  return code;
}

int RunFile(const Context& c, const std::string& file, const std::string& input,
            const std::string& idempotency_key) {
  auto workflow = LoadWorkflowFile(file);
  if (!workflow.has_value()) return Fail(c, workflow.error());
  auto bytes = ReadInput(input);
  if (!bytes.has_value()) return Fail(c, bytes.error());
  auto control = Control(c, /*may_create=*/true, std::nullopt);
  if (!control.has_value()) return Fail(c, control.error());
  auto run = (*control)->Start(std::move(*workflow), std::move(*bytes), idempotency_key);
  if (!run.has_value()) return Fail(c, run.error());
  return Follow(c, **control, *run);
}

int Resume(const Context& c, const std::string& run_text, const std::string& from_step, const std::string& reason,
           const std::string& request_id, const std::string& resume_data, bool dry_run) {
  auto acting = ActOn(c, run_text);
  if (!acting.has_value()) return Fail(c, acting.error());
  auto& [run, control] = *acting;
  ResumeRequest r;
  r.run = run;
  r.from_step = from_step;
  r.reason = reason;
  r.request_id = request_id;
  r.data = ToBytes(resume_data);
  r.dry_run = dry_run;
  auto result = control->Resume(r);
  if (!result.has_value()) return Fail(c, result.error());
  if (dry_run) {
    if (c.json) {
      std::cout << Dump(server::ResumeJson(run, *result, true)) << std::endl;
    } else {
      auto list = [](const std::vector<std::string>& ids) {
        std::string out;
        for (const auto& id : ids) out += (out.empty() ? "" : ", ") + Printable(id);
        return out.empty() ? std::string("(none)") : out;
      };
      std::cout << "a resume from '" << Printable(result->from_step_id) << "' would start epoch " << result->epoch << "\n"
                << "  kept, with their outputs:           " << list(result->kept) << "\n"
                << "  run again with a fresh retry budget: " << list(result->reset) << "\n"
                << "nothing was appended" << std::endl;
    }
    return kExitOk;
  }
  if (!c.json && result->repeated) {
    std::cout << "request '" << Printable(request_id) << "' was seen before (epoch " << result->epoch
              << "): nothing appended" << std::endl;
  }
  return Follow(c, *control, run);
}

int DecideGate(const Context& c, const std::string& run_text, const std::string& step, bool approve,
               const std::string& note) {
  auto acting = ActOn(c, run_text);
  if (!acting.has_value()) return Fail(c, acting.error());
  auto& [run, control] = *acting;
  if (const Status done = control->Decide(run, step, approve, note); !done.ok()) return Fail(c, done);
  return Follow(c, *control, run);
}

int Cancel(const Context& c, const std::string& run_text, const std::string& reason) {
  auto acting = ActOn(c, run_text);
  if (!acting.has_value()) return Fail(c, acting.error());
  auto& [run, control] = *acting;
  if (auto done = control->Cancel(run, reason); !done.ok()) return Fail(c, done);
  const int followed = Follow(c, *control, run);
  return followed == kExitRunFailed ? kExitOk : followed;  // cancelled is what was asked
}

int Pause(const Context& c, const std::string& run_text, const std::string& reason) {
  auto acting = ActOn(c, run_text);
  if (!acting.has_value()) return Fail(c, acting.error());
  auto& [run, control] = *acting;
  if (auto done = control->Pause(run, reason); !done.ok()) return Fail(c, done);
  const int followed = Follow(c, *control, run);
  return followed == kExitPaused ? kExitOk : followed;  // paused is what was asked
}

int Recover(const Context& c, const std::string& run_text) {
  auto acting = ActOn(c, run_text);
  if (!acting.has_value()) return Fail(c, acting.error());
  auto& [run, control] = *acting;
  if (auto done = control->Recover(run); !done.ok()) return Fail(c, done);
  return Follow(c, *control, run);
}

int Fork(const Context& c, const std::string& run_text, const std::string& from_step,
         std::optional<std::uint64_t> at_seq) {
  auto run = ParseRun(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  auto control = Control(c, /*may_create=*/false, *run);
  if (!control.has_value()) return Fail(c, control.error());
  auto child = (*control)->Fork(*run, from_step, at_seq);
  if (!child.has_value()) return Fail(c, child.error());
  if (!c.json) std::cout << "forked run " << run->ToString() << " as " << child->ToString() << std::endl;
  return Follow(c, **control, *child);
}

int Signal(const Context& c, const std::string& run_text, const std::string& name, const std::string& payload) {
  auto acting = ActOn(c, run_text);
  if (!acting.has_value()) return Fail(c, acting.error());
  auto& [run, control] = *acting;
  if (auto done = control->Signal(run, name, payload); !done.ok()) return Fail(c, done);
  return Follow(c, *control, run);
}

// status and state only read: a read-only journal, so they work beside a
// running `rewind serve` and never drive a run.
Result<std::unique_ptr<Journal>> OpenReadOnly(const Context& c) { return OpenReadOnly(c.data_dir); }

// The run's history, if it belongs to the caller's tenant (NotFound otherwise).
Result<RunHistory> TenantHistory(const Context& c, const Journal& journal, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(RunHistory history, RunHistory::Read(journal, run));
  if (history.definition().tenant != c.tenant) return Err(Code::kNotFound, "run " + run.ToString() + " is unknown");
  return history;
}

// status with --server: one run's state (its driver is the server), or the
// tenant's runs as the server's run index lists them.
int ShowRemoteStatus(const Context& c, const std::string& run_text) {
  if (run_text.empty()) {
    return Fail(c, Status(Code::kInvalidArgument, "status with --server shows one run: give RUN (`rewind runs` "
                                                  "lists them from the journal's run index)"));
  }
  auto run = ParseRun(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  auto history = RemoteHistory(c, Me(c), *run);
  if (!history.has_value()) return Fail(c, history.error());
  auto state = history->State();
  if (!state.has_value()) return Fail(c, state.error());
  std::cout << (c.json ? RunJson(*state) + "\n" : RunText(*state));
  return kExitOk;
}

int ShowStatus(const Context& c, const std::string& run_text) {
  if (ServerGiven(c)) return ShowRemoteStatus(c, run_text);
  auto journal = OpenReadOnly(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  if (!run_text.empty()) {
    auto run = ParseRun(run_text);
    if (!run.has_value()) return Fail(c, run.error());
    auto history = TenantHistory(c, **journal, *run);
    if (!history.has_value()) return Fail(c, history.error());
    auto state = history->State();
    if (!state.has_value()) return Fail(c, state.error());
    // A run that is not stopped goes on only while a process drives it: the
    // one holding the journal for writing, if any.
    std::optional<Driver> driver;
    if (!state->Stopped()) {
      auto writer = Journal::WriterProcess(c.data_dir);
      if (!writer.has_value()) return Fail(c, writer.error());
      driver = Driver{*writer};
    }
    if (c.json) {
      std::cout << RunJson(*state, driver) << "\n";
    } else {
      std::cout << RunText(*state);
      if (driver) std::cout << DriverText(*state, *driver) << "\n";
    }
    return kExitOk;
  }
  std::vector<RunId> ids;
  const Status listed = (*journal)->ForEachRun([&](const RunId& run, std::uint64_t) {
    ids.push_back(run);
    return Status::Ok();
  });
  if (!listed.ok()) return Fail(c, listed);
  std::vector<RunState> runs;
  for (const RunId& id : ids) {
    auto history = TenantHistory(c, **journal, id);
    if (!history.has_value() && history.error().code() == Code::kNotFound) continue;  // another tenant's
    if (!history.has_value()) return Fail(c, history.error());
    auto state = history->State();
    if (!state.has_value()) return Fail(c, state.error());
    runs.push_back(std::move(*state));
  }
  std::cout << (c.json ? RunListJson(runs) + "\n" : RunListText(runs));
  return kExitOk;
}

int ShowState(const Context& c, const std::string& run_text, std::optional<std::uint64_t> at_seq,
              const std::string& at_step) {
  auto run = ParseRun(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  Result<RunHistory> history = Err(Code::kInternal, "");
  if (ServerGiven(c)) {
    history = RemoteHistory(c, Me(c), *run);
  } else {
    auto journal = OpenReadOnly(c);
    if (!journal.has_value()) return Fail(c, journal.error());
    history = TenantHistory(c, **journal, *run);
  }
  if (!history.has_value()) return Fail(c, history.error());
  const auto seq = StateSeq(*history, at_seq, at_step);
  if (!seq.has_value()) return Fail(c, seq.error());
  auto state = history->StateAt(*seq);
  if (!state.has_value()) return Fail(c, state.error());
  if (c.json) {
    std::cout << RunJson(*state) << std::endl;
  } else {
    std::cout << "state of run " << run->ToString() << " at seq " << state->seq << ":\n" << RunText(*state);
  }
  return kExitOk;
}

int MintToken(const Context& c, const TokenArgs& args) {
  auto token = Token(args, NowUnixMicros() / 1'000'000);
  if (!token.has_value()) return Fail(c, token.error());
  std::cout << (c.json ? ObjectJson({{"token", *token}}) : *token) << std::endl;
  return kExitOk;
}

int Serve(const Context& c, const ServeArgs& args) {
  // Every flag is checked before the journal is opened.
  auto workflows = LoadWorkflows(args.workflows);
  if (!workflows.has_value()) return Fail(c, workflows.error());
  const std::string local_secret = server::NewLocalSecret();
  auto options = ServerOptionsFor(args, local_secret);
  if (!options.has_value()) return Fail(c, options.error());
  for (const Workflow& w : *workflows) {
    auto definition = w.Definition();
    if (!definition.has_value()) return Fail(c, definition.error());
    options->workflows.push_back(std::move(*definition));
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGUSR1);  // the engine lost its journal
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before any engine thread exists
  auto failure = std::make_shared<std::promise<Status>>();
  auto failed = failure->get_future();
  auto s = Open(c, /*may_create=*/true, std::nullopt, /*recover=*/true, [failure](const Status& cause) {
    failure->set_value(cause);
    ::kill(::getpid(), SIGUSR1);
  }, std::move(*workflows));
  if (!s.has_value()) return Fail(c, s.error());
  const std::string address = options->address;
  const bool tls = !options->tls_cert_file.empty();
  std::string ca_file;
  if (tls) ca_file = std::filesystem::absolute(options->tls_cert_file).string();
  auto api = server::Server::Start(*s->engine, std::move(*options));
  if (!api.has_value()) return Fail(c, api.error());
  // The rewind commands on this machine find the server here (local_access.h).
  auto access = server::LocalAccessFile::Publish(
      c.data_dir, server::LocalAccess{::getpid(), server::LocalUrl(address, (*api)->port(), tls), local_secret, ca_file});
  if (!access.has_value()) return Fail(c, access.error());
  const std::string listening = args.listen.substr(0, args.listen.rfind(':')) + ":" + std::to_string((*api)->port());
  if (c.json) {
    if (!args.listen.empty()) Print(Dump(nlohmann::json{{"listening", listening}}) + "\n");
  } else {
    Print("serving journal " + Printable(c.data_dir) +
          (args.listen.empty() ? std::string() : " and its API on " + Printable(listening)) + " (Ctrl-C stops)\n");
  }
  int sig = 0;
  sigwait(&stop, &sig);
  access->reset();
  api->reset();  // no new requests; those in flight are answered
  if (sig == SIGUSR1) {
    // A writer that can no longer write says so and stops, rather than idle.
    return Fail(c, failed.get().WithContext("serve stops: the journal can no longer be written"));
  }
  Print(c.json ? ObjectJson({{"stopped", "signal"}}) + "\n" : "stopping: runs in flight continue at the next start\n");
  return kExitOk;
}

}  // namespace rwd::cli
