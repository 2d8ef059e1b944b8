// Child process of engine_crash_test: runs workflows on a durable journal until
// it is killed with SIGKILL.
//
//   engine_crash_child JOURNAL_DIR EXEC_LOG
//
// The workflow ("crash", a -> {b, c} -> d -> e) has handlers that append
// "exec <run> <step> <epoch> <attempt>" to EXEC_LOG before they do anything
// else, sleep 0-3 ms, and fail retryably on their first two attempts when a
// hash of (run, step, attempt) says so. Engine::Open recovers the runs the
// previous child left running; they fill the slots first, then each slot
// starts a new run, writes "started <run>" to stdout once Start returned (the
// RunStarted is durable) and waits for it, so about kSlots runs are in flight.
// stdout carries "recovering <n>" right after Open, then only "started" lines.
//
// The workflow is in engine_crash_workflow.h: the test recovers the journal
// with this very workflow.
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rewind/executor/engine.h"

#include "tests/executor/engine_crash_workflow.h"



namespace {

constexpr int kSlots = 50;

void WriteLine(const std::string& line) {
  // One write() of less than PIPE_BUF bytes: lines from threads never interleave.
  if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
}

// Runs whose last event is not RunCompleted or RunFailed (this workflow never
// pauses): the ones Open recovered.
std::vector<rwd::RunId> Unfinished(const rwd::Journal& journal) {
  std::vector<rwd::RunId> out;
  const rwd::Status s = journal.ForEachRun([&](const rwd::RunId& run, std::uint64_t last_seq) -> rwd::Status {
    return journal.ReadRun(run, last_seq, last_seq, [&](const rwd::EventRecord& r) -> rwd::Status {
      auto e = rwd::Decode(r.payload);
      if (!e.has_value()) return e.error();
      if (!std::holds_alternative<rwd::RunCompleted>(e->body) && !std::holds_alternative<rwd::RunFailed>(e->body)) {
        out.push_back(run);
      }
      return rwd::Status::Ok();
    });
  });
  if (!s.ok()) {
    std::fprintf(stderr, "scan: %s\n", s.ToString().c_str());
    std::_Exit(1);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s JOURNAL_DIR EXEC_LOG\n", argv[0]);
    return 2;
  }
  // stdout is for the parent; the engine's warnings go to stderr, and not its
  // info lines (one per recovered attempt).
  spdlog::set_default_logger(spdlog::stderr_color_mt("stderr"));
  spdlog::set_level(spdlog::level::warn);
  const int exec_log = ::open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (exec_log < 0) {
    std::perror(argv[2]);
    return 1;
  }
  rwd::EngineOptions options;
  options.journal.directory = argv[1];  // Durability::kDurable
  options.workflows.push_back(rwd::test::EngineCrashWorkflow(exec_log));
  options.handler_threads = 16;  // handlers mostly sleep
  auto engine = rwd::Engine::Open(std::move(options));
  if (!engine.has_value()) {
    std::fprintf(stderr, "open: %s\n", engine.error().ToString().c_str());
    return 1;
  }
  rwd::Engine& e = **engine;
  std::vector<rwd::RunId> recovered = Unfinished(e.journal());
  WriteLine("recovering " + std::to_string(recovered.size()) + "\n");

  std::mutex mu;  // guards recovered
  auto next_recovered = [&]() -> std::optional<rwd::RunId> {
    std::lock_guard<std::mutex> lock(mu);
    if (recovered.empty()) return std::nullopt;
    const rwd::RunId run = recovered.back();
    recovered.pop_back();
    return run;
  };
  std::vector<std::thread> slots;
  for (int i = 0; i < kSlots; ++i) {
    slots.emplace_back([&] {
      for (;;) {
        std::optional<rwd::RunId> run = next_recovered();
        if (!run) {
          auto started = e.Start(rwd::StartRequest{"crash", rwd::ToBytes("input"), "", rwd::Principal{}});
          if (!started.has_value()) {
            std::fprintf(stderr, "start: %s\n", started.error().ToString().c_str());
            std::_Exit(1);
          }
          run = *started;
          WriteLine("started " + run->ToString() + "\n");
        }
        auto done = e.Await(*run, rwd::Principal{}, std::chrono::hours(1));
        if (!done.has_value() || done->status != rwd::RunStatus::kCompleted) {
          // The parent's checks name the run and print its events.
          std::fprintf(stderr, "run %s did not complete\n", run->ToString().c_str());
        }
      }
    });
  }
  for (auto& t : slots) t.join();
}

