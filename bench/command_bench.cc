// command_bench: what a `rewind` command that writes costs, whole process,
// on a large journal.
//
// Writes the mixed journal (histories.h) of --events events, builds its
// projections (`rewind projections rebuild`, as a journal that has been in
// use has them), then starts --runs runs of a workflow file that waits at an
// approval gate (`rewind run`, exit 3). Then, each the median (and the
// slowest) over those runs, wall time of the whole process:
//   approve   `rewind approve RUN approve`: opens the journal as its writer
//             (the lock, LMDB's structure walked), loads and verifies the one
//             run it acts on, appends, follows the run to its end;
//   status    `rewind status RUN`: a read-only open and one run's fold, the
//             floor of any command on this journal;
//   verify    Journal::VerifyAll in this process, once: what every writing
//             command paid before it checked only what it touches;
//   run       `rewind run` of a 5-step file (each step the `true` command)
//             to its end, --runs times on a journal of its own that the first
//             run created, then --runs times on the large journal: the whole
//             process's wall time, and what it adds to the run itself (its
//             RunStarted to its last event, from the printed state).
// The targets: approve <= 300 ms on a journal of 1M events; `rewind run`
// <= 15 ms above the run itself, on either journal.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/flags.h"
#include "bench/histories.h"
#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

extern char** environ;

namespace rwd {
namespace {

using bench::Clock;

constexpr const char* kGate = R"({"name": "gated", "steps": [
  {"id": "prepare", "run": "true"}, {"id": "approve", "kind": "approval"}, {"id": "ship", "run": "true"}]})";
constexpr const char* kFive = R"({"name": "five", "steps": [{"id": "a", "run": "true"},
  {"id": "b", "run": "true", "depends_on": ["a"]}, {"id": "c", "run": "true", "depends_on": ["b"]},
  {"id": "d", "run": "true", "depends_on": ["c"]}, {"id": "e", "run": "true", "depends_on": ["d"]}]})";

