// Tenant isolation and authorization of every Engine call, table-driven.
//
// Proves, for Start, Resume (and its dry run), Fork, Approve, Reject, Signal,
// Pause, Cancel, State, StateAt, StateAtStep, Await and Events:
//   * a principal of another tenant, even an operator, gets NotFound with the
//     very message a run id that does not exist gets: it never learns the run
//     exists;
//   * a member of the run's tenant without the operator role is
//     PermissionDenied for the operator calls (resume, fork, approve, reject,
//     pause, cancel) and may make the others (start, signal and the reads);
//   * an EngineOptions::authorize that denies everything refuses every call,
//     Start included, with its own reason;
// and that every refused call appends nothing to the journal, leaves the run's
// state as it was, logs one warning naming the action, the run, the
// principal's subject and its tenant, and — unless a read — records one
// refusal saying the same (refusals.h), whose chain verifies and shows any
// entry changed or taken out.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rewind/executor/engine.h"
#include "rewind/executor/refusals.h"
#include "tests/executor/engine_fixture.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kTenant = "acme";

// Keeps every message logged through it, with its level.
class CapturingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  struct Line {
    spdlog::level::level_enum level;
    std::string text;
  };
  // The lines logged since the last call.
  std::vector<Line> Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Line> out;
    out.swap(lines_);
    return out;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.push_back(Line{msg.level, std::string(msg.payload.data(), msg.payload.size())});
  }
  void flush_() override {}

 private:
  std::vector<Line> lines_;
};

std::string Show(const std::vector<CapturingSink::Line>& lines) {
  std::string out;
  for (const auto& line : lines) out += "\n  " + line.text;
  return out.empty() ? " (nothing logged)" : out;
}

// `text` with every occurrence of the run's id replaced by "<run>".
std::string Redact(std::string text, const RunId& run) {
  const std::string id = run.ToString();
  for (auto at = text.find(id); at != std::string::npos; at = text.find(id, at)) text.replace(at, id.size(), "<run>");
  return text;
}

// Every stored record of every run, by run: equal before and after a call
// exactly when the call appended nothing.
struct JournalContents {
  std::uint64_t last_position = 0;
  std::map<RunId, std::vector<Bytes>> records;
  friend bool operator==(const JournalContents&, const JournalContents&) = default;
};

// The run a call is made on.
enum class Target { kNone, kFailed, kAtApproval, kRunning };

struct Call {
  std::string name;
  Target target;
  // The action the authorizer is asked for the call itself.
  Action action;
  // The action the first check of the run (its tenant, then the authorizer)
  // logs when it refuses. Differs from `action` for Fork only: Fork reads the
  // parent's state first, so a refusal there is logged as a "read".
  Action first_check;
  bool member_may;  // DefaultAuthorizer lets a member without the operator role make it
  std::function<Status(const RunId& run, const Principal& who)> invoke;
};

class AuthorizationTest : public EngineTest {
 protected:
  void SetUp() override {
    previous_logger_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("", sink_);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
  }

  void TearDown() override {
    gate_.Open();     // lets the running run's attempt return,
    engine_.reset();  // which the engine waits for
    spdlog::set_default_logger(previous_logger_);
  }

  static Principal TenantOperator() { return Principal{std::string(kTenant), "owner", {std::string(kOperatorRole)}}; }

