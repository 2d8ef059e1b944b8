// fold_bench: how fast the journal folds into run states, next to how fast
// LMDB alone can walk the same data.
//
// Writes the mixed journal (histories.h: at least --events events of
// interleaved 5-step runs, nosync), syncs it, and then measures, each pass
// over the whole journal in one read snapshot, warm (a first pass of each
// kind is not counted), --reps times; figures are medians:
//
//   scan         the floor: a raw LMDB cursor walk of the events database
//                (MDB_NEXT), reading each record's size and first word (a
//                record holds one append's events in format 2);
//   read         Journal::ReadAll: the same walk plus each record's
//                checksum and header checks;
//   decode       read + Decode of every payload into an Event;
//   fold         decode + Evolve into its run's state, all run states kept
//                in a hash map: the fold the projections' catch-up and a
//                full verify do;
//   fold by run  ForEachRun, then each run's events with ReadRun, folded
//                into one state at a time: what loading runs one by one
//                costs.
//
// "x scan" is a pass's events/s over the scan's: the share of LMDB's walking
// speed the pass keeps. Output: a table for people; with --json FILE also one
// JSON object per pass in FILE.
#include <lmdb.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/bench_util.h"
#include "bench/flags.h"
#include "bench/histories.h"
#include "rewind/base/status.h"
#include "rewind/fold/run_state.h"
#include "rewind/journal/journal.h"
#include "rewind/projections/history.h"
#include "rewind/schemas/events.h"

namespace rwd {
namespace {

using namespace bench;  // NOLINT: the bench helpers

struct Settings {
  std::uint64_t events = 1'000'000;
  unsigned in_flight = 1000;
  unsigned reps = 5;
  std::uint64_t seed = 1;
  std::string dir = "bench-tmp";
  std::string json;
};

std::uint64_t ReadBe64(const void* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<const std::uint8_t*>(p)[i];
  return v;
}

Status LmdbStatus(int rc, const std::string& what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  return Status(Code::kInternal, "scan: " + what + ": " + mdb_strerror(rc));
}

// The floor: LMDB's own cursor over the events database, in a read-only
// environment of its own (the Journal is closed meanwhile: one process may
// not hold two environments of one directory). Opened once; each Scan is one
// read transaction and cursor walk, as the journal's passes are.
class RawScanner {
 public:
  static Result<std::unique_ptr<RawScanner>> Open(const fs::path& dir) {
    MDB_env* raw = nullptr;
    REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_create(&raw), "mdb_env_create"));
    std::unique_ptr<RawScanner> scanner(new RawScanner(raw));
    REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_set_maxdbs(raw, 64), "mdb_env_set_maxdbs"));
    REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_set_mapsize(raw, kMapBytes), "mdb_env_set_mapsize"));
    REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_open(raw, dir.c_str(), MDB_RDONLY, 0644), "mdb_env_open"));
    return scanner;
  }

  Result<std::uint64_t> Scan() const {
    MDB_txn* txn = nullptr;
    REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &txn), "mdb_txn_begin"));
    std::unique_ptr<MDB_txn, decltype(&mdb_txn_abort)> guard(txn, &mdb_txn_abort);
    MDB_dbi events = 0;
    REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_dbi_open(txn, "events", 0, &events), "mdb_dbi_open"));
    MDB_cursor* cursor = nullptr;
    REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_cursor_open(txn, events, &cursor), "mdb_cursor_open"));
    std::unique_ptr<MDB_cursor, decltype(&mdb_cursor_close)> cursor_guard(cursor, &mdb_cursor_close);
    MDB_val key{}, value{};
    std::uint64_t records = 0, sink = 0, last = 0;
    int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
      std::uint64_t word = 0;
      std::memcpy(&word, value.mv_data, std::min<std::size_t>(sizeof word, value.mv_size));
      sink += value.mv_size ^ word;
      ++records;
      last = key.mv_size == 8 ? ReadBe64(key.mv_data) : 0;
    }
    if (rc != MDB_NOTFOUND) return Err(LmdbStatus(rc, "mdb_cursor_get"));
    if (sink == 0 && records != 0) return Err(Code::kInternal, "scan: read nothing");  // keeps the reads
    return last;  // a record's key is its last event's position: the last is the number of events
  }

 private:
  explicit RawScanner(MDB_env* env) : env_(env, &mdb_env_close) {}
  std::unique_ptr<MDB_env, decltype(&mdb_env_close)> env_;
};

Result<std::uint64_t> Read(const Journal& journal, bool decode) {
  REWIND_ASSIGN_OR_RETURN(std::uint64_t last, journal.LastPosition());
  std::uint64_t n = 0;
  REWIND_RETURN_IF_ERROR(journal.ReadAll(1, last, [&](const EventRecord& record) -> Status {
    if (decode) {
      Result<Event> event = DecodeRecord(record);
      if (!event.has_value()) return event.error();
    }
    ++n;
    return Status::Ok();
  }));
  return n;
}

