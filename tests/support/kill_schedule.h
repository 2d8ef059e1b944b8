// KillSchedule: the random schedule of a crash test, reproducible from a seed.
//
// The seed comes from $<PREFIX>_SEED or the OS; the number of kills from
// $<PREFIX>_ROUNDS or `default_rounds`. Both are printed, so a failing run can
// be replayed exactly ("<PREFIX>_SEED=... reproduces").
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace rwd::test {

class KillSchedule {
 public:
  KillSchedule(const std::string& prefix, std::uint64_t default_rounds)
      : seed_(EnvOr(prefix + "_SEED", std::random_device{}())), rounds_(EnvOr(prefix + "_ROUNDS", default_rounds)),
        rng_(seed_) {
    std::printf("seed %llu (%s_SEED=%llu reproduces), %llu rounds\n", static_cast<unsigned long long>(seed_),
                prefix.c_str(), static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(rounds_));
  }
  std::uint64_t rounds() const { return rounds_; }
  std::mt19937_64& rng() { return rng_; }

 private:
  static std::uint64_t EnvOr(const std::string& name, std::uint64_t fallback) {
    const char* v = std::getenv(name.c_str());
    return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
  }
  std::uint64_t seed_;
  std::uint64_t rounds_;
  std::mt19937_64 rng_;
};

}  // namespace rwd::test
