// bench_report: the suite's verdict. Reads the JSON rows the bench programs
// wrote (bench_util.h JsonRows; one file per program), prints every target of
// the performance brief with the figure measured, its floor and ratio where
// the bench has one, and whether it is met, and writes all rows and verdicts
// to one JSON file.
//
// A target whose figure is missing is "missing"; with --smoke that is an
// error (exit 1), which is how the smoke run proves every bench ran and
// printed its figures (a smoke run is smaller than the targets' sizes, which
// --smoke therefore does not require). A target not met is reported, never an error: timings
// on a shared machine are figures to read, not to assert.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

// One target of the brief: the row it is read from (bench plus fields that
// must match), the field, and the bound.
struct Target {
  std::string name;
  std::string bench;
  json select;  // object: fields a row must have with these values
  std::string field;
  bool at_least;  // figure >= bound; otherwise figure <= bound
  double bound;
  std::string unit;
  std::string floor_field;  // the row's floor figure, if any
  std::string ratio_field;  // the row's ratio to its floor, if any
  // Reduces the matching rows' figures to one (default: the single match; max for p99 over regions).
  bool take_max = false;
  // Fields a row must also have when the run is not a smoke run: the size the
  // target is defined at (1,000 runs in flight, 5 minutes).
  json size = json::object();
};

const std::vector<Target>& Targets() {
  static const std::vector<Target> targets = {
      {"append: 256 appenders, share of the raw LMDB floor", "append", {{"appenders", 256}, {"durability", "durable"}},
       "ratio", true, 0.9, "x", "raw_events_per_s", "ratio"},
      {"e2e latency p50 / six raw LMDB commits", "e2e",
       {{"mode", "latency"}, {"durability", "durable"}, {"projections", true}}, "raw_ratio", false, 1.3, "x",
       "raw_floor_ms", "raw_ratio"},
      {"e2e latency p99 / six raw LMDB commits", "e2e",
       {{"mode", "latency"}, {"durability", "durable"}, {"projections", true}}, "raw_p99_ratio", false, 3, "x",
       "raw_floor_ms", "raw_p99_ratio"},
      {"e2e latency p50 / a naive SQLite journal's", "e2e",
       {{"mode", "latency"}, {"durability", "durable"}, {"projections", true}}, "sqlite_ratio", false, 1, "x",
       "sqlite_p50_ms", "sqlite_ratio"},
      {"e2e throughput, 1,000 in flight", "e2e",
       {{"mode", "throughput"}, {"durability", "durable"}, {"projections", true}}, "runs_per_s", true, 30'000, "runs/s",
       "floor_ms", "ratio", false, {{"runs", 1000}}},
      {"host CPU per completed run, 1,000 in flight", "e2e",
       {{"mode", "throughput"}, {"durability", "durable"}, {"projections", true}}, "cpu_us_per_run", false, 50, "us",
       "", "", false, {{"runs", 1000}}},
      {"fold", "fold", {{"pass", "fold"}}, "events_per_s", true, 5e6, "events/s", "scan_events_per_s", "x_scan"},
      {"fold, share of the raw scan floor", "fold", {{"pass", "fold"}}, "x_scan", true, 0.4, "x", "scan_events_per_s",
       "x_scan"},
      {"state-at p99, 1M-event run (worst region)", "projections", {{"section", "state_at"}, {"method", "state_at"}},
       "p99_us", false, 1000, "us", "", "", true},
      {"resume p99", "resume", {{"durability", "durable"}}, "p99_ms", false, 2, "ms", "commit_p99_ms", ""},
      {"rebuild", "projections", {{"section", "rebuild"}, {"phase", "rebuild"}}, "events_per_s", true, 1e6,
       "events/s", "floor_events_per_s", "x_floor"},
      {"storage per completed run, journal alone", "footprint", {{"mode", "storage"}, {"projections", false}},
       "compact_bytes_per_run", false, 1000, "B", "", ""},
      {"storage per completed run, with projections", "footprint", {{"mode", "storage"}, {"projections", true}},
       "compact_bytes_per_run", false, 1800, "B", "", ""},
      {"storage per event, 10,000-step run over 5-step runs", "footprint", {{"mode", "wide"}}, "ratio", false, 2, "x",
       "small_bytes_per_event", "ratio", false, {{"wide_steps", 10000}}},
      {"rewind approve, whole process, 1M-event journal", "command", {{"command", "approve"}}, "median_ms", false,
       300, "ms", "floor_ms", "ratio", false, {{"events", 1000000}}},
      {"rewind run, whole process, above the run itself", "command", {{"command", "run"}, {"journal", "own"}},
       "above_run_ms", false, 15, "ms", "run_ms", ""},
      {"rewind run above the run itself, 1M-event journal", "command", {{"command", "run"}, {"journal", "large"}},
       "above_run_ms", false, 15, "ms", "run_ms", "", false, {{"events", 1000000}}},
      {"resume over HTTP, p99 above the durable commit's p99", "server", {{"phase", "resume"}},
       "above_commit_p99_ms", false, 5, "ms", "commit_p99_ms", ""},
      {"approve to the next StepStarted on the stream, p99", "server", {{"phase", "approve"}}, "p99_ms", false, 20,
       "ms", "", ""},
      {"GET a run's state over HTTP", "server", {{"phase", "get"}}, "requests_per_s", true, 20'000, "requests/s", "",
       ""},
      {"1,000 stream clients: share of the engine's throughput kept", "server", {{"phase", "streams"}}, "ratio", true,
       0.9, "x", "runs_per_s_alone", "ratio", false, {{"streams", 1000}}},
      {"heap per run in flight", "footprint", {{"mode", "memory"}}, "heap_bytes_per_run", false, 4096, "B", "", ""},
      {"anonymous RSS growth, 5 minutes of sustained load", "footprint",
       {{"mode", "memory"}}, "anon_growth_ratio", false, 0.10, "x", "", "", false, {{"sustain_seconds_planned", 300}}},
  };
  return targets;
}

