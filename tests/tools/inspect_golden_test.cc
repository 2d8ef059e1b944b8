// journal-inspect's output, byte for byte, on a committed journal
// (tests/tools/fixtures/journal, written by fixtures/make_journal.sh with the
// real tools): every command, each in both forms (for people, then --json),
// and its errors. Each case's golden file in tests/tools/golden/ holds, per
// form, the command line, the exit status, stdout, and stderr when there is
// any, with the temporary paths written as {data}, {out} and {fixtures}.
//
// A change in what the tool prints fails here. When the change is meant,
// regenerate and review the diff of tests/tools/golden/:
//   REWIND_UPDATE_GOLDEN=1 build/tests/tools/inspect_golden_test
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name;               // the golden file: golden/<name>.txt
  std::vector<std::string> args;  // {order}, {fork}, {signal}, {cancelled}, {fixtures}, {out} are replaced
  std::string written = {};       // a file the command writes (under {out}), shown after its output
};

// Test names show the case's name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

class InspectGoldenTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    fs::copy(fs::path(kFixtures) / "journal", data_);
    fs::create_directories(out_);
    const auto runs = nlohmann::json::parse(ReadFile(fs::path(kFixtures) / "runs.json"));
    for (const auto& [name, id] : runs.items()) vars_["{" + name + "}"] = id.get<std::string>();
    vars_["{fixtures}"] = kFixtures;
    vars_["{out}"] = out_;
  }

  // One form of the case: the command line as written, its exit status,
  // stdout, stderr, and the file it wrote, with temporary paths named.
  std::string Transcript(const Case& c, bool json) {
    std::vector<std::string> args;
    std::string shown = "$ journal-inspect";
    for (std::string arg : c.args) {
      shown += " " + arg;
      for (const auto& [var, value] : vars_) ReplaceAll(arg, var, value);
      args.push_back(arg);
    }
    if (json) {
      args.push_back("--json");
      shown += " --json";
    }
    args.insert(args.end(), {"--data", data_});
    fs::remove_all(out_);
    fs::create_directories(out_);
    const ProgramOutput o = RunProgram(kInspect, args, scratch_.path());
    std::string text = shown + "\nexit " + std::to_string(o.exit_code) + "\n" + o.out;
    if (!o.err.empty()) text += "--- stderr\n" + o.err;
    if (!c.written.empty()) {
      std::string path = c.written;
      for (const auto& [var, value] : vars_) ReplaceAll(path, var, value);
      text += "--- " + c.written + "\n" + ReadFile(path);
    }
    ReplaceAll(text, data_, "{data}");
    ReplaceAll(text, out_, "{out}");
    ReplaceAll(text, kFixtures, "{fixtures}");
    return text;
  }

  static constexpr const char* kFixtures = REWIND_INSPECT_FIXTURES;
  static constexpr const char* kInspect = JOURNAL_INSPECT;
  TempDir dir_, scratch_;
  std::string data_ = dir_.Sub("journal"), out_ = dir_.Sub("out");
  std::map<std::string, std::string> vars_;
};

TEST_P(InspectGoldenTest, PrintsWhatItsGoldenFileHolds) {
  const Case& c = GetParam();
  const std::string actual = Transcript(c, false) + "\n" + Transcript(c, true);
  const fs::path golden = fs::path(REWIND_INSPECT_GOLDEN) / (c.name + ".txt");
  if (std::getenv("REWIND_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden, std::ios::binary | std::ios::trunc) << actual;
    GTEST_SKIP() << "wrote " << golden;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing; REWIND_UPDATE_GOLDEN=1 writes it";
  const std::string expected = ReadFile(golden);
  EXPECT_EQ(actual, expected) << "journal-inspect's output differs from " << golden
                              << "; if the change is meant, regenerate (see the file comment)";
}

const std::vector<Case> kCases = {
    // Listing and counting.
    {"runs", {"runs"}},
    {"runs_filtered", {"runs", "--workflow", "order", "--status", "completed", "--since", "2026-01-01"}},
    {"stat", {"stat"}},
    // One run's events, raw bytes, and the story.
    {"events", {"events", "{order}"}},
    {"events_range", {"events", "{signal}", "--from-seq", "4", "--to-seq", "7"}},
    {"events_raw", {"events", "{signal}", "--to-seq", "2", "--raw", "{out}/raw"}},
    {"timeline", {"timeline", "{order}"}},
    {"timeline_fork", {"timeline", "{fork}"}},
    {"timeline_signal", {"timeline", "{signal}"}},
    // Time travel.
    {"state_at_seq", {"state", "{order}", "--at-seq", "4"}},
    {"state_at_step", {"state", "{order}", "--at-step", "reserve"}},
    {"state_cancelled", {"state", "{cancelled}", "--at-seq", "13"}},
    {"diff", {"diff", "{order}", "--from", "4", "--to", "8"}},
    // Anchoring and verifying.
    {"heads", {"heads"}},
    {"verify", {"verify"}},
    {"verify_run", {"verify", "{fork}"}},
    {"verify_against", {"verify", "--all", "--against", "{fixtures}/heads.json"}},
    {"refusals", {"refusals"}},
    // Archives.
    {"export_run", {"export", "{signal}", "--out", "{out}/signal.jsonl"}, "{out}/signal.jsonl"},
    {"export_all", {"export", "--all", "--out", "{out}/all.jsonl"}, "{out}/all.jsonl"},
    // Replaying through a workflow file.
    {"replay_check", {"replay-check", "{order}", "--workflow", "{fixtures}/order.json"}},
    {"replay_check_signal", {"replay-check", "{signal}", "--workflow", "{fixtures}/signal.json"}},
    {"replay_check_diverges", {"replay-check", "{order}", "--workflow", "{fixtures}/order_v2.json"}},
    // Errors: what is wrong, and the exit status of its code.
    {"error_unknown_run", {"events", "0123456789abcdef0123456789abcdef"}},
    {"error_not_a_run_id", {"timeline", "order-42"}},
    {"error_past_the_end", {"state", "{order}", "--at-seq", "99"}},
    {"error_unknown_step", {"state", "{order}", "--at-step", "refund"}},
    {"error_not_heads", {"verify", "--against", "{fixtures}/order.json"}},
    {"error_other_workflow", {"replay-check", "{signal}", "--workflow", "{fixtures}/order.json"}},
    {"error_no_workflow_file", {"replay-check", "{order}", "--workflow", "{fixtures}/missing.json"}},
};

INSTANTIATE_TEST_SUITE_P(Commands, InspectGoldenTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& param) { return param.param.name; });

}  // namespace
}  // namespace rwd::test
