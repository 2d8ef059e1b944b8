#include "rewind/executor/shell_step.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using namespace std::chrono_literals;

std::string Str(const Result<Bytes>& r) { return r.has_value() ? std::string(AsChars(*r)) : r.error().ToString(); }

class ShellStepTest : public ::testing::Test {
 protected:
  ShellStepTest() {
    step_.id = "build";
    run_ = RunId::New();
  }
  StepContext Context(std::stop_token stop = {}) {
    StepContext c;
    c.run = run_;
    c.step = &step_;
    c.index = 2;
    c.epoch = 1;
    c.attempt = 3;
    c.idempotency_key = run_.ToString() + "/build/1";
    c.input = input_;
    c.dependencies = &dependencies_;
    c.resume_data = resume_data_;
    c.stop = std::move(stop);
    return c;
  }
  Result<Bytes> Run(ShellCommand command, std::stop_token stop = {}) {
    return ShellStep(std::move(command))(Context(std::move(stop)));
  }
  Result<Bytes> Script(std::string script) { return Run(ShellCommand::Script(std::move(script))); }

  // Runs `script` on another thread until it has written a line to the FIFO
  // $FIFO, then requests a stop; returns the result and how long it took.
  std::pair<Result<Bytes>, std::chrono::milliseconds> StopOnceStarted(const std::string& script) {
    const std::string fifo = dir_.Sub("fifo");
    EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::stop_source stop;
    auto result = std::async(std::launch::async, [&] {
      return Run(ShellCommand::Script(script, {{"FIFO", fifo}}), stop.get_token());
    });
    const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 10'000), 1) << "the command never started";
    ::close(fd);
    const auto asked = std::chrono::steady_clock::now();
    stop.request_stop();
    Result<Bytes> r = result.get();
    return {std::move(r),
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked)};
  }

  TempDir dir_;
  RunId run_;
  StepDef step_;
  Bytes input_ = ToBytes("the input");
  Bytes resume_data_;
  std::map<std::string, Bytes> dependencies_;
};

TEST_F(ShellStepTest, StdoutIsTheOutputVerbatim) {
  EXPECT_EQ(Str(Script("printf 'hello\\nworld\\n'")), "hello\nworld\n");
}

TEST_F(ShellStepTest, ArgvCommandsRunWithoutAShell) {
  EXPECT_EQ(Str(Run(ShellCommand{{"printf", "%s|%s", "a b", "$HOME"}, {}})), "a b|$HOME");
}

TEST_F(ShellStepTest, TheAttemptIsDescribedInTheEnvironment) {
  const auto out = Script(
      "printf '%s|%s|%s|%s|%s|%s' \"$REWIND_RUN_ID\" \"$REWIND_STEP\" \"$REWIND_STEP_INDEX\" "
      "\"$REWIND_ATTEMPT\" \"$REWIND_EPOCH\" \"$REWIND_IDEMPOTENCY_KEY\"");
  EXPECT_EQ(Str(out), run_.ToString() + "|build|2|3|1|" + run_.ToString() + "/build/1");
}

TEST_F(ShellStepTest, TheInputIsInAVariableAndAFile) {
  EXPECT_EQ(Str(Script("printf '%s|' \"$REWIND_INPUT\"; cat \"$REWIND_INPUT_FILE\"")), "the input|the input");
}

TEST_F(ShellStepTest, AnInputOver64KiBIsOnlyInItsFile) {
  input_ = Bytes(kMaxEnvValueBytes + 1, 'x');
  const auto out = Script("printf '%s|' \"${REWIND_INPUT-unset}\"; wc -c < \"$REWIND_INPUT_FILE\" | tr -d ' \\n'");
  EXPECT_EQ(Str(out), "unset|" + std::to_string(kMaxEnvValueBytes + 1));
}