// Runs `rewind ARGS`, stdout to `out` (a file), stderr to /dev/null; returns
// the exit status (-1 if it did not start or was killed).
int Rewind(const std::string& rewind, std::vector<std::string> args, const std::string& out) {
  args.insert(args.begin(), rewind);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, rewind.c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `rewind run FILE` to its end on `data`, `runs` times: the whole process's
// wall time (s), and the run's own time (s) from the state it printed.
struct RunTimes {
  std::vector<double> whole, own;
};
Result<RunTimes> TimeRuns(const std::string& rewind, const std::string& file, const std::string& data,
                          const std::string& out, int runs) {
  RunTimes times;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    if (Rewind(rewind, {"run", file, "--data", data, "--json"}, out) != 0) {
      return Err(Code::kInternal, "run: " + ReadFile(out));
    }
    times.whole.push_back(bench::Seconds(Clock::now() - start));
    const nlohmann::json state = nlohmann::json::parse(ReadFile(out), nullptr, false);
    if (!state.is_object() || state.value("status", "") != "completed") {
      return Err(Code::kInternal, "run did not complete: " + ReadFile(out));
    }
    const auto first = state.value("started_unix_us", std::int64_t{0});
    const auto last = state.value("updated_unix_us", std::int64_t{0});
    times.own.push_back(static_cast<double>(last - first) / 1e6);
  }
  return times;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "command_bench: %s\n", what.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  CLI::App app{"command_bench: writing rewind commands, whole process, on a large journal"};
  std::uint64_t events = 1'000'000;
  int runs = 15;
  std::string dir = "bench-tmp", json_path;
  std::string rewind = REWIND_CLI;
  app.add_option("--events", events, "events in the journal")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--runs", runs, "runs approved, and runs of the 5-step file on each journal (medians are shown)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rewind", rewind, "the rewind binary")->capture_default_str();
  bench::AddOutputFlags(app, dir, json_path);
  CLI11_PARSE(app, argc, argv);

  auto scratch = bench::ScratchDir::Create(dir, "command-bench");
  if (!scratch.has_value()) return Fail(scratch.error().ToString());
  const std::string data = ((*scratch)->path() / "journal").string();
  const std::string out = ((*scratch)->path() / "out.json").string();
  const std::string gate = ((*scratch)->path() / "gate.json").string();
  const std::string five = ((*scratch)->path() / "five.json").string();
  const std::string small = ((*scratch)->path() / "small").string();
  std::ofstream(gate) << kGate;
  std::ofstream(five) << kFive;
  // The small journal: created by a first run, then measured.
  auto fresh = TimeRuns(rewind, five, small, out, 1);
  if (fresh.has_value()) fresh = TimeRuns(rewind, five, small, out, runs);
  if (!fresh.has_value()) return Fail(fresh.error().ToString());
  double verify_seconds = 0;
  {
    auto journal = Journal::Open(bench::JournalOptionsFor(data, Durability::kNoSync));
    if (!journal.has_value()) return Fail(journal.error().ToString());
    auto written = bench::WriteMixedJournal(**journal, bench::MixOptions{.events = events});
    if (!written.has_value()) return Fail(written.error().ToString());
    const auto start = Clock::now();
    auto verified = (*journal)->VerifyAll();
    if (!verified.has_value()) return Fail(verified.error().ToString());
    verify_seconds = bench::Seconds(Clock::now() - start);
  }
  if (Rewind(rewind, {"projections", "rebuild", "--data", data, "--json"}, out) != 0) {
    return Fail("projections rebuild: " + ReadFile(out));
  }
  std::vector<std::string> ids;
  for (int i = 0; i < runs; ++i) {
    if (Rewind(rewind, {"run", gate, "--data", data, "--json"}, out) != 3) return Fail("run: " + ReadFile(out));
    const std::string text = ReadFile(out);
    const std::size_t at = text.find("\"run_id\":\"");
    if (at == std::string::npos) return Fail("run printed no run id: " + text);
    ids.push_back(text.substr(at + 10, 32));
  }
  std::vector<double> approve, status;
  for (const std::string& id : ids) {
    auto start = Clock::now();
    if (Rewind(rewind, {"status", id, "--data", data, "--json"}, out) != 0) return Fail("status: " + ReadFile(out));
    status.push_back(bench::Seconds(Clock::now() - start));
    start = Clock::now();
    if (Rewind(rewind, {"approve", id, "approve", "--data", data, "--json"}, out) != 0) {
      return Fail("approve: " + ReadFile(out));
    }
    approve.push_back(bench::Seconds(Clock::now() - start));
  }
  auto large = TimeRuns(rewind, five, data, out, runs);
  if (!large.has_value()) return Fail(large.error().ToString());
  const double mib = static_cast<double>(std::filesystem::file_size(data + "/data.mdb")) / (1 << 20);
  std::printf("# command_bench: %llu events (%.0f MiB), %d runs approved; whole-process wall time\n",
              static_cast<unsigned long long>(events), mib, runs);
  std::printf("%-40s %10s %10s\n", "command", "median ms", "max ms");
  const auto row = [](const char* name, std::vector<double> s) {
    const double median = bench::Percentile(s, 0.5), max = bench::Percentile(s, 1.0);
    std::printf("%-40s %10.1f %10.1f\n", name, median * 1e3, max * 1e3);
    return median;
  };
  const double approve_median = row("rewind approve RUN STEP", approve);
  const double status_median = row("rewind status RUN (the floor)", status);
  // What a run command adds to its run: the median of each run's difference.
  const auto above = [](const RunTimes& t) {
    std::vector<double> d;
    for (std::size_t i = 0; i < t.whole.size(); ++i) d.push_back(t.whole[i] - t.own[i]);
    return d;
  };
  const double run_small = row("rewind run (5 steps), its own journal", fresh->whole);
  const double own_small = row("  the run itself", fresh->own);
  const double above_small = row("  above the run", above(*fresh));
  const double run_large = row("rewind run (5 steps), this journal", large->whole);
  const double own_large = row("  the run itself", large->own);
  const double above_large = row("  above the run", above(*large));
  std::printf("%-40s %10.1f\n", "VerifyAll (what approve checked before)", verify_seconds * 1e3);
  std::printf("approve / status: %.2f; approve median %.0f ms (target <= 300 ms)\n", approve_median / status_median,
              approve_median * 1e3);
  bench::JsonRows json("command", json_path);
  json.Add({{"command", "approve"},
            {"events", events},
            {"runs", runs},
            {"median_ms", approve_median * 1e3},
            {"floor_ms", status_median * 1e3},
            {"ratio", approve_median / status_median},
            {"verify_all_ms", verify_seconds * 1e3}});
  json.Add({{"command", "run"}, {"journal", "own"}, {"events", 12 * (runs + 1)}, {"runs", runs},
            {"median_ms", run_small * 1e3}, {"run_ms", own_small * 1e3}, {"above_run_ms", above_small * 1e3}});
  json.Add({{"command", "run"}, {"journal", "large"}, {"events", events}, {"runs", runs},
            {"median_ms", run_large * 1e3}, {"run_ms", own_large * 1e3}, {"above_run_ms", above_large * 1e3}});
  if (Status s = json.Write(); !s.ok()) return Fail(s.ToString());
  return 0;
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) { return rwd::Main(argc, argv); }
