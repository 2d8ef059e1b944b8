// journal-inspect on damaged copies of the committed fixture journal
// (tests/tools/fixtures; the damage is tests/support/damage.h's): bytes
// flipped at random offsets of data.mdb, the file cut short, and the fixed
// cases (a format version this build does not know, a missing or garbage
// lock file, an empty data file, a directory that holds no journal). Every
// time, each command ends within its time limit with a documented exit status
// and exactly one JSON answer — a report, or an error naming what is wrong —
// never a crash or a hang. And nothing damaged passes unseen: when `verify
// --all --against` the heads saved with the fixture finds the journal clean,
// the export of its events is byte for byte the undamaged one.
//
// REWIND_DAMAGE_ROUNDS (default 40) and REWIND_DAMAGE_SEED (default: a fresh
// seed, printed) choose the damage; a failure prints the seed to reproduce.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/support/damage.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFixtures = REWIND_INSPECT_FIXTURES;

// Exit statuses journal-inspect documents: 0 done, 10..18 an error of that
// code, 20 problems found, 21 the reader crashed (isolated in a child).
bool Documented(int status) { return status == 0 || (status >= 10 && status <= 18) || status == 20 || status == 21; }

class InspectDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LetCrashSignalsThrough();
    pristine_ = ReadFile(std::string(kFixtures) + "/journal/data.mdb");
    ASSERT_GT(pristine_.size(), 8192u);
  }

  struct Answer {
    int status = -1;
    std::string out;
    json body;
  };

  // `journal-inspect ARGS --json --data DIR`, killed after 60 s.
  Answer Run(const std::string& data, std::vector<std::string> args) {
    args.insert(args.end(), {"--json", "--data", data});
    const ToolRun o = RunTool(JOURNAL_INSPECT, args, scratch_.path(), 60);
    Answer a{o.status, o.out, json::parse(o.out, nullptr, /*allow_exceptions=*/false)};
    EXPECT_TRUE(Documented(a.status)) << "exit " << a.status << " for " << args[0] << "\nstdout: " << o.out
                                      << "\nstderr: " << o.err;
    EXPECT_FALSE(a.body.is_discarded()) << "not one JSON answer: " << o.out;
    if (a.status != 0 && a.status != 20) {
      EXPECT_TRUE(a.body.contains("error")) << o.out;
    }
    return a;
  }

  std::string pristine_;
  const std::string heads_ = std::string(kFixtures) + "/heads.json";
  TempDir scratch_;
};

TEST_F(InspectDamageTest, DamagedDataFilesAreReportedNeverCrashOrHangAndNeverPassUnseen) {
  const DamageRounds plan = DamageRoundsFromEnv(40);
  SCOPED_TRACE("REWIND_DAMAGE_SEED=" + std::to_string(plan.seed));
  std::mt19937_64 rng(plan.seed);

  TempDir dir;
  const std::string data = dir.Sub("journal"), out = dir.Sub("events.jsonl");
  Lay(DamagedJournal{"none", pristine_}, data);
  ASSERT_EQ(Run(data, {"export", "--all", "--out", out}).status, 0);
  const std::string pristine_export = ReadFile(out);

  std::map<int, int> outcomes;  // verify's exit status -> rounds
  for (std::uint64_t round = 0; round < plan.rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const DamagedJournal damage = RandomDamage(pristine_, round, rng);
    if (round < plan.first) continue;
    SCOPED_TRACE(damage.what);
    Lay(damage, data);
    const Answer verify = Run(data, {"verify", "--all", "--against", heads_});
    ++outcomes[verify.status];
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
  std::cout << "verify's exit statuses over " << plan.rounds << " damaged journals: " << Tally(outcomes) << std::endl;
}

TEST_F(InspectDamageTest, FixedDamageIsNamedAndHarmlessDamageAnswersAsTheFixture) {
  TempDir dir;
  const std::string data = dir.Sub("journal"), out = dir.Sub("events.jsonl");
  const std::vector<std::vector<std::string>> commands = {
      {"stat"}, {"runs"}, {"heads"}, {"verify", "--all", "--against", heads_}, {"export", "--all", "--out", out}};
  // Each command's answer on the undamaged journal (an export: the file).
  auto answer = [&](const std::vector<std::string>& command) {
    const Answer a = Run(data, command);
    return std::pair{a, command[0] == "export" ? ReadFile(out) : a.out};
  };
  Lay(DamagedJournal{"none", pristine_}, data);
  std::vector<std::string> expected;
  for (const auto& command : commands) expected.push_back(answer(command).second);

  for (const DamagedJournal& damage : FixedDamage(pristine_)) {
    SCOPED_TRACE(damage.what);
    for (std::size_t i = 0; i < commands.size(); ++i) {
      SCOPED_TRACE(commands[i][0]);
      Lay(damage, data);
      const auto [a, output] = answer(commands[i]);
      ASSERT_EQ(a.status, damage.expected_status) << a.out;
      if (damage.expected_status == 0) {
        EXPECT_EQ(output, expected[i]);
      } else {
        const std::string message = a.body["error"].value("message", "");
        EXPECT_NE(message.find(damage.expected_message), std::string::npos) << message;
        EXPECT_NE(message.find(data), std::string::npos) << "the error does not name the journal: " << message;
      }
    }
  }
}

TEST_F(InspectDamageTest, AReaderThatCrashesIsReportedWithExit21NamingTheJournal) {
  TempDir dir;
  const std::string data = dir.Sub("journal");
  Lay(CrashingDamage(pristine_), data);
  // verify checks LMDB's structure before it reads any event, so it reports
  // this damage instead of crashing on it.
  const Answer verify = Run(data, {"verify"});
  EXPECT_EQ(verify.status, 20) << verify.out;
  ASSERT_TRUE(verify.body["problems"].is_array()) << verify.out;
  ASSERT_EQ(verify.body["problems"].size(), 1u) << verify.out;
  EXPECT_EQ(verify.body["problems"][0].value("check", ""), "structure") << verify.out;
  for (const char* command : {"runs", "stat"}) {
    const Answer a = Run(data, {command});
    ASSERT_EQ(a.status, 21) << command;
    EXPECT_EQ(a.body["error"].value("code", ""), "reader_crashed");
    EXPECT_NE(a.body["error"].value("message", "").find(data), std::string::npos) << a.out;
  }
}

}  // namespace
}  // namespace rwd::test
