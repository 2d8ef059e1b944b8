// Deterministic simulation of the executor (simulation.h), many seeds.
//
// Every seed must pass every check of the simulation, and a tenth of them are
// simulated twice, on two journals, which must be byte for byte the same.
//
// REWIND_SIM_SEEDS (default 1000) seeds are simulated, from REWIND_SIM_SEED
// (default: a fresh one, printed) on; a failure names the seed, and
// REWIND_SIM_SEED=<it> REWIND_SIM_SEEDS=1 reproduces it exactly.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <random>

#include "tests/executor/simulation.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(SimulationTest, EverySeedPassesEveryCheckAndReplaysToTheSameJournal) {
  spdlog::set_level(spdlog::level::off);  // thousands of runs and planned crashes: the log says nothing new
  const std::uint64_t first = EnvOr("REWIND_SIM_SEED", std::random_device()());
  const std::uint64_t seeds = EnvOr("REWIND_SIM_SEEDS", 1000);
  std::printf("simulating %llu seeds from REWIND_SIM_SEED=%llu\n", static_cast<unsigned long long>(seeds),
              static_cast<unsigned long long>(first));
  SimulationResult total;
  std::uint64_t replayed = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    TempDir dir;
    const SimulationResult r = Simulate(seed, dir.Sub("journal"));
    if (!r.problems.empty()) {
      std::string message;
      for (const std::string& p : r.problems) message += p + "\n";
      FAIL() << "seed " << seed << " (REWIND_SIM_SEED=" << seed << " REWIND_SIM_SEEDS=1):\n" << message;
    }
    if (seed % 10 == 0 || seeds == 1) {
      const SimulationResult again = Simulate(seed, dir.Sub("again"));
      ASSERT_TRUE(again.problems.empty()) << "seed " << seed << " failed when simulated again";
      if (again.journal_digest != r.journal_digest) {
        std::size_t i = 0;
        while (i < r.listing.size() && i < again.listing.size() && r.listing[i] == again.listing[i]) ++i;
        std::string once, twice;
        for (std::size_t k = i < 6 ? 0 : i - 6; k <= i + 2; ++k) {
          once += "\n  " + (k < r.listing.size() ? r.listing[k] : "(end)");
          twice += "\n  " + (k < again.listing.size() ? again.listing[k] : "(end)");
        }
        for (const auto& line : r.appends) once += "\n  " + line;
        for (const auto& line : again.appends) twice += "\n  " + line;
        FAIL() << "seed " << seed << " wrote a different journal the second time (REWIND_SIM_SEED=" << seed
               << " REWIND_SIM_SEEDS=1) from position " << i + 1 << "; first time:" << once << "\nsecond time:"
               << twice;
      }
      ++replayed;
    }
    total.runs += r.runs;
    total.forks += r.forks;
    total.events += r.events;
    total.crashes += r.crashes;
    total.resumes += r.resumes;
    total.approvals += r.approvals;
    total.rejections += r.rejections;
    total.executions += r.executions;
  }
  std::printf("simulated %llu seeds (%llu replayed to identical journals): %llu runs (%llu forks), %llu events, "
              "%llu crashes, %llu resumes, %llu approvals, %llu rejections, %llu handler executions\n",
              static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(replayed),
              static_cast<unsigned long long>(total.runs), static_cast<unsigned long long>(total.forks),
              static_cast<unsigned long long>(total.events), static_cast<unsigned long long>(total.crashes),
              static_cast<unsigned long long>(total.resumes), static_cast<unsigned long long>(total.approvals),
              static_cast<unsigned long long>(total.rejections), static_cast<unsigned long long>(total.executions));
}

}  // namespace
}  // namespace rwd::test