bool Matches(const json& row, const Target& t, bool smoke) {
  if (row.value("bench", "") != t.bench) return false;
  auto has = [&row](const json& fields) {
    for (const auto& [key, value] : fields.items()) {
      if (!row.contains(key) || row[key] != value) return false;
    }
    return true;
  };
  if (!has(t.select) || (!smoke && !has(t.size))) return false;
  return row.contains(t.field) && row[t.field].is_number();
}

// Figures derived from others before the targets are read.
void Derive(json& row) {
  if (row.value("bench", "") == "footprint" && row.value("mode", "") == "memory") {
    const double first = row.value("anon_first_bytes", 0.0);
    if (first > 0) row["anon_growth_ratio"] = row.value("anon_growth_bytes", 0.0) / first;
  }
}

struct Verdict {
  const Target* target = nullptr;
  std::optional<json> row;  // the row the figure came from
  double figure = 0;
  std::string state;  // "met", "NOT MET", "missing"
};

Verdict Judge(const Target& t, const std::vector<json>& rows, bool smoke) {
  Verdict v{&t, std::nullopt, 0, "missing"};
  for (const json& row : rows) {
    if (!Matches(row, t, smoke)) continue;
    const double figure = row[t.field].get<double>();
    if (!v.row || (t.take_max && figure > v.figure)) {
      v.row = row;
      v.figure = figure;
    }
  }
  if (v.row) v.state = (t.at_least ? v.figure >= t.bound : v.figure <= t.bound) ? "met" : "NOT MET";
  return v;
}

std::string Number(double x) {
  char buf[64];
  if (x != 0 && (x >= 1e7 || x < 0.01)) {
    std::snprintf(buf, sizeof buf, "%.3g", x);
  } else if (x >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", x);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", x);
  }
  return buf;
}

std::string Field(const Verdict& v, const std::string& field) {
  if (!v.row || field.empty() || !v.row->contains(field) || !(*v.row)[field].is_number()) return "-";
  return Number((*v.row)[field].get<double>());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inputs;
  std::string out;
  bool smoke = false;
  CLI::App app{"The benchmark suite's targets, measured figures, floors and verdicts"};
  app.add_option("inputs", inputs, "JSON-rows files the bench programs wrote")->required();
  app.add_option("--out", out, "Write every row and verdict to this JSON file");
  app.add_flag("--smoke", smoke,
               "A smoke run's rows: targets match whatever size was run, and a missing figure is an error (exit 1)");
  CLI11_PARSE(app, argc, argv);

  std::vector<json> rows;
  for (const std::string& path : inputs) {
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "bench_report: cannot read '%s'\n", path.c_str());
      return 1;
    }
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      json row = json::parse(line, nullptr, false);
      if (row.is_discarded() || !row.is_object()) {
        std::fprintf(stderr, "bench_report: %s:%d: not a JSON object\n", path.c_str(), n);
        return 1;
      }
      Derive(row);
      rows.push_back(std::move(row));
    }
  }

  std::printf("%-48s %12s %8s %12s %10s  %s\n", "target", "measured", "unit", "floor", "ratio", "verdict");
  json verdicts = json::array();
  int missing = 0;
  for (const Target& t : Targets()) {
    const Verdict v = Judge(t, rows, smoke);
    const std::string bound = (t.at_least ? ">= " : "<= ") + Number(t.bound);
    std::printf("%-48s %12s %8s %12s %10s  %s (%s)\n", t.name.c_str(), v.row ? Number(v.figure).c_str() : "-",
                t.unit.c_str(), Field(v, t.floor_field).c_str(), Field(v, t.ratio_field).c_str(), v.state.c_str(),
                bound.c_str());
    if (!v.row) ++missing;
    json entry = {{"target", t.name}, {"unit", t.unit}, {"bound", t.bound}, {"at_least", t.at_least},
                  {"verdict", v.state}};
    if (v.row) entry["measured"] = v.figure;
    verdicts.push_back(std::move(entry));
  }
  if (!out.empty()) {
    std::ofstream file(out, std::ios::trunc);
    file << json{{"targets", verdicts}, {"rows", rows}}.dump(2) << '\n';
    if (!file) {
      std::fprintf(stderr, "bench_report: cannot write '%s'\n", out.c_str());
      return 1;
    }
  }
  if (smoke && missing > 0) {
    std::fprintf(stderr, "bench_report: %d target(s) have no figure\n", missing);
    return 1;
  }
  return 0;
}
