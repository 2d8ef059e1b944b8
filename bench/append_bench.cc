// append_bench: what a journal append costs, next to what LMDB alone costs.
//
// For each configuration (N concurrent appenders; durable or nosync) it runs N
// threads that each append one event at a time to their own run and wait for
// the ack, and reports events/s, ack latency p50/p99 and the mean group-commit
// size the journal's writer achieved. Then it measures a floor: one thread
// writing records of the same size straight into LMDB, with the journal's two
// databases, flags and sync mode, committing batches of that same mean group
// size. journal/raw is the share of LMDB's throughput the journal keeps; the
// rest is the journal's own cost (queueing, thread hand-offs, checksums and
// hashes, run-head bookkeeping).
//
// Each figure is the median of --reps repetitions, each in a fresh directory
// on the filesystem of --dir, measured for --seconds after --warmup seconds.
// Output: a table for people; with --json FILE also one JSON object per
// configuration per line in FILE, for scripts and the suite's report.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/flags.h"
#include "bench/histories.h"
#include "bench/raw_floor.h"
#include "rewind/base/run_id.h"
#include "rewind/journal/journal.h"

namespace rwd {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::DurabilityName;
using bench::MedianOf;
using bench::Micros;
using bench::Percentile;
using bench::RawFloor;
using bench::RecordBytes;
using bench::ScratchDir;

struct Settings {
  std::vector<unsigned> appenders{1, 64};
  Durability durability = Durability::kDurable;
  double seconds = 2.0;
  double warmup_seconds = 0.5;
  unsigned reps = 3;
  std::string dir = "bench-tmp";
  std::string json;  // empty: no JSON file
  std::size_t payload_bytes = 100;  // a typical encoded event
};


// ---------------------------------------------------------------------------
// Measurement helpers

// The timeline of one measurement: a warm-up (thread start-up, the run index
// reaching its steady shape, warm caches), then the measured interval. Work counts when it
// completes inside the interval, so the journal's threads and the raw loop
// are counted alike and no thread has to be told when the interval starts.
class Window {
 public:
  Window(double warmup_seconds, double seconds)
      : begin_(Clock::now() + ToDuration(warmup_seconds)), end_(begin_ + ToDuration(seconds)) {}

  Clock::time_point begin() const { return begin_; }
  Clock::time_point end() const { return end_; }
  bool Contains(Clock::time_point t) const { return t >= begin_ && t < end_; }
  bool Over(Clock::time_point t) const { return t >= end_; }
  double seconds() const { return std::chrono::duration<double>(end_ - begin_).count(); }

