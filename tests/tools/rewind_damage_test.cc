// rewind on damaged copies of the committed fixture journal
// (tests/tools/fixtures; the damage is tests/support/damage.h's): bits
// flipped at random offsets of data.mdb, the file cut short, and the fixed
// cases (a format version this build does not know, a missing or garbage lock
// file, an empty data file, a directory that holds no journal), and damage
// that crashes LMDB.
//
// On each damaged journal, rewind's read commands (status, state, runs, stats,
// audit, projections status) and journal-inspect's (verify, runs, heads), and
// on fresh copies of it rewind's write commands (resume then approve, run
// then cancel, serve), each within a time limit. Every answer has a
// documented exit status and one JSON object (serve: text); an error names
// what is wrong, and damage (corruption, a crash: exit 21) names the journal
// directory. An answer with exit 0 equals the undamaged journal's, unless it
// names the damage itself (a projection not current, a run that does not
// fold), or shows values no checksum covers (a projection's) and `journal-
// inspect verify --all` reports the damage. Reads never change the data file.
// A write command refuses a journal whose structure verify finds damaged, or
// whose run it acts on, leaving it as it was (it checks what it touches, not
// every event); where it writes, verify afterwards finds nothing it did not
// find before (damage to what LMDB keeps for itself, a
// page's own number say, which a write would trust, is refused by the
// writer's structure check).
//
// REWIND_DAMAGE_ROUNDS (default 6) and REWIND_DAMAGE_SEED (default: a fresh
// seed, printed) choose the random damage; a failure prints the seed.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/damage.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;

constexpr const char* kFixtures = REWIND_INSPECT_FIXTURES;
constexpr int kSeconds = 60;  // any one command's time limit

// Exit statuses rewind documents: 0 done, 1 a followed run failed, 3 a
// followed run waits, 10..18 an error of that code, 21 reading the journal
// crashed the process. journal-inspect: 0, 10..18, 20 problems found, 21.
bool RewindDocumented(int s) { return s == 0 || s == 1 || s == 3 || (s >= 10 && s <= 18) || s == 21; }
bool InspectDocumented(int s) { return s == 0 || (s >= 10 && s <= 18) || s == 20 || s == 21; }

// What `journal-inspect verify --all --against` the fixture's heads says.
struct Report {
  int status = -1;
  std::set<std::string> problems;  // "check run seq message"
  // The events are sound: nothing found but projections that differ from a
  // rebuild (derived data, which `rewind projections rebuild` repairs).
  bool events_sound = false;
  // LMDB's own structure is sound: a writer opens the journal.
  bool structure_sound = false;
  // The runs whose own events verify finds damaged (checksums, chain links,
  // index entries): the runs a writer refuses to extend.
  std::set<std::string> damaged_runs;
};

struct Answer {
  int status = -1;
  std::string out, message;  // message: the error's (JSON) or stderr (serve)
};

// Answers that name damage themselves: a projection not current (a damaged
// table can look missing), a run whose events do not fold.
bool NamesUnhealthyProjection(const json& answer) {
  for (const json& p : answer.value("projections", json::array())) {
    if (p.value("health", "") != "current") return true;
  }
  return false;
}
bool NamesDamagedRun(const json& answer) {
  for (const json& r : answer.value("runs", json::array())) {
    if (!r["damage"].is_null()) return true;
  }
  return false;
}

struct Tallies {
  int journals = 0;
  std::map<int, int> rewind, inspect;  // exit status -> answers
  int changed_but_reported = 0;        // exit 0, another answer than the fixture's; damage named or verified
  int writes_on_damaged = 0;           // write commands that wrote where verify had found damage
};

class RewindDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LetCrashSignalsThrough();
    pristine_ = ReadFile(std::string(kFixtures) + "/journal/data.mdb");
    ASSERT_GT(pristine_.size(), 8192u);
    const json runs = json::parse(ReadFile(std::string(kFixtures) + "/runs.json"));
    for (const auto& [name, run] : runs.items()) runs_.push_back(run);
    order_ = runs["order"];
    cancelled_ = runs["cancelled"];
    // rewind's queries over the projections show their values as stored.
    // journal-inspect heads comes last: Verify compares with its answer.
    reads_ = {{true, {"status"}, false},
              {true, {"status", order_}, false},
              {true, {"state", order_, "--at-seq", "5"}, false},
              {true, {"runs"}, true},
              {true, {"stats"}, true},
              {true, {"audit"}, true},
              {true, {"projections", "status"}, true, NamesUnhealthyProjection},
              {false, {"runs"}, true, NamesDamagedRun},
              {false, {"heads"}, false}};
    Lay(DamagedJournal{"none", pristine_}, data_);
    for (const Read& read : reads_) {
      const Answer a = Run(read);
      fixture_.push_back(a.out);
      fixture_status_.push_back(a.status);
    }
    tallies_ = Tallies();  // the figures are of damaged journals only
  }

  struct Read {
    bool rewind;  // else journal-inspect
    std::vector<std::string> command;
    // Exit 0 may come with another answer than the fixture's when verify
    // finds damage, or the answer names it (names_damage): the answer shows
    // values no checksum covers (a projection's), or reports damage.
    bool may_differ;
    bool (*names_damage)(const json&) = nullptr;
  };

  Answer Run(const Read& read) { return read.rewind ? Rewind(read.command) : Inspect(read.command); }

  // `rewind ARGS --json --data DIR`: a documented status and one JSON object;
  // an error with a message, naming the journal when it reports damage.
  Answer Rewind(std::vector<std::string> args) {
    args.insert(args.end(), {"--json", "--data", data_});
    return Checked(RunTool(REWIND_CLI, args, scratch_.path(), kSeconds), args[0], tallies_.rewind, RewindDocumented);
  }

  Answer Inspect(std::vector<std::string> args) {
    args.insert(args.end(), {"--json", "--data", data_});
    return Checked(RunTool(JOURNAL_INSPECT, args, scratch_.path(), kSeconds), args[0], tallies_.inspect,
                   InspectDocumented);
  }

  Answer Checked(const ToolRun& o, const std::string& command, std::map<int, int>& tally, bool (*documented)(int)) {
    ++tally[o.status];
    EXPECT_TRUE(documented(o.status)) << command << " exited " << o.status << "\nstdout: " << o.out
                                      << "\nstderr: " << o.err;
    const json body = json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(body.is_object()) << command << ": not one JSON object: " << o.out << "\nstderr: " << o.err;
    Answer a{o.status, o.out, ""};
    // An error answer: {"error": {"code", "message"}, "exit_code"} (a run object's "error" is another).
    if (body.is_object() && body.contains("exit_code") && body["error"].is_object()) {
      a.message = body["error"].value("message", "");
    }
    if (o.status >= 10 && o.status != 20) CheckError(command, a);
    return a;
  }

  void CheckError(const std::string& command, const Answer& a) {
    EXPECT_FALSE(a.message.empty()) << command << " exited " << a.status << " without a message: " << a.out;
    if (a.status == 15 || a.status == 21) {
      EXPECT_NE(a.message.find(data_), std::string::npos) << command << ": damage not named with the journal: "
                                                          << a.message;
    }
  }

  // `rewind serve`, stopped with SIGTERM once it serves (as Ctrl-C would).
  Answer Serve() {
    const std::string err = scratch_.Sub("serve.err");
    ChildProcess serve("/bin/sh", {"-c", "exec \"$0\" serve --data \"$1\" 2>\"$2\"", REWIND_CLI, data_, err});
    std::vector<std::string> lines;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kSeconds);
    bool serving = false, open = true;
    while (!serving && open && std::chrono::steady_clock::now() < deadline) {
      open = serve.ReadLines(100, &lines);
      for (const std::string& line : lines) serving = serving || line.starts_with("serving journal");
    }
    if (!serving && open) {
      serve.KillAndDrain(&lines);
      ADD_FAILURE() << "serve neither served nor ended within " << kSeconds << " s";
      return Answer{};
    }
    if (serving) serve.Signal(SIGTERM);
    const int wait = serve.Wait();
    Answer a{WIFEXITED(wait) ? WEXITSTATUS(wait) : 128 + WTERMSIG(wait), "", ReadFile(err)};
    ++tallies_.rewind[a.status];
    EXPECT_TRUE(RewindDocumented(a.status)) << "serve exited " << a.status << ": " << a.message;
    if (a.status != 0) CheckError("serve", a);
    return a;
  }

  Report Verify() {
    const Answer a = Inspect({"verify", "--all", "--against", std::string(kFixtures) + "/heads.json"});
    Report r{a.status, {}, a.status == 0, a.status == 0, {}};
    const json body = json::parse(a.out, nullptr, /*allow_exceptions=*/false);
    if (a.status == 20 && body.is_object()) {
      r.events_sound = r.structure_sound = true;
      for (const json& p : body["problems"]) {
        const std::string check = p.value("check", "");
        r.problems.insert(check + " " + p["run_id"].dump() + " " + p["seq"].dump() + " " + p.value("message", ""));
        r.events_sound = r.events_sound && check == "projections";
        r.structure_sound = r.structure_sound && check != "structure";
        // Saved heads are outside the journal: no writer can know a run was cut short.
        if (p["run_id"].is_string() && check != "projections" && check != "heads") {
          r.damaged_runs.insert(p["run_id"].get<std::string>());
        }
      }
    }
    // A crash may come from the projections, which verify compares last:
    // then every run verifies alone, and the heads are the fixture's.
    if (a.status == 21) {
      r.events_sound = Inspect({"heads"}).out == fixture_.back();
      for (const std::string& run : runs_) {
        const bool sound = Inspect({"verify", run}).status == 0;
        r.events_sound = r.events_sound && sound;
        if (!sound) r.damaged_runs.insert(run);
      }
      r.structure_sound = r.events_sound;  // reading crashed: a writer may meet the same damage
    }
    return r;
  }

  // Every command on `damage`, checked as the file comment says.
  void Try(const DamagedJournal& damage) {
    SCOPED_TRACE(damage.what);
    ++tallies_.journals;
    Lay(damage, data_);
    const Report before = Verify();
    if (damage.expected_status >= 0) {
      EXPECT_EQ(before.status, damage.expected_status);
    }
    const std::string data_file = data_ + "/data.mdb";
    auto unchanged = [&] { return ReadFile(data_file) == damage.data.value_or(""); };

    for (std::size_t i = 0; i < reads_.size(); ++i) {
      SCOPED_TRACE((reads_[i].rewind ? "rewind " : "journal-inspect ") + reads_[i].command[0]);
      const Answer a = Run(reads_[i]);
      Expect(damage, a, fixture_status_[i]);
      EXPECT_TRUE(unchanged()) << "a read changed the data file";
      if (a.status != 0 || a.out == fixture_[i]) continue;
      const json answer = json::parse(a.out, nullptr, /*allow_exceptions=*/false);
      const bool named = reads_[i].names_damage != nullptr && reads_[i].names_damage(answer);
      EXPECT_TRUE(reads_[i].may_differ && (before.status != 0 || named))
          << "exit 0 with another answer than the fixture's:\n" << a.out << "\nverify exited " << before.status;
      ++tallies_.changed_but_reported;
    }

    const std::vector<std::vector<std::string>> resume_approve = {
        {"resume", cancelled_, "--from-step", "approve"}, {"approve", cancelled_, "approve"}};
    Write(damage, before, resume_approve, {3, 0});
    const std::vector<std::vector<std::string>> run_cancel = {
        {"run", std::string(kFixtures) + "/signal.json"}, {"cancel", "<the run started>"}};
    Write(damage, before, run_cancel, {3, 0});
    Write(damage, before, {{"serve"}}, {0});
  }

  // `commands` in turn on a fresh copy of `damage` (statuses `fixture` on the
  // undamaged journal).
  void Write(const DamagedJournal& damage, const Report& before, const std::vector<std::vector<std::string>>& commands,
             const std::vector<int>& fixture) {
    Lay(damage, data_);
    const std::string data_file = data_ + "/data.mdb";
    bool wrote = false, grew = false;
    std::string started = order_;  // the run `run` started, once it did
    for (std::size_t i = 0; i < commands.size(); ++i) {
      std::vector<std::string> command = commands[i];
      SCOPED_TRACE("rewind " + command[0]);
      if (command[0] == "cancel") command[1] = started;
      const std::string bytes = ReadFile(data_file);
      const Answer a = command[0] == "serve" ? Serve() : Rewind(command);
      if (command[0] == "run" && a.status == 3) started = json::parse(a.out)["run_id"];
      Expect(damage, a, fixture[i]);
      // A few writes add kilobytes; a damaged free list can make LMDB write
      // a page hundreds of GiB out (a sparse file), too much to read back.
      grew = std::filesystem::file_size(data_file) > (64u << 20);
      const bool changed = grew || ReadFile(data_file) != bytes;
      wrote = wrote || changed;
      // A writer checks what it touches: the structure, and the run it acts on.
      const std::string touched = command[0] == "run" || command[0] == "serve" ? "" : command[1];
      if (!before.structure_sound || before.damaged_runs.contains(touched)) {
        EXPECT_GE(a.status, 10) << "did not refuse a journal whose structure, or the run it acts on, is damaged";
        EXPECT_FALSE(changed) << "a refused write changed the data file";
      } else if (changed && before.status != 0) {
        ++tallies_.writes_on_damaged;
      }
      if (grew) break;
    }
    if (!wrote) return;
    const Report after = Verify();
    bool worse = grew || (after.status != 0 && after.status != before.status);
    for (const std::string& p : after.problems) worse = worse || !before.problems.contains(p);
    // Damage to what LMDB keeps for itself and never reads — a page's own
    // number, a database record's depth or counts, the free list — would be
    // trusted by a write (a freed page number puts the next write anywhere);
    // the writer's structure check refuses it (journal/src/structure.h).
    EXPECT_FALSE(worse) << "the write made the journal worse: verify exited " << before.status << ", then "
                        << after.status;
  }

  // What a fixed case expects of every answer (random damage: nothing more
  // than Checked's rules). `fixture`: the status on the undamaged journal.
  void Expect(const DamagedJournal& damage, const Answer& a, int fixture = 0) {
    if (damage.expected_status < 0) return;
    const int expected = damage.expected_status == 0 ? fixture : damage.expected_status;
    EXPECT_EQ(a.status, expected) << a.out << a.message;
    EXPECT_NE(a.message.find(damage.expected_message), std::string::npos) << a.message;
    if (damage.expected_status != 0) {
      EXPECT_NE(a.message.find(data_), std::string::npos) << "the error does not name the journal: " << a.message;
    }
  }

  void PrintTallies(const char* kind) {
    int rewind = 0, inspect = 0;
    for (const auto& [status, n] : tallies_.rewind) rewind += n;
    for (const auto& [status, n] : tallies_.inspect) inspect += n;
    std::cout << "damaged journals tried (" << kind << "): " << tallies_.journals << "; rewind: " << rewind
              << " commands, exits " << Tally(tallies_.rewind) << "; journal-inspect: " << inspect
              << " commands, exits " << Tally(tallies_.inspect) << "; exit 0 with another answer than the "
              << "fixture's (naming the damage, or verify reports it): " << tallies_.changed_but_reported
              << "; writes on a journal damaged elsewhere than they touch: " << tallies_.writes_on_damaged << std::endl;
  }

  TempDir scratch_, dir_;
  const std::string data_ = dir_.Sub("journal");
  std::string pristine_, order_, cancelled_;
  std::vector<std::string> runs_;  // the fixture's
  std::vector<Read> reads_;
  std::vector<std::string> fixture_;  // each read's answer on the undamaged journal
  // Each read's exit status there: `stats` is 12 (failed_precondition), as
  // the fixture's step statistics are of an older version, which only a
  // writer rebuilds.
  std::vector<int> fixture_status_;
  Tallies tallies_;
};