TEST_F(ShellStepTest, DependencyOutputsAreVisibleAsVariablesAndFiles) {
  dependencies_ = {{"charge-eu", ToBytes("paid")}, {"reserve", ToBytes("R-1")}};
  const auto out = Script(
      "printf '%s %s %s' \"$REWIND_OUTPUT_CHARGE_EU\" \"$REWIND_OUTPUT_RESERVE\" "
      "\"$(cat \"$REWIND_OUTPUT_RESERVE_FILE\")\"");
  EXPECT_EQ(Str(out), "paid R-1 R-1");
}

TEST_F(ShellStepTest, OutputsWithNulBytesAreOnlyInTheirFiles) {
  dependencies_ = {{"bin", Bytes{'a', 0, 'b'}}};
  const auto out =
      Script("printf '%s|' \"${REWIND_OUTPUT_BIN-unset}\"; wc -c < \"$REWIND_OUTPUT_BIN_FILE\" | tr -d ' '");
  EXPECT_EQ(Str(out), "unset|3\n");
}

TEST_F(ShellStepTest, DependenciesWithTheSameVariableNameAreRefused) {
  dependencies_ = {{"a-b", ToBytes("1")}, {"a_b", ToBytes("2")}};
  EXPECT_THAT(Script("true"), HasCode(Code::kInvalidArgument));
}

TEST_F(ShellStepTest, TheStepEnvironmentExtendsTheEngines) {
  ASSERT_EQ(::setenv("SHELL_STEP_TEST_INHERITED", "inherited", 1), 0);
  const auto out = Run(ShellCommand::Script("printf '%s %s' \"$SHELL_STEP_TEST_INHERITED\" \"$GREETING\"",
                                            {{"GREETING", "hi"}}));
  EXPECT_EQ(Str(out), "inherited hi");
}

TEST_F(ShellStepTest, ResumeDataIsPassedOnlyWhenThereIsSome) {
  EXPECT_EQ(Str(Script("printf '%s' \"${REWIND_RESUME_DATA-unset}\"")), "unset");
  resume_data_ = ToBytes("retry with a new card");
  EXPECT_EQ(Str(Script("printf '%s' \"${REWIND_RESUME_DATA-unset}\"")), "retry with a new card");
}

TEST_F(ShellStepTest, TheAttemptsFilesAreRemovedAfterwards) {
  const auto out = Script("dirname \"$REWIND_INPUT_FILE\" | tr -d '\\n'");
  ASSERT_THAT(out, IsOk());
  ASSERT_FALSE(out->empty());
  EXPECT_FALSE(std::filesystem::exists(std::string(AsChars(*out))));
}

TEST_F(ShellStepTest, StdinIsEmpty) { EXPECT_EQ(Str(Script("cat")), ""); }

TEST_F(ShellStepTest, DescriptorsOfTheEngineDoNotLeakIntoTheCommand) {
  const int fd = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  ASSERT_GE(fd, 0);
  const auto out = Script("test -e /dev/fd/" + std::to_string(fd) + " && echo open || echo closed");
  ::close(fd);
  EXPECT_EQ(Str(out), "closed\n");
}

TEST_F(ShellStepTest, ArgvCommandsAreLookedUpInTheStepsPath) {
  const std::string program = dir_.Sub("hello");
  std::ofstream(program) << "#!/bin/sh\necho hello from PATH\n";
  ASSERT_EQ(::chmod(program.c_str(), 0755), 0);
  EXPECT_EQ(Str(Run(ShellCommand{{"hello"}, {{"PATH", dir_.path() + ":/usr/bin:/bin"}}})), "hello from PATH\n");
}

TEST_F(ShellStepTest, NonZeroExitIsRetryableWithTheStderrInTheMessage) {
  const auto out = Script("echo starting >&2; echo 'card declined' >&2; exit 3");
  ASSERT_THAT(out, HasCode(Code::kUnavailable));
  EXPECT_FALSE(IsPermanentFailure(out.error().code()));
  EXPECT_EQ(out.error().message(), "exit status 3: starting\ncard declined");
}

