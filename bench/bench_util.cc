#include "bench/bench_util.h"

#include <malloc.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>

namespace rwd::bench {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
double PerSecond(std::uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; }

double Percentile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
  const auto nth = samples.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(rank, 1) - 1);
  std::nth_element(samples.begin(), nth, samples.end());
  return *nth;
}

std::uint64_t Mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::uint64_t ProcStatusBytes(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    // Each line is "Name:<spaces>value kB".
    if (key.size() == field.size() + 1 && key.back() == ':' && key.starts_with(field)) {
      std::uint64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

std::uint64_t AnonResidentBytes() { return ProcStatusBytes("RssAnon"); }

std::uint64_t ResidentBytes() { return ProcStatusBytes("VmRSS"); }

std::uint64_t HeapBytes() {
  const struct mallinfo2 info = ::mallinfo2();  // all arenas
  return info.uordblks + info.hblkhd;
}

Result<std::uint64_t> DataFileBytes(const fs::path& dir) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(dir / "data.mdb", ec);
  if (ec) return Err(Code::kUnavailable, "size of '" + (dir / "data.mdb").string() + "': " + ec.message());
  return static_cast<std::uint64_t>(size);
}

Result<Phase> Timed(std::string name, std::uint64_t events, const std::function<Status()>& work) {
  const double cpu0 = ProcessCpuSeconds();
  const Clock::time_point t0 = Clock::now();
  REWIND_RETURN_IF_ERROR(work());
  const double seconds = Seconds(Clock::now() - t0);
  return Phase{std::move(name), events, seconds, ProcessCpuSeconds() - cpu0};
}

Result<std::unique_ptr<ScratchDir>> ScratchDir::Create(const fs::path& parent, const std::string& prefix) {
  std::error_code ec;
  const bool made_parent = fs::create_directory(parent, ec);
  if (ec) return Err(Code::kUnavailable, "cannot create '" + parent.string() + "': " + ec.message());
  std::string pattern = (parent / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Err(Code::kUnavailable, "cannot create '" + pattern + "': " + std::strerror(errno));
  }
  return std::unique_ptr<ScratchDir>(new ScratchDir(pattern, made_parent ? parent : fs::path()));
}

ScratchDir::~ScratchDir() {
  if (std::getenv("REWIND_BENCH_KEEP") != nullptr) {
    std::fprintf(stderr, "# kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (!made_parent_.empty()) fs::remove(made_parent_, ec);  // a no-op unless empty
}

void JsonRows::Add(nlohmann::json row) {
  row["bench"] = bench_;
  rows_.push_back(std::move(row));
}

Status JsonRows::Write() const {
  if (path_.empty()) return Status::Ok();
  std::ofstream out(path_, std::ios::trunc);
  for (const nlohmann::json& row : rows_) out << row.dump() << '\n';
  out.flush();
  if (!out) return Status(Code::kUnavailable, "cannot write '" + path_ + "'");
  return Status::Ok();
}

}  // namespace rwd::bench
