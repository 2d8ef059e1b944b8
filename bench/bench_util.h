// Helpers the benchmark programs share: percentiles and scratch directories.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "rewind/base/status.h"

namespace rwd::bench {

namespace fs = std::filesystem;

// Nearest-rank percentile, q in (0, 1]; reorders `samples`; 0 when empty.
// The median of an even count is the lower middle.
double Percentile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
  const auto nth = samples.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(rank, 1) - 1);
  std::nth_element(samples.begin(), nth, samples.end());
  return *nth;
}

template <typename T>
double MedianOf(const std::vector<T>& reps, double T::*field) {
  std::vector<double> values;
  for (const T& r : reps) values.push_back(r.*field);
  return Percentile(values, 0.5);
}

// A fresh, uniquely named directory under `parent`, removed with its contents
// on destruction. `parent` is created when missing and then removed again once
// empty. Use one at a time: a parent made by one is left to that one.
class ScratchDir {
 public:
  static Result<std::unique_ptr<ScratchDir>> Create(const fs::path& parent, const std::string& prefix) {
    std::error_code ec;
    const bool made_parent = fs::create_directory(parent, ec);
    if (ec) return Err(Code::kUnavailable, "cannot create '" + parent.string() + "': " + ec.message());
    std::string pattern = (parent / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Err(Code::kUnavailable, "cannot create '" + pattern + "': " + std::strerror(errno));
    }
    return std::unique_ptr<ScratchDir>(new ScratchDir(pattern, made_parent ? parent : fs::path()));
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (!made_parent_.empty()) fs::remove(made_parent_, ec);  // a no-op unless empty
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  ScratchDir(fs::path path, fs::path made_parent)
      : path_(std::move(path)), made_parent_(std::move(made_parent)) {}
  fs::path path_;
  fs::path made_parent_;
};

}  // namespace rwd::bench