TEST_F(ShellStepTest, TheStderrTailIsTheLastTwentyLines) {
  const auto out = Script("i=1; while [ $i -le 100 ]; do echo \"line $i\" >&2; i=$((i+1)); done; exit 1");
  ASSERT_THAT(out, HasCode(Code::kUnavailable));
  std::string expected = "exit status 1: line 81";
  for (int i = 82; i <= 100; ++i) expected += "\nline " + std::to_string(i);
  EXPECT_EQ(out.error().message(), expected);
}

TEST_F(ShellStepTest, TheStderrTailIsAtMostTwoKiB) {
  const auto out = Script("head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1");
  ASSERT_THAT(out, HasCode(Code::kUnavailable));
  EXPECT_EQ(out.error().message(), "exit status 1: " + std::string(2048, 'x'));
}

TEST_F(ShellStepTest, ACommandKilledByASignalIsRetryableAndTheSignalNamed) {
  const auto out = Script("kill -KILL $$");
  ASSERT_THAT(out, HasCode(Code::kUnavailable));
  EXPECT_EQ(out.error().message(), "killed by SIGKILL (9)");
}

TEST_F(ShellStepTest, OneMiBOfOutputIsAccepted) {
  const auto out = Script("head -c 1048576 /dev/zero");
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->size(), kMaxStepOutputBytes);
}

TEST_F(ShellStepTest, OutputOverOneMiBIsRefusedPermanently) {
  const auto out = Script("yes");  // never stops by itself
  ASSERT_THAT(out, HasCode(Code::kInvalidArgument));
  EXPECT_TRUE(IsPermanentFailure(out.error().code()));
  EXPECT_EQ(out.error().message(), "step output exceeds 1 MiB");
}

TEST_F(ShellStepTest, StdoutAndStderrAreReadTogetherSoNeitherBlocksTheCommand) {
  const auto out = Script("head -c 300000 /dev/zero >&2; head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2");
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->size(), 300000u);
}

TEST_F(ShellStepTest, AStopRequestKillsTheCommandWithinASecond) {
  const auto [out, took] = StopOnceStarted("echo started > \"$FIFO\"; sleep 30");
  EXPECT_THAT(out, HasCode(Code::kUnavailable));
  EXPECT_LT(took, 1s);
}

