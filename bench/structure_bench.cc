// structure_bench: what the structure check costs a writer's open
// (Journal::CheckStructure, JournalOptions::check_structure).
//
// Writes the mixed journal (histories.h) of --events events, then, each the
// median of --reps repetitions on the same warm file:
//   open         a writer's Journal::Open with the check off, then on: the
//                difference is what the check adds to every writer's open;
//   check        Journal::CheckStructure alone, on a read-only journal;
//   floor        reading every byte of data.mdb once (pread in 1 MiB blocks):
//                the least any check that looks at every page costs;
//   verify       Journal::VerifyAll, the events' own check, for scale.
// check ÷ floor is the figure to watch: the walk's own cost over reading the
// file. A cold file (not in the page cache) costs the disk's read time on top,
// the same for the check and the floor.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/histories.h"
#include "rewind/journal/journal.h"

namespace rwd {
namespace {

using bench::Clock;

// The median of `reps` timings of `f`, in seconds; `f` failing ends the bench.
double Median(int reps, const std::function<Status()>& f) {
  std::vector<double> s;
  for (int i = 0; i < reps; ++i) {
    const auto start = Clock::now();
    if (Status st = f(); !st.ok()) {
      std::fprintf(stderr, "structure_bench: %s\n", st.ToString().c_str());
      std::exit(1);
    }
    s.push_back(bench::Seconds(Clock::now() - start));
  }
  return bench::Percentile(s, 0.5);
}

Status ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Code::kUnavailable, "cannot open " + path);
  std::vector<char> block(1 << 20);
  std::uint64_t sum = 0;
  for (ssize_t n; (n = ::read(fd, block.data(), block.size())) > 0;) sum += static_cast<unsigned char>(block[0]);
  ::close(fd);
  return sum == ~std::uint64_t{0} ? Status(Code::kInternal, "unreachable") : Status::Ok();
}

int Main(int argc, char** argv) {
  CLI::App app{"structure_bench: the cost of the writer's structure check"};
  std::uint64_t events = 1'000'000;
  int reps = 5;
  std::string dir = std::filesystem::temp_directory_path().string();
  app.add_option("--events", events, "events in the journal")->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "repetitions of each measurement (the median is shown)")->check(CLI::PositiveNumber);
  app.add_option("--dir", dir, "where the scratch journal goes");
  CLI11_PARSE(app, argc, argv);

  auto scratch = bench::ScratchDir::Create(dir, "structure-bench");
  if (!scratch.has_value()) return std::fprintf(stderr, "%s\n", scratch.error().ToString().c_str()), 1;
  const auto path = (*scratch)->path() / "journal";
  JournalOptions options = bench::JournalOptionsFor(path, Durability::kNoSync);
  bench::MixFigures mix;
  {
    auto journal = Journal::Open(options);
    if (!journal.has_value()) return std::fprintf(stderr, "%s\n", journal.error().ToString().c_str()), 1;
    auto written = bench::WriteMixedJournal(**journal, bench::MixOptions{.events = events});
    if (!written.has_value()) return std::fprintf(stderr, "%s\n", written.error().ToString().c_str()), 1;
    mix = *written;
  }
  const std::string data = (path / "data.mdb").string();
  const double mib = static_cast<double>(std::filesystem::file_size(data)) / (1 << 20);

  const auto open_writer = [&](bool check) {
    return [&, check]() -> Status {
      JournalOptions o = options;
      o.check_structure = check;
      auto j = Journal::Open(o);
      return j.has_value() ? Status::Ok() : j.error();
    };
  };
  // A writer first: a process opens a directory once at a time.
  const double open_off = Median(reps, open_writer(false));
  const double open_on = Median(reps, open_writer(true));
  JournalOptions read_only = options;
  read_only.read_only = true;
  auto reader = Journal::Open(read_only);
  if (!reader.has_value()) return std::fprintf(stderr, "%s\n", reader.error().ToString().c_str()), 1;
  StructureReport walked;
  const double floor = Median(reps, [&] { return ReadWholeFile(data); });
  const double check = Median(reps, [&]() -> Status {
    auto r = (*reader)->CheckStructure();
    if (!r.has_value()) return r.error();
    walked = *r;
    return Status::Ok();
  });
  const double verify = Median(1, [&]() -> Status {
    auto v = (*reader)->VerifyAll();
    return v.has_value() ? Status::Ok() : v.error();
  });

  std::printf("journal: %llu events, %.1f MiB, %llu pages (%llu branch, %llu leaf, %llu overflow, %llu free), %llu trees\n",
              static_cast<unsigned long long>(mix.events), mib, static_cast<unsigned long long>(walked.pages),
              static_cast<unsigned long long>(walked.branch), static_cast<unsigned long long>(walked.leaf),
              static_cast<unsigned long long>(walked.overflow), static_cast<unsigned long long>(walked.free),
              static_cast<unsigned long long>(walked.trees));
  std::printf("%-34s %10s %12s\n", "measure (median of reps)", "ms", "ms per GiB");
  const auto row = [&](const char* name, double s) {
    std::printf("%-34s %10.1f %12.1f\n", name, s * 1e3, s * 1e3 * 1024 / mib);
  };
  row("floor: read every byte of the file", floor);
  row("CheckStructure", check);
  row("writer open, check off", open_off);
  row("writer open, check on", open_on);
  row("VerifyAll (events; one run)", verify);
  std::printf("check / floor: %.2f; the check adds %.1f ms to a writer's open (%.2f of VerifyAll)\n", check / floor,
              (open_on - open_off) * 1e3, check / verify);
  return 0;
}

}  // namespace
}  // namespace rwd

int main(int argc, char** argv) { return rwd::Main(argc, argv); }