  // Opens the engine with `authorize` and starts three runs of tenant acme:
  // one failed (resume, fork, reads), one paused at its approval gate (approve,
  // reject) and one running, its attempt held at gate_ (signal, pause, cancel).
  // The journal is quiet when it returns.
  void OpenWithRuns(Authorizer authorize = DefaultAuthorizer) {
    Workflow order("order");
    order.Step("validate", Counting(calls_));
    order.Step("reserve", Counting(calls_));
    order.Step("charge", [](const StepContext&) -> Result<Bytes> { return Err(Code::kUnavailable, "declined"); })
        .Retry(RetryPolicy{1, 0, 2.0, 0, 0});
    order.Step("ship", Counting(calls_));
    Workflow release("release");
    release.Step("build", Counting(calls_));
    release.Approval("approve");
    release.Step("deploy", Counting(calls_));
    Workflow held("held");
    held.Step("wait", gate_.Handler());
    held.Step("after", Counting(calls_));

    EngineOptions o = Options();
    o.workflows.push_back(std::move(order));
    o.workflows.push_back(std::move(release));
    o.workflows.push_back(std::move(held));
    o.authorize = std::move(authorize);
    ASSERT_NO_FATAL_FAILURE(Open(std::move(o)));

    failed_ = StartRun("order", TenantOperator());
    ASSERT_EQ(Stopped(failed_).status, RunStatus::kFailed);
    at_approval_ = StartRun("release", TenantOperator());
    const RunState paused = Stopped(at_approval_);
    ASSERT_EQ(paused.status, RunStatus::kPaused);
    ASSERT_EQ(paused.paused_step, 1u);
    running_ = StartRun("held", TenantOperator());
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (StateOf(running_).steps[0].status != StepStatus::kRunning) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the held attempt never started";
      std::this_thread::sleep_for(1ms);
    }
    sink_->Take();
  }

  RunState Stopped(const RunId& run) {
    auto s = engine_->Await(run, TenantOperator(), 20s);
    EXPECT_THAT(s, IsOk());
    return s.value_or(RunState());
  }

  RunState StateOf(const RunId& run) {
    auto s = engine_->State(run, TenantOperator());
    EXPECT_THAT(s, IsOk());
    return s.value_or(RunState());
  }

  RunId RunOf(Target target) const {
    switch (target) {
      case Target::kFailed: return failed_;
      case Target::kAtApproval: return at_approval_;
      case Target::kRunning: return running_;
      case Target::kNone: break;
    }
    return RunId();
  }

  JournalContents Contents() {
    JournalContents out;
    const Journal& journal = engine_->journal();
    auto last = journal.LastPosition();
    EXPECT_THAT(last, IsOk());
    out.last_position = last.value_or(0);
    std::vector<RunId> runs;
    EXPECT_THAT(journal.ForEachRun([&](const RunId& run, std::uint64_t) -> Status {
      runs.push_back(run);
      return Status::Ok();
    }),
                IsOk());
    for (const RunId& run : runs) {
      std::vector<Bytes>& records = out.records[run];
      EXPECT_THAT(journal.ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& r) -> Status {
        if (r.index == 0) records.emplace_back(r.record().begin(), r.record().end());
        return Status::Ok();
      }),
                  IsOk());
    }
    return out;
  }

  // Makes `call` as `who` on `run`, expecting a refusal with `code`: nothing
  // is appended, the run's state is unchanged (`read_state` reads it) and one
  // warning names the action, the run, the subject and the tenant. Returns the
  // refusal.
  Status ExpectRefused(const Call& call, const RunId& run, const Principal& who, Code code, Action logged_action,
                       const std::function<RunState(const RunId&)>& read_state) {
    const JournalContents journal_before = Contents();
    const std::vector<Refusal> recorded_before = Refusals();
    const RunState state_before = call.target == Target::kNone ? RunState() : read_state(run);
    sink_->Take();
    const Status refused = call.invoke(run, who);
    const std::vector<CapturingSink::Line> logged = sink_->Take();
    EXPECT_THAT(refused, HasCode(code));
    EXPECT_TRUE(Contents() == journal_before) << "a refused " << call.name << " appended to the journal";
    const std::vector<Refusal> recorded = Refusals();
    if (logged_action == Action::kRead) {
      EXPECT_EQ(recorded.size(), recorded_before.size()) << "a refused read is logged, not recorded";
    } else if (recorded.size() != recorded_before.size() + 1) {
      ADD_FAILURE() << "a refused " << call.name << " recorded " << recorded.size() - recorded_before.size()
                    << " refusals, not one";
    } else {
      const Refusal& r = recorded.front();  // the newest
      EXPECT_EQ(r.subject, who.subject);
      EXPECT_EQ(r.actor_tenant, who.tenant);
      EXPECT_EQ(r.action, ActionName(logged_action));
      EXPECT_EQ(r.run, call.target == Target::kNone ? std::nullopt : std::optional<RunId>(run));
      EXPECT_EQ(r.reason, refused.message());
      EXPECT_EQ(r.run_tenant, call.target == Target::kNone ? "" : std::string(kTenant)) << "the run's own tenant";
    }
    EXPECT_THAT(VerifyRefusals(engine_->journal()), IsOk());
    if (call.target != Target::kNone) {
      EXPECT_TRUE(read_state(run) == state_before) << "a refused " << call.name << " changed the run's state";
    }
    const std::string prefix = "refused " + std::string(ActionName(logged_action)) + " of " +
                               (call.target == Target::kNone ? "workflow='release'" : "run=" + run.ToString()) + " by ";
    const std::string names = "subject='" + who.subject + "' tenant='" + who.tenant + "'";
    int refusals = 0, matching = 0;
    for (const auto& line : logged) {
      if (!line.text.starts_with("refused ")) continue;
      ++refusals;
      if (line.level == spdlog::level::warn && line.text.starts_with(prefix) &&
          line.text.find(names) != std::string::npos && line.text.find(refused.message()) != std::string::npos) {
        ++matching;
      }
    }
    EXPECT_EQ(refusals, 1) << "logged:" << Show(logged);
    EXPECT_EQ(matching, 1) << "expected a warning starting '" << prefix << "' naming " << names
                           << " and the reason; logged:" << Show(logged);
    return refused;
  }

  // The refusals recorded so far, newest first.
  std::vector<Refusal> Refusals() {
    auto all = ReadRefusals(engine_->journal(), RefusalQuery{.limit = 100'000});
    EXPECT_THAT(all, IsOk());
    return all.value_or(std::vector<Refusal>());
  }

  // Every call of the Engine, made on the run it is given.
  std::vector<Call> Calls() {
    auto resume = [this](bool dry_run) {
      return [this, dry_run](const RunId& run, const Principal& who) {
        ResumeRequest r;
        r.run = run;
        r.from_step = "charge";
        r.actor = who;
        r.reason = "authorization test";
        r.dry_run = dry_run;
        return StatusOf(engine_->Resume(r));
      };
    };
    return {
        {"Start", Target::kNone, Action::kStart, Action::kStart, true,
         [this](const RunId&, const Principal& who) {
           auto run = engine_->Start(StartRequest{"release", ToBytes("input"), "", who});
           if (!run.has_value()) return run.error();
           return StatusOf(engine_->Await(*run, who, 20s));  // the journal is quiet again
         }},
        {"Resume", Target::kFailed, Action::kResume, Action::kResume, false, resume(false)},
        {"Resume (dry run)", Target::kFailed, Action::kResume, Action::kResume, false, resume(true)},
        {"Fork", Target::kFailed, Action::kFork, Action::kRead, false,
         [this](const RunId& run, const Principal& who) {
           return StatusOf(engine_->Fork(ForkRequest{run, "charge", std::nullopt, who}));
         }},
        {"Approve", Target::kAtApproval, Action::kApprove, Action::kApprove, false,
         [this](const RunId& run, const Principal& who) { return engine_->Approve(run, "approve", who); }},
        {"Reject", Target::kAtApproval, Action::kApprove, Action::kApprove, false,
         [this](const RunId& run, const Principal& who) { return engine_->Reject(run, "approve", who); }},
        {"Signal", Target::kRunning, Action::kSignal, Action::kSignal, true,
         [this](const RunId& run, const Principal& who) {
           return engine_->Signal(run, "nobody-waits", ToBytes("payload"), who);
         }},
        {"Pause", Target::kRunning, Action::kPause, Action::kPause, false,
         [this](const RunId& run, const Principal& who) { return engine_->Pause(run, who, "authorization test"); }},
        {"Cancel", Target::kRunning, Action::kCancel, Action::kCancel, false,
         [this](const RunId& run, const Principal& who) { return engine_->Cancel(run, who, "authorization test"); }},
        {"State", Target::kFailed, Action::kRead, Action::kRead, true,
         [this](const RunId& run, const Principal& who) { return StatusOf(engine_->State(run, who)); }},
        {"StateAt", Target::kFailed, Action::kRead, Action::kRead, true,
         [this](const RunId& run, const Principal& who) { return StatusOf(engine_->StateAt(run, 1, who)); }},
        {"StateAtStep", Target::kFailed, Action::kRead, Action::kRead, true,
         [this](const RunId& run, const Principal& who) {
           return StatusOf(engine_->StateAtStep(run, "validate", who));
         }},
        {"Await", Target::kFailed, Action::kRead, Action::kRead, true,
         [this](const RunId& run, const Principal& who) { return StatusOf(engine_->Await(run, who, 1s)); }},
        {"Events", Target::kFailed, Action::kRead, Action::kRead, true,
         [this](const RunId& run, const Principal& who) { return StatusOf(engine_->Events(run, who)); }},
    };
  }

  std::shared_ptr<CapturingSink> sink_ = std::make_shared<CapturingSink>();
  std::shared_ptr<spdlog::logger> previous_logger_;
  Gate gate_;
  RunId failed_, at_approval_, running_;
};

TEST_F(AuthorizationTest, AnotherTenantGetsNotFoundAsIfTheRunDidNotExist) {
  ASSERT_NO_FATAL_FAILURE(OpenWithRuns());
  const Principal stranger{"globex", "mallory", {std::string(kOperatorRole)}};
  auto read_state = [this](const RunId& run) { return StateOf(run); };
  int checked = 0;
  for (const Call& call : Calls()) {
    if (call.target == Target::kNone) continue;  // Start names no run
    SCOPED_TRACE(call.name);
    const RunId run = RunOf(call.target);
    const Status refused = ExpectRefused(call, run, stranger, Code::kNotFound, call.first_check, read_state);

    const JournalContents before = Contents();
    const RunId nowhere = RunId::New();
    const Status unknown = call.invoke(nowhere, stranger);
    EXPECT_THAT(unknown, HasCode(Code::kNotFound));
    EXPECT_EQ(Redact(refused.message(), run), Redact(unknown.message(), nowhere))
        << "another tenant's run must be indistinguishable from a run that does not exist";
    EXPECT_TRUE(Contents() == before);
    ++checked;
  }
  EXPECT_EQ(checked, 13);
  EXPECT_EQ(StateOf(running_).status, RunStatus::kRunning);
}

TEST_F(AuthorizationTest, AMemberWithoutTheOperatorRoleMayOnlyStartSignalAndRead) {
  ASSERT_NO_FATAL_FAILURE(OpenWithRuns());
  const Principal member{std::string(kTenant), "intern", {"viewer"}};
  auto read_state = [this](const RunId& run) { return StateOf(run); };
  int refused_calls = 0, allowed_calls = 0;
  for (const Call& call : Calls()) {
    SCOPED_TRACE(call.name);
    const RunId run = RunOf(call.target);
    if (call.member_may) {
      sink_->Take();
      EXPECT_THAT(call.invoke(run, member), IsOk());
      const auto logged = sink_->Take();
      for (const auto& line : logged) EXPECT_FALSE(line.text.starts_with("refused ")) << line.text;
      ++allowed_calls;
      continue;
    }
    const Status refused = ExpectRefused(call, run, member, Code::kPermissionDenied, call.action, read_state);
    EXPECT_NE(refused.message().find("'intern' needs the operator role"), std::string::npos) << refused.ToString();
    ++refused_calls;
  }
  EXPECT_EQ(refused_calls, 7);
  EXPECT_EQ(allowed_calls, 7);
  EXPECT_EQ(StateOf(failed_).status, RunStatus::kFailed);
  EXPECT_EQ(StateOf(at_approval_).status, RunStatus::kPaused);
  EXPECT_EQ(StateOf(running_).status, RunStatus::kRunning);
}

TEST_F(AuthorizationTest, AnAuthorizerThatDeniesEverythingRefusesEveryCall) {
  // Allows while the runs are set up (and while the test reads their state),
  // then denies every principal and action.
  auto deny = std::make_shared<std::atomic<bool>>(false);
  auto asked = std::make_shared<std::vector<Action>>();  // only written by calls the test makes, in turn
  ASSERT_NO_FATAL_FAILURE(OpenWithRuns([deny, asked](const Principal& who, Action action, const RunState* run) {
    if (!deny->load()) return DefaultAuthorizer(who, action, run);
    asked->push_back(action);
    return Status(Code::kPermissionDenied, "policy denies " + std::string(ActionName(action)) + " to everyone");
  }));
  deny->store(true);
  auto read_state = [this, deny](const RunId& run) {
    deny->store(false);
    RunState s = StateOf(run);
    deny->store(true);
    return s;
  };
  int checked = 0;
  for (const Call& call : Calls()) {
    SCOPED_TRACE(call.name);
    asked->clear();
    const Status refused = ExpectRefused(call, RunOf(call.target), TenantOperator(), Code::kPermissionDenied,
                                         call.first_check, read_state);
    EXPECT_EQ(refused.message(), "policy denies " + std::string(ActionName(call.first_check)) + " to everyone");
    EXPECT_EQ(*asked, std::vector<Action>{call.first_check}) << "the authorizer is asked once, then the call stops";
    ++checked;
  }
  EXPECT_EQ(checked, 14);
  deny->store(false);
  EXPECT_EQ(StateOf(running_).status, RunStatus::kRunning);
}

}  // namespace
}  // namespace rwd::test