TEST_F(ShellStepTest, AStopRequestKillsEverythingTheCommandStarted) {
  const std::string pid_file = dir_.Sub("pid");
  const auto [out, took] = StopOnceStarted("sleep 30 & echo $! > " + pid_file + "; echo started > \"$FIFO\"; wait");
  EXPECT_THAT(out, HasCode(Code::kUnavailable));
  std::string pid;
  std::ifstream(pid_file) >> pid;
  ASSERT_FALSE(pid.empty());
  // Gone, or a zombie waiting for whoever adopted it.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string state;
  do {
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string line;
    std::getline(stat, line);
    state = line.empty() ? "gone" : line.substr(line.rfind(')') + 2, 1);
  } while (state != "gone" && state != "Z" && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(state == "gone" || state == "Z") << "sleep is in state " << state;
}

TEST_F(ShellStepTest, ACommandIgnoringSigtermIsKilledAfterTheGracePeriod) {
  const auto [out, took] = StopOnceStarted("trap '' TERM; echo started > \"$FIFO\"; sleep 30");
  ASSERT_THAT(out, HasCode(Code::kUnavailable));
  EXPECT_NE(out.error().message().find("SIGKILL"), std::string::npos) << out.error().message();
  EXPECT_GE(took, kStopGrace);
  EXPECT_LT(took, kStopGrace + 1s);
}

TEST_F(ShellStepTest, AStopRequestedBeforeTheAttemptStartsNothing) {
  std::stop_source stop;
  stop.request_stop();
  const std::string marker = dir_.Sub("marker");
  EXPECT_THAT(Run(ShellCommand::Script("touch " + marker), stop.get_token()), HasCode(Code::kUnavailable));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(ShellStepTest, AMissingProgramIsAPermanentFailure) {
  const auto out = Run(ShellCommand{{"rewind-no-such-program"}, {}});
  ASSERT_THAT(out, HasCode(Code::kFailedPrecondition));
  EXPECT_TRUE(IsPermanentFailure(out.error().code()));
  EXPECT_NE(out.error().message().find("'rewind-no-such-program' not found"), std::string::npos);
}

TEST_F(ShellStepTest, AMissingCommandInAScriptIsAPermanentFailure) {
  const auto out = Script("rewind-no-such-program --flag");
  ASSERT_THAT(out, HasCode(Code::kFailedPrecondition));
  EXPECT_NE(out.error().message().find("command not found (exit status 127)"), std::string::npos);
}

TEST_F(ShellStepTest, ANonExecutableFileIsAPermanentFailure) {
  const std::string program = dir_.Sub("not-executable");
  std::ofstream(program) << "#!/bin/sh\n";
  ASSERT_EQ(::chmod(program.c_str(), 0644), 0);
  EXPECT_THAT(Run(ShellCommand{{program}, {}}), HasCode(Code::kFailedPrecondition));
}

TEST_F(ShellStepTest, ScriptsAreRecognizedAsScripts) {
  EXPECT_TRUE(ShellCommand::Script("true").IsScript());
  EXPECT_FALSE((ShellCommand{{"true"}, {}}).IsScript());
}

RC_GTEST_PROP(OutputVariableStem, IsMadeOfUpperCaseLettersDigitsAndUnderscoresOnly, (const std::string& id)) {
  const std::string stem = OutputVariableStem(id);
  RC_ASSERT(stem.size() == id.size());
  for (char c : stem) RC_ASSERT(((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'));
  RC_ASSERT(OutputVariableStem(stem) == stem);
}

// A process that leaves the attempt's group (setsid, as a daemon would) is
// killed with the attempt all the same: the warden is its subreaper.
TEST_F(ShellStepTest, AProcessThatLeavesTheGroupEndsWithTheAttempt) {
  const std::string pid_file = dir_.Sub("escaped.pid");
  EXPECT_THAT(Run(ShellCommand::Script("setsid sh -c 'echo $$ > \"$PIDS\"; exec sleep 30' & "
                                       "while [ ! -s \"$PIDS\" ]; do sleep 0.01; done; echo started",
                                       {{"PIDS", pid_file}})),
              IsOk());
  pid_t escaped = 0;
  std::ifstream(pid_file) >> escaped;
  ASSERT_GT(escaped, 0);
  EXPECT_NE(::kill(escaped, 0), 0) << "process " << escaped << " outlived its attempt";
}

// The warden keeps the descriptor it is given open while the attempt runs,
// and the command does not inherit it.
TEST_F(ShellStepTest, TheWardenHoldsTheHoldDescriptorAndTheCommandDoesNot) {
  const std::string held = dir_.Sub("held");
  const int fd = ::open(held.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  StepContext c = Context();
  c.hold_fd = fd;
  const Result<Bytes> r = ShellStep(ShellCommand::Script(
      "for f in /proc/$PPID/fd/*; do echo \"warden $(readlink \"$f\")\"; done; "
      "for f in /proc/$$/fd/*; do echo \"command $(readlink \"$f\")\"; done"))(c);
  ::close(fd);
  ASSERT_THAT(r, IsOk());
  const std::string out(AsChars(*r));
  EXPECT_NE(out.find("warden " + held + "\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("command " + held + "\n"), std::string::npos) << out;
}

TEST(OutputVariableStem, UpperCasesAndReplacesTheRest) { EXPECT_EQ(OutputVariableStem("ship-eu.v2"), "SHIP_EU_V2"); }

}  // namespace
}  // namespace rwd::test
