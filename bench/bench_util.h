// Helpers the benchmark programs share: percentiles, timing, scratch
// directories, and the JSON rows every bench writes for the suite's report.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "rewind/base/status.h"

namespace rwd::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d);
double Millis(Clock::duration d);
double Micros(Clock::duration d);
double PerSecond(std::uint64_t n, double seconds);  // 0 for no time

// Nearest-rank percentile, q in (0, 1]; reorders `samples`; 0 when empty.
// The median of an even count is the lower middle.
double Percentile(std::vector<double>& samples, double q);

template <typename T>
double MedianOf(const std::vector<T>& reps, double T::*field) {
  std::vector<double> values;
  for (const T& r : reps) values.push_back(r.*field);
  return Percentile(values, 0.5);
}

// SplitMix64's finalizer: a bijection of 64-bit values in which every input
// bit affects every output bit (hashing seeds, digests).
std::uint64_t Mix64(std::uint64_t x);

// CPU seconds (user + system) of all threads of this process so far.
double ProcessCpuSeconds();

// A field of /proc/self/status given in kB ("VmRSS", "RssAnon", ...), in
// bytes, now; 0 when the field is missing.
std::uint64_t ProcStatusBytes(std::string_view field);

// This process's anonymous resident memory now (RssAnon of
// /proc/self/status: heap and stacks, not the journal's mapped file), in bytes.
std::uint64_t AnonResidentBytes();

// This process's whole resident memory now (VmRSS: RssAnon, plus the pages of
// mapped files such as the journal's map that are resident), in bytes.
std::uint64_t ResidentBytes();

// Bytes the allocator has handed out and not taken back (mallinfo2).
std::uint64_t HeapBytes();

// The size of `dir`/data.mdb.
Result<std::uint64_t> DataFileBytes(const fs::path& dir);

// A timed piece of work over `events` events. The CPU time is the whole
// process's (the journal's writer thread does the projections' work): well
// below the wall time when the machine is busy with others or when it waits
// for the disk.
struct Phase {
  std::string name;
  std::uint64_t events = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  double events_per_s() const { return PerSecond(events, seconds); }
};

// Times `work`; its error, or the phase it was.
Result<Phase> Timed(std::string name, std::uint64_t events, const std::function<Status()>& work);

// A fresh, uniquely named directory under `parent`, removed with its contents
// on destruction (kept, and named on stderr, when the environment has
// REWIND_BENCH_KEEP). `parent` is created when missing and then removed again once
// empty. Use one at a time: a parent made by one is left to that one.
class ScratchDir {
 public:
  static Result<std::unique_ptr<ScratchDir>> Create(const fs::path& parent, const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  ScratchDir(fs::path path, fs::path made_parent) : path_(std::move(path)), made_parent_(std::move(made_parent)) {}
  fs::path path_;
  fs::path made_parent_;
};

// Runs `measure(directory)` `reps` times, each in a fresh scratch directory
// under `parent`; the results in order, or the first error.
template <typename T>
Result<std::vector<T>> Repeat(unsigned reps, const fs::path& parent, const std::string& prefix,
                              const std::function<Result<T>(const fs::path&)>& measure) {
  std::vector<T> results;
  for (unsigned i = 0; i < reps; ++i) {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch, ScratchDir::Create(parent, prefix));
    REWIND_ASSIGN_OR_RETURN(T result, measure(scratch->path()));
    results.push_back(std::move(result));
  }
  return results;
}

// The JSON rows of one bench program: one object per line, each with "bench"
// set to the program's figure group ("append", "fold", ...). The suite's
// report (bench_report.cc) reads them. An empty path writes nothing.
class JsonRows {
 public:
  JsonRows(std::string bench, std::string path) : bench_(std::move(bench)), path_(std::move(path)) {}
  // Adds a row; "bench" is set on it.
  void Add(nlohmann::json row);
  // Writes every row to the file (replacing it), or says why it cannot.
  Status Write() const;

 private:
  std::string bench_;
  std::string path_;
  std::vector<nlohmann::json> rows_;
};

}  // namespace rwd::bench