TEST_F(RewindDamageTest, FixedDamageIsNamedAndHarmlessDamageAnswersAsTheFixture) {
  for (const DamagedJournal& damage : FixedDamage(pristine_)) Try(damage);
  PrintTallies("fixed cases");
}

TEST_F(RewindDamageTest, RandomDamageIsReportedNeverCrashesHangsOrIsWrittenInto) {
  const DamageRounds plan = DamageRoundsFromEnv(6);
  SCOPED_TRACE("REWIND_DAMAGE_SEED=" + std::to_string(plan.seed));
  std::mt19937_64 rng(plan.seed);
  for (std::uint64_t round = 0; round < plan.rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const DamagedJournal damage = RandomDamage(pristine_, round, rng);
    if (round >= plan.first) Try(damage);
  }
  PrintTallies("random damage");
}

TEST_F(RewindDamageTest, ACrashInLmdbEndsWithExit21NamingTheJournalAndWritesRefuseIt) {
  const DamagedJournal damage = CrashingDamage(pristine_);
  Lay(damage, data_);
  using Command = std::vector<std::string>;
  for (const Command& command : {Command{"status"}, Command{"state", order_, "--at-seq", "5"}}) {
    SCOPED_TRACE(command[0]);
    const Answer a = Rewind(command);
    EXPECT_EQ(a.status, 21);
    EXPECT_NE(a.message.find("`journal-inspect verify --data '" + data_ + "'`"), std::string::npos) << a.message;
    EXPECT_EQ(ReadFile(data_ + "/data.mdb"), *damage.data);
  }
  // The commands that write check LMDB's structure before they read an
  // event, and refuse the journal instead of crashing on it.
  for (const Command& command : {Command{"resume", cancelled_, "--from-step", "approve"},
                                 Command{"run", std::string(kFixtures) + "/signal.json"}}) {
    SCOPED_TRACE(command[0]);
    const Answer a = Rewind(command);
    EXPECT_EQ(a.status, 15);
    EXPECT_NE(a.message.find("refusing to write into journal '" + data_ + "'"), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("LMDB's own structure"), std::string::npos) << a.message;
    EXPECT_EQ(ReadFile(data_ + "/data.mdb"), *damage.data);
  }
  EXPECT_EQ(Serve().status, 15);
  const ToolRun text = RunTool(REWIND_CLI, {"status", "--data", data_}, scratch_.path(), kSeconds);
  EXPECT_EQ(text.status, 21);
  EXPECT_NE(text.err.find("rewind: reading the journal in '" + data_ + "' crashed the process (signal 7"),
            std::string::npos) << text.err;
}