 private:
  static Clock::duration ToDuration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
  Clock::time_point begin_;
  Clock::time_point end_;
};




// ---------------------------------------------------------------------------
// The journal

struct JournalFigures {
  double events_per_s = 0;
  double ack_p50_us = 0;
  double ack_p99_us = 0;
  double mean_group = 0;  // append requests per commit in the measured interval
};

// What one appender thread saw in the measured interval.
struct AppenderTally {
  std::uint64_t events = 0;
  std::vector<double> ack_us;
  Status error;
};

// One appender: one event per Append to its own run, expecting the seq the
// previous ack returned, until the window is over.
void Appender(Journal& journal, const Window& window, const Bytes& payload, AppenderTally& tally) {
  const RunId run = RunId::New();
  std::uint64_t seq = 0;
  for (Clock::time_point sent = Clock::now(); !window.Over(sent); sent = Clock::now()) {
    Result<AppendResult> result = journal.Append(run, seq, {payload});
    const Clock::time_point acked = Clock::now();
    if (!result.has_value()) {
      tally.error = result.error();
      return;
    }
    seq = result->head.seq;
    if (window.Contains(acked)) {
      ++tally.events;
      tally.ack_us.push_back(Micros(acked - sent));
    }
  }
}

Result<JournalFigures> Summarize(std::vector<AppenderTally>& tallies, const Window& window,
                                 const JournalStats& before, const JournalStats& after) {
  std::uint64_t events = 0;
  std::vector<double> ack_us;
  for (AppenderTally& t : tallies) {
    if (!t.error.ok()) return Err(t.error.WithContext("append"));
    events += t.events;
    ack_us.insert(ack_us.end(), t.ack_us.begin(), t.ack_us.end());
  }
  const std::uint64_t commits = after.commits - before.commits;
  JournalFigures figures;
  figures.events_per_s = static_cast<double>(events) / window.seconds();
  figures.ack_p50_us = Percentile(ack_us, 0.50);
  figures.ack_p99_us = Percentile(ack_us, 0.99);
  figures.mean_group =
      commits == 0 ? 0 : static_cast<double>(after.appends - before.appends) / static_cast<double>(commits);
  return figures;
}

Result<JournalFigures> MeasureJournal(const fs::path& dir, const Settings& settings, unsigned appenders) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                          Journal::Open(bench::JournalOptionsFor(dir, settings.durability)));
  const Bytes payload(settings.payload_bytes, std::uint8_t{0x5a});
  std::vector<AppenderTally> tallies(appenders);
  const Window window(settings.warmup_seconds, settings.seconds);
  std::vector<std::thread> threads;
  for (AppenderTally& tally : tallies) {
    threads.emplace_back(Appender, std::ref(*journal), std::cref(window), std::cref(payload),
                         std::ref(tally));
  }
  // The group size comes from the writer's counters over the same interval.
  std::this_thread::sleep_until(window.begin());
  const JournalStats before = journal->stats();
  std::this_thread::sleep_until(window.end());
  const JournalStats after = journal->stats();
  for (std::thread& t : threads) t.join();
  return Summarize(tallies, window, before, after);
}

// ---------------------------------------------------------------------------
// The raw LMDB floor (raw_floor.h)

// Events/s of the floor, committing batches of exactly `group` events.
Result<double> MeasureFloor(const fs::path& dir, const Settings& settings, unsigned runs, std::size_t group) {
  REWIND_ASSIGN_OR_RETURN(
      std::unique_ptr<RawFloor> floor,
      RawFloor::Open(dir, settings.durability, runs, RecordBytes(settings.payload_bytes)));
  const Window window(settings.warmup_seconds, settings.seconds);
  std::uint64_t events = 0;
  for (Clock::time_point t = Clock::now(); !window.Over(t);) {
    REWIND_RETURN_IF_ERROR(floor->CommitBatch(group));
    t = Clock::now();
    if (window.Contains(t)) events += group;
  }
  return static_cast<double>(events) / window.seconds();
}

// ---------------------------------------------------------------------------
// One configuration, and the report

struct Row {
  unsigned appenders = 0;
  Durability durability = Durability::kDurable;
  JournalFigures journal;  // each field the median over the repetitions
  double raw_events_per_s = 0;
  double ratio() const { return raw_events_per_s > 0 ? journal.events_per_s / raw_events_per_s : 0; }
};

Result<Row> MeasureConfiguration(const Settings& settings, unsigned appenders) {
  const std::function<Result<JournalFigures>(const fs::path&)> journal = [&](const fs::path& dir) {
    return MeasureJournal(dir, settings, appenders);
  };
  REWIND_ASSIGN_OR_RETURN(std::vector<JournalFigures> journal_reps,
                          bench::Repeat(settings.reps, settings.dir, "journal", journal));
  Row row;
  row.appenders = appenders;
  row.durability = settings.durability;
  row.journal = JournalFigures{MedianOf(journal_reps, &JournalFigures::events_per_s),
                               MedianOf(journal_reps, &JournalFigures::ack_p50_us),
                               MedianOf(journal_reps, &JournalFigures::ack_p99_us),
                               MedianOf(journal_reps, &JournalFigures::mean_group)};
  // The floor commits batches of the size the journal's writer achieved, so the
  // ratio shows the journal's own cost, not how well it batched.
  const auto group = static_cast<std::size_t>(std::max(1.0, std::round(row.journal.mean_group)));
  const std::function<Result<double>(const fs::path&)> raw = [&](const fs::path& dir) {
    return MeasureFloor(dir, settings, appenders, group);
  };
  REWIND_ASSIGN_OR_RETURN(std::vector<double> raw_reps, bench::Repeat(settings.reps, settings.dir, "raw", raw));
  row.raw_events_per_s = Percentile(raw_reps, 0.5);
  return row;
}

