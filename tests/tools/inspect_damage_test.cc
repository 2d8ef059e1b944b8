// journal-inspect on damaged copies of the committed fixture journal
// (tests/tools/fixtures): bytes flipped at random offsets of data.mdb, and
// the file cut short. Every time, each command ends within its time limit
// with a documented exit status and exactly one JSON answer — a report, or an
// error naming what is wrong — never a crash or a hang. And nothing damaged
// passes unseen: when `verify --all --against` the heads saved with the
// fixture finds the journal clean, the export of its events is byte for byte
// the undamaged one.
//
// REWIND_DAMAGE_ROUNDS (default 40) and REWIND_DAMAGE_SEED (default: a fresh
// seed, printed) choose the damage; a failure prints the seed to reproduce.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFixtures = REWIND_INSPECT_FIXTURES;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Exit statuses journal-inspect documents: 0 done, 10..18 an error of that
// code, 20 problems found, 21 the reader crashed (isolated in a child).
bool Documented(int status) { return status == 0 || (status >= 10 && status <= 18) || status == 20 || status == 21; }

class InspectDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under a sanitizer a reader that crashes would exit with the sanitizer's
    // report instead of dying of the signal the tool reports (exit 21): let
    // signals through, as in a build without one.
    for (const char* name : {"ASAN_OPTIONS", "TSAN_OPTIONS"}) {
      const char* set = std::getenv(name);
      const std::string options = std::string(set != nullptr ? set : "") + ":handle_segv=0:handle_sigbus=0";
      setenv(name, options.c_str(), 1);
    }
  }

  struct Answer {
    int status = -1;
    json body;
  };

  // `journal-inspect ARGS --json --data DIR`, killed after 60 s (exit 124).
  Answer Run(const std::string& data, std::vector<std::string> args) {
    std::vector<std::string> argv = {"-s", "KILL", "60", JOURNAL_INSPECT};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--json", "--data", data});
    const ProgramOutput o = RunProgram("/usr/bin/timeout", argv, scratch_.path());
    Answer a{o.exit_code, json::parse(o.out, nullptr, /*allow_exceptions=*/false)};
    EXPECT_TRUE(Documented(a.status)) << "exit " << a.status << " for " << args[0] << "\nstdout: " << o.out
                                      << "\nstderr: " << o.err;
    EXPECT_FALSE(a.body.is_discarded()) << "not one JSON answer: " << o.out;
    if (a.status != 0 && a.status != 20) {
      EXPECT_TRUE(a.body.contains("error")) << o.out;
    }
    return a;
  }

  TempDir scratch_;
};

TEST_F(InspectDamageTest, DamagedDataFilesAreReportedNeverCrashOrHangAndNeverPassUnseen) {
  const std::uint64_t rounds = EnvOr("REWIND_DAMAGE_ROUNDS", 40);
  const std::uint64_t seed = EnvOr("REWIND_DAMAGE_SEED", std::random_device{}());
  std::cout << "damage seed " << seed << " (REWIND_DAMAGE_SEED), " << rounds << " rounds" << std::endl;
  SCOPED_TRACE("REWIND_DAMAGE_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);

  const fs::path original = fs::path(kFixtures) / "journal" / "data.mdb";
  const std::string pristine = ReadFile(original);
  ASSERT_GT(pristine.size(), 8192u);
  const std::string heads = std::string(kFixtures) + "/heads.json";

  TempDir dir;
  const std::string data = dir.Sub("journal"), out = dir.Sub("events.jsonl");
  fs::create_directories(data);
  auto write = [&](const std::string& bytes) {
    fs::remove_all(data);
    fs::create_directories(data);
    std::ofstream(data + "/data.mdb", std::ios::binary) << bytes;
  };
  write(pristine);
  ASSERT_EQ(Run(data, {"export", "--all", "--out", out}).status, 0);
  const std::string pristine_export = ReadFile(out);

  std::map<int, int> outcomes;  // verify's exit status -> rounds
  for (std::uint64_t round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string bytes = pristine;
    std::string what;
    if (round % 8 == 7) {  // cut short
      const std::size_t keep = std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng);
      bytes.resize(keep);
      what = "cut to " + std::to_string(keep) + " bytes";
    } else {  // 1..8 bytes changed
      const int flips = std::uniform_int_distribution<int>(1, 8)(rng);
      for (int i = 0; i < flips; ++i) {
        const std::size_t at = std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng);
        bytes[at] = static_cast<char>(bytes[at] ^ (1 << std::uniform_int_distribution<int>(0, 7)(rng)));
        what += (what.empty() ? "flipped " : ", ") + std::to_string(at);
      }
    }
    SCOPED_TRACE(what);
    write(bytes);
    const Answer verify = Run(data, {"verify", "--all", "--against", heads});
    ++outcomes[verify.status];
    if (std::getenv("REWIND_DAMAGE_VERBOSE")) std::cout << what << ": " << verify.status << " " << verify.body.dump() << std::endl;
    for (const char* command : {"stat", "runs", "heads"}) Run(data, {command});
    if (verify.status == 0) {
      EXPECT_EQ(verify.body["clean"], true);
      const Answer exported = Run(data, {"export", "--all", "--out", out});
      ASSERT_EQ(exported.status, 0);
      EXPECT_EQ(ReadFile(out), pristine_export) << "verify passed a journal whose events changed";
    } else if (verify.status == 20) {
      EXPECT_FALSE(verify.body["problems"].empty());
    }
  }
  std::cout << "verify's exit statuses over " << rounds << " damaged journals:";
  for (const auto& [status, n] : outcomes) std::cout << " " << status << "×" << n;
  std::cout << std::endl;
}

}  // namespace
}  // namespace rwd::test