// A damaged page on a run's path in the run index can hide the run's last
// events from LMDB while every event and the chain still verify: a reader
// would show the run as it was steps ago, answering exit 0. Reads check the
// pages on that path and name the damage instead.
TEST_F(RewindDamageTest, ARunIndexPageHidingARunsLastEventsIsNamedNotReadAsAShorterRun) {
  const DamagedJournal damage = HiddenRunEntriesDamage(pristine_, order_);
  Lay(damage, data_);
  using Command = std::vector<std::string>;
  for (const Command& command : {Command{"status", order_}, Command{"state", order_, "--at-seq", "5"}}) {
    SCOPED_TRACE(command[0]);
    const Answer a = Rewind(command);
    EXPECT_EQ(a.status, damage.expected_status) << a.out;
    EXPECT_NE(a.message.find(damage.expected_message), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("database 'runs'"), std::string::npos) << a.message;
    EXPECT_EQ(ReadFile(data_ + "/data.mdb"), *damage.data);
  }
  EXPECT_EQ(Inspect({"verify"}).status, 20);
}

// A run's definition is stored once (a blob) and its first event names it:
// damage there is the run's damage. Reads name it; writes that act on the
// run refuse the journal and leave it as it was (no refusal recorded).
TEST_F(RewindDamageTest, ADamagedStoredDefinitionIsNamedAndWritesOnItsRunRefuseTheJournal) {
  Lay(DamagedJournal{"none", pristine_}, data_);
  const std::string file = scratch_.Sub("probe.json");
  WriteFile(file, R"({"name": "probe", "version": 1, "steps": [
    {"id": "prepare", "run": "printf '%s' the-output"},
    {"id": "wait", "kind": "signal", "signal": "go-live"}]})");
  const Answer started = Rewind({"run", file});
  ASSERT_EQ(started.status, 3) << started.out;  // waits for its signal
  const std::string run = json::parse(started.out)["run_id"];
  // The definition's bytes (a step's command, not its output) are in the
  // blob, and in what copy-on-write left of its page in free pages: all changed.
  std::string bytes = ReadFile(data_ + "/data.mdb");
  const std::string shell = "printf '%s' the-output";
  std::size_t copies = 0;
  for (std::size_t at = bytes.find(shell); at != std::string::npos; at = bytes.find(shell, at + 1), ++copies) {
    bytes[at] ^= 0x20;
  }
  ASSERT_GT(copies, 0u);
  Lay(DamagedJournal{"a flipped bit in the stored definition", bytes}, data_);

  const Answer verify = Inspect({"verify"});
  EXPECT_EQ(verify.status, 20);
  EXPECT_NE(verify.out.find("blob"), std::string::npos) << verify.out;
  const Answer status = Rewind({"status", run});
  EXPECT_EQ(status.status, 15);
  EXPECT_NE(status.message.find("blob"), std::string::npos) << status.message;
  using Command = std::vector<std::string>;
  for (const Command& command : {Command{"signal", run, "go-live"}, Command{"cancel", run},
                                 Command{"pause", run}, Command{"resume", run, "--from-step", "prepare"}}) {
    SCOPED_TRACE(command[0]);
    const Answer a = Rewind(command);
    EXPECT_EQ(a.status, 15);
    EXPECT_NE(a.message.find("refusing to write into journal '" + data_ + "'"), std::string::npos) << a.message;
    EXPECT_TRUE(ReadFile(data_ + "/data.mdb") == bytes) << "the refused command wrote";
  }
}

TEST_F(RewindDamageTest, CommandsOnARunCreateNoJournalWhereThereIsNone) {
  const std::string empty = dir_.Sub("empty");
  std::filesystem::create_directories(empty);
  using Command = std::vector<std::string>;
  for (Command command :
       {Command{"resume", order_}, Command{"approve", order_, "approve"}, Command{"cancel", order_}}) {
    command.insert(command.end(), {"--data", empty});
    const ToolRun o = RunTool(REWIND_CLI, command, scratch_.path(), kSeconds);
    EXPECT_EQ(o.status, 10) << o.err;
    EXPECT_TRUE(std::filesystem::is_empty(empty)) << command[0] << " created files";
  }
}

}  // namespace
}  // namespace rwd::test