void PrintHeader(const Settings& settings) {
  std::printf(
      "# append_bench: %zu-byte payloads (%zu-byte records), %s, %.2f s measured after "
      "%.2f s warm-up, median of %u, scratch under '%s'\n",
      settings.payload_bytes, RecordBytes(settings.payload_bytes), DurabilityName(settings.durability), settings.seconds,
      settings.warmup_seconds, settings.reps, settings.dir.c_str());
  std::printf("%9s  %-10s %12s %11s %11s %10s %13s %11s\n", "appenders", "durability", "events/s",
              "ack p50 us", "ack p99 us", "mean group", "raw events/s", "journal/raw");
}

void PrintRow(const Row& row) {
  std::printf("%9u  %-10s %12.1f %11.1f %11.1f %10.2f %13.1f %11.3f\n", row.appenders,
              DurabilityName(row.durability), row.journal.events_per_s, row.journal.ack_p50_us,
              row.journal.ack_p99_us, row.journal.mean_group, row.raw_events_per_s, row.ratio());
  std::fflush(stdout);  // rows arrive seconds apart: show each as it is done
}

nlohmann::json JsonOf(const Row& row) {
  return {{"appenders", row.appenders},
          {"durability", DurabilityName(row.durability)},
          {"events_per_s", row.journal.events_per_s},
          {"ack_p50_us", row.journal.ack_p50_us},
          {"ack_p99_us", row.journal.ack_p99_us},
          {"mean_group", row.journal.mean_group},
          {"raw_events_per_s", row.raw_events_per_s},
          {"ratio", row.ratio()}};
}

int Run(const Settings& settings) {
  PrintHeader(settings);
  std::vector<Row> rows;
  for (unsigned appenders : settings.appenders) {
    Result<Row> row = MeasureConfiguration(settings, appenders);
    if (!row.has_value()) {
      std::fprintf(stderr, "append_bench: %u appenders: %s\n", appenders, row.error().ToString().c_str());
      return 1;
    }
    PrintRow(*row);
    rows.push_back(*row);
  }
  bench::JsonRows json("append", settings.json);
  for (const Row& row : rows) json.Add(JsonOf(row));
  if (Status s = json.Write(); !s.ok()) {
    std::fprintf(stderr, "append_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

void AddFlags(CLI::App& app, Settings& settings) {
  app.add_option("--appenders", settings.appenders, "Comma-separated appender counts, one configuration each")
      ->delimiter(',')
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  rwd::bench::AddDurabilityFlag(app, settings.durability, "durable (sync each commit, default) or nosync");
  app.add_option("--seconds", settings.seconds, "Measured seconds per measurement")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", settings.warmup_seconds, "Warm-up seconds before each measurement")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--reps", settings.reps, "Repetitions per measurement; figures are medians")
      ->check(CLI::Range(1u, 99u))
      ->capture_default_str();
  rwd::bench::AddOutputFlags(app, settings.dir, settings.json);
  app.add_option("--payload-bytes", settings.payload_bytes, "Payload bytes per event")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  rwd::Settings settings;
  CLI::App app{"Journal append throughput and ack latency, next to a raw LMDB floor"};
  rwd::AddFlags(app, settings);
  CLI11_PARSE(app, argc, argv);
  return rwd::Run(settings);
}
