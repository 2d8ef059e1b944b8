// The engine on a failing disk.
//
// A full disk (a real tmpfs of a few MiB, small_filesystem.h): starts fail
// with ResourceExhausted, runs whose progress could not be recorded stall,
// and once the filesystem grows every run that was started goes on by itself
// to completion — no restart, no operator.
//
// An I/O error (io_faults.h, EIO from every write after the n-th): the journal
// is poisoned, calls fail with Unavailable naming the cause, and after the
// engine is opened again every started run completes, each step recorded
// completed exactly once, the hash chains intact.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "tests/executor/engine_fixture.h"
#include "tests/support/io_faults.h"
#include "tests/support/small_filesystem.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;

class EngineFaultTest : public EngineTest {
 protected:
  void TearDown() override { io_faults::Disarm(); }

  // a → b → c, each returning `output_bytes` bytes of its id's first letter.
  static Workflow Chain(std::size_t output_bytes) {
    Workflow w("chain");
    for (const char* id : {"a", "b", "c"}) {
      w.Step(id, [output_bytes](const StepContext& c) -> Result<Bytes> {
         return Bytes(output_bytes, static_cast<std::uint8_t>(c.step->id[0]));
       }).Retry(RetryPolicy{20, 10, 1.0, 10, 0.0});
    }
    return w;
  }

  // Every run completed with c's output and one StepCompleted per step; the
  // journal's chains verify once the engine is closed.
  void ExpectAllCompleted(const std::vector<RunId>& runs, std::size_t output_bytes, const std::string& journal) {
    for (const RunId& run : runs) {
      const RunState s = AwaitStopped(run);
      ASSERT_EQ(s.status, RunStatus::kCompleted) << run.ToString();
      EXPECT_EQ(s.output, Bytes(output_bytes, 'c'));
      EXPECT_EQ(Count(run, "StepCompleted"), 3u) << "a completed step ran again in " << run.ToString();
    }
    engine_.reset();
    JournalOptions o;
    o.directory = journal;
    o.read_only = true;
    auto j = Journal::Open(o);
    ASSERT_THAT(j, IsOk());
    EXPECT_THAT((*j)->VerifyAll(), IsOk());
  }
};

TEST_F(EngineFaultTest, RunsStalledByAFullDiskGoOnByThemselvesOnceThereIsRoom) {
  auto fs = SmallFilesystem::Mount(dir_.Sub("small"), 3 << 20);
  if (!fs.has_value()) GTEST_SKIP() << fs.error().message();
  constexpr std::size_t kOutput = 24 << 10;
  // Completions are watched through the observer: any call naming a run would
  // load it afresh and so drive it, which the engine must do by itself.
  std::mutex mu;
  std::condition_variable completed_cv;
  std::size_t completed = 0;
  EngineOptions o = Options();
  o.journal.directory = fs->path() + "/journal";
  o.workflows.push_back(Chain(kOutput));
  o.observer = [&](const RunState&, const std::vector<Event>& events) {
    for (const Event& e : events) {
      if (!std::holds_alternative<RunCompleted>(e.body)) continue;
      std::lock_guard<std::mutex> lock(mu);
      ++completed;
      completed_cv.notify_all();
    }
  };
  ASSERT_NO_FATAL_FAILURE(Open(std::move(o)));

  std::vector<RunId> started;
  Result<RunId> refused = Err(Code::kInternal, "the disk never filled");
  for (int i = 0; i < 2'000; ++i) {
    auto run = engine_->Start(StartRequest{"chain", ToBytes("input"), "", User()});
    if (!run.has_value()) {
      refused = std::move(run);
      break;
    }
    started.push_back(*run);
  }
  ASSERT_THAT(refused, HasCode(Code::kResourceExhausted));
  EXPECT_NE(refused.error().message().find(std::strerror(ENOSPC)), std::string::npos) << refused.error().message();
  ASSERT_GT(started.size(), 5u);

  // Long enough for stalled runs to be revived, and to fail again, once or twice.
  std::this_thread::sleep_for(2500ms);
  std::unique_lock<std::mutex> lock(mu);
  const std::size_t stalled = started.size() - completed;
  EXPECT_GT(stalled, 0u) << "the disk filled while no run was in progress";

  ASSERT_THAT(fs->Resize(256 << 20), IsOk());
  EXPECT_TRUE(completed_cv.wait_for(lock, 20s, [&] { return completed == started.size(); }))
      << completed << " of " << started.size() << " runs completed";
  lock.unlock();
  ExpectAllCompleted(started, kOutput, fs->path() + "/journal");
  if (HasFailure()) return;
  std::printf("%zu runs started before the disk filled, %zu of them stalled; all completed once it grew\n",
              started.size(), stalled);
}

TEST_F(EngineFaultTest, IoErrorPoisonsTheJournalAndReopeningFinishesEveryRun) {
  EngineOptions o = Options();
  o.workflows.push_back(Chain(16));
  std::atomic<int> failures{0};
  o.on_journal_failure = [&](const Status& cause) {
    EXPECT_EQ(cause.code(), Code::kUnavailable);
    ++failures;
  };
  ASSERT_NO_FATAL_FAILURE(Open(o));
  EXPECT_THAT(engine_->Health(), IsOk()) << "it recovered as it opened";
  io_faults::Arm({dir_.path(), 40, io_faults::Mode::kSticky, EIO});
  std::vector<RunId> started;
  Result<RunId> refused = Err(Code::kInternal, "no call failed");
  for (int i = 0; i < 500 && refused.error().code() == Code::kInternal; ++i) {
    auto run = engine_->Start(StartRequest{"chain", ToBytes("input"), "", User()});
    if (run.has_value()) {
      started.push_back(*run);
    } else {
      refused = std::move(run);
    }
  }
  ASSERT_TRUE(io_faults::Fired());
  ASSERT_THAT(refused, HasCode(Code::kUnavailable));
  EXPECT_NE(refused.error().message().find(std::strerror(EIO)), std::string::npos) << refused.error().message();
  // Several runs in flight when the disk fails (how many the starts get in
  // before the 40th write depends on how busy the machine is).
  ASSERT_GE(started.size(), 2u);
  // Said once, however many runs stop being driven: a server stops on it.
  for (int i = 0; i < 500 && failures == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(failures.load(), 1);
  EXPECT_THAT(engine_->Health(), HasCode(Code::kUnavailable)) << "a server's readiness says so";

  engine_.reset();
  EXPECT_EQ(failures.load(), 1);
  io_faults::Disarm();
  ASSERT_NO_FATAL_FAILURE(Open(o));
  ExpectAllCompleted(started, 16, o.journal.directory);
}

}  // namespace
}  // namespace rwd::test