namespace rwd::test {
namespace {

// The refusal log is a chain: an entry changed, or taken out of the middle,
// is found, and the next refusal is not appended after a damaged last one.
TEST_F(AuthorizationTest, TheRefusalLogShowsAnEntryChangedOrTakenOut) {
  ASSERT_NO_FATAL_FAILURE(OpenWithRuns());
  const Principal member{std::string(kTenant), "intern", {"viewer"}};
  for (int i = 0; i < 3; ++i) EXPECT_THAT(engine_->Pause(running_, member, "try"), HasCode(Code::kPermissionDenied));
  ASSERT_EQ(*VerifyRefusals(engine_->journal()), 3u);
  auto table = engine_->journal().OpenTable(kRefusalsTable);
  ASSERT_TRUE(table.has_value());
  auto key = [](std::uint8_t n) { return Bytes{0, 0, 0, 0, 0, 0, 0, n}; };
  std::vector<Refusal> all = Refusals();
  Refusal changed = all[2];  // the first, oldest
  changed.reason = "nothing happened";
  ASSERT_THAT(engine_->journal().Update([&](WriteView& txn) {
    return txn.Put(*table, key(1), AsBytes(RefusalJson(changed)));
  }),
              IsOk());
  auto verified = VerifyRefusals(engine_->journal());
  EXPECT_THAT(verified, HasCode(Code::kCorruption));
  EXPECT_NE(verified.error().message().find("refusal 2 "), std::string::npos) << verified.error().ToString();
  ASSERT_THAT(engine_->journal().Update([&](WriteView& txn) -> Status {
    REWIND_RETURN_IF_ERROR(txn.Put(*table, key(1), AsBytes(RefusalJson(all[2]))));
    return txn.Delete(*table, key(2));
  }),
              IsOk());
  verified = VerifyRefusals(engine_->journal());
  EXPECT_THAT(verified, HasCode(Code::kCorruption));
  EXPECT_NE(verified.error().message().find("refusal 2 "), std::string::npos) << verified.error().ToString();
}

}  // namespace
}  // namespace rwd::test