Result<std::uint64_t> FoldByRun(const Journal& journal) {
  std::uint64_t n = 0;
  REWIND_RETURN_IF_ERROR(journal.ForEachRun([&](const RunId& run, std::uint64_t last_seq) -> Status {
    REWIND_ASSIGN_OR_RETURN(RunState state, FoldFromStart(journal, run, last_seq));
    n += state.seq;
    return Status::Ok();
  }));
  return n;
}

struct Pass {
  std::string name;
  std::vector<double> events_per_s;  // one per rep
  double median = 0;
};

Status Measure(const Settings& settings, std::uint64_t& written, std::vector<Pass>& passes) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(settings.dir, "fold"));
  const fs::path& dir = scratch->path();
  {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                            Journal::Open(JournalOptionsFor(dir, Durability::kNoSync)));
    const MixOptions mix_options{settings.events, settings.in_flight, settings.seed};
    REWIND_ASSIGN_OR_RETURN(MixFigures mix, WriteMixedJournal(*journal, mix_options));
    written = mix.events;
  }
  using Work = std::function<Result<std::uint64_t>()>;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<RawScanner> scanner;
  const std::vector<std::pair<std::string, Work>> kinds = {
      {"scan", [&] { return scanner->Scan(); }},
      {"read", [&] { return Read(*journal, false); }},
      {"decode", [&] { return Read(*journal, true); }},
      {"fold", [&] { return FoldEverything(*journal); }},
      {"fold by run", [&] { return FoldByRun(*journal); }},
  };
  for (const auto& [name, work] : kinds) {
    const bool raw = name == "scan";
    if (raw) {
      journal.reset();
      REWIND_ASSIGN_OR_RETURN(scanner, RawScanner::Open(dir));
    } else if (!journal) {
      scanner.reset();
      JournalOptions options = JournalOptionsFor(dir, Durability::kNoSync);
      options.read_only = true;
      REWIND_ASSIGN_OR_RETURN(journal, Journal::Open(options));
    }
    Pass pass{name, {}, 0};
    for (unsigned rep = 0; rep <= settings.reps; ++rep) {  // rep 0 warms up
      const Clock::time_point t0 = Clock::now();
      REWIND_ASSIGN_OR_RETURN(std::uint64_t n, work());
      const double seconds = Seconds(Clock::now() - t0);
      if (n != written) {
        return Status(Code::kInternal, name + " passed " + std::to_string(n) + " of " + std::to_string(written) +
                                           " events");
      }
      if (rep > 0) pass.events_per_s.push_back(PerSecond(n, seconds));
    }
    std::vector<double> rates = pass.events_per_s;
    pass.median = Percentile(rates, 0.5);
    passes.push_back(std::move(pass));
  }
  return Status::Ok();
}

int Run(const Settings& settings) {
  std::uint64_t events = 0;
  std::vector<Pass> passes;
  if (Status s = Measure(settings, events, passes); !s.ok()) {
    std::fprintf(stderr, "fold_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  const double scan = passes.front().median;
  std::printf("# fold_bench: %llu events of the mixed journal (%u runs in flight while written, seed %llu), "
              "warm, median of %u passes each; scratch under '%s'\n",
              static_cast<unsigned long long>(events), settings.in_flight,
              static_cast<unsigned long long>(settings.seed), settings.reps, settings.dir.c_str());
  std::printf("%-12s %14s %8s %10s\n", "pass", "events/s", "x scan", "ns/event");
  JsonRows json("fold", settings.json);
  for (const Pass& p : passes) {
    const double ratio = scan > 0 ? p.median / scan : 0;
    std::printf("%-12s %14.0f %8.3f %10.1f\n", p.name.c_str(), p.median, ratio, p.median > 0 ? 1e9 / p.median : 0);
    json.Add({{"pass", p.name}, {"events", events}, {"reps", settings.reps}, {"events_per_s", p.median},
              {"scan_events_per_s", scan}, {"x_scan", ratio}});
  }
  if (Status s = json.Write(); !s.ok()) {
    std::fprintf(stderr, "fold_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) {
  rwd::Settings settings;
  CLI::App app{"Fold rate of the journal next to a raw LMDB cursor scan"};
  app.add_option("--events", settings.events, "Events in the journal (at least)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.add_option("--in-flight", settings.in_flight, "Runs interleaved while the journal is written")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--reps", settings.reps, "Measured passes of each kind; figures are medians")
      ->check(CLI::Range(1u, 99u))
      ->capture_default_str();
  app.add_option("--seed", settings.seed, "Seed of the run mix")->capture_default_str();
  rwd::bench::AddOutputFlags(app, settings.dir, settings.json);
  CLI11_PARSE(app, argc, argv);
  return rwd::Run(settings);
}
