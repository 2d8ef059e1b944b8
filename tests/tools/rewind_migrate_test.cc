// `rewind migrate` on the committed format-1 fixture journal: the migrated
// journal checks clean against the heads saved with the fixture (before any
// migration), answers every query as the fixture does, and a second
// migration has nothing to do.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kFixtures = REWIND_INSPECT_FIXTURES;

class RewindMigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(std::string(kFixtures) + "/journal", data_, fs::copy_options::recursive);
    fs::copy(std::string(kFixtures) + "/journal", pristine_, fs::copy_options::recursive);
  }
  ProgramOutput Rewind(std::vector<std::string> args, const std::string& data) {
    args.insert(args.end(), {"--data", data});
    return RunProgram(REWIND_CLI, args, dir_.path());
  }
  ProgramOutput Inspect(std::vector<std::string> args, const std::string& data) {
    args.insert(args.end(), {"--data", data});
    return RunProgram(JOURNAL_INSPECT, args, dir_.path());
  }
  TempDir dir_;
  const std::string data_ = dir_.Sub("journal");
  const std::string pristine_ = dir_.Sub("pristine");
};

TEST_F(RewindMigrateTest, TheFixtureMigratesAndChecksCleanAgainstHeadsSavedBefore) {
  const ProgramOutput migrated = Rewind({"migrate", "--json"}, data_);
  ASSERT_EQ(migrated.exit_code, 0) << migrated.err;
  const json report = json::parse(migrated.out);
  EXPECT_EQ(report["from_version"], 1);
  EXPECT_EQ(report["to_version"], 2);
  EXPECT_EQ(report["events"], 51);
  EXPECT_TRUE(fs::exists(report["kept"].get<std::string>()));

  const ProgramOutput verified =
      Inspect({"verify", "--all", "--against", std::string(kFixtures) + "/heads.json", "--json"}, data_);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_EQ(json::parse(verified.out)["clean"], true) << verified.out;
  EXPECT_EQ(Inspect({"heads", "--json"}, data_).out, Inspect({"heads", "--json"}, pristine_).out);
  // Every query answers as on the fixture (its read models made again);
  // statistics too, which the fixture's older step_stats table cannot.
  EXPECT_EQ(Rewind({"stats", "--json"}, pristine_).exit_code, 12);
  EXPECT_EQ(Rewind({"stats", "--json"}, data_).exit_code, 0);
  for (const std::vector<std::string>& q : std::vector<std::vector<std::string>>{
           {"runs", "--json"}, {"status", "--json"}, {"audit", "--json"}}) {
    const ProgramOutput after = Rewind(q, data_), before = Rewind(q, pristine_);
    EXPECT_EQ(after.exit_code, before.exit_code) << q[0];
    EXPECT_EQ(after.out, before.out) << q[0];
    EXPECT_EQ(after.err.find("rebuilding"), std::string::npos) << q[0] << ": " << after.err;
  }
  EXPECT_EQ(Inspect({"events", "--json"}, data_).out, Inspect({"events", "--json"}, pristine_).out);

  const ProgramOutput again = Rewind({"migrate"}, data_);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("already"), std::string::npos) << again.out;
  EXPECT_EQ(Rewind({"migrate"}, dir_.Sub("none")).exit_code, 10) << "no journal: not found";
}

}  // namespace
}  // namespace rwd::test
