// RewindCli: the built `rewind` binary run on one journal directory, as the
// end-to-end tests of the CLI run it: each command with `--data DIR`, its
// output kept in a scratch directory, and its one JSON object with --json.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/child_process.h"

namespace rwd::test {

class RewindCli {
 public:
  RewindCli(std::string binary, std::string data, std::string scratch)
      : binary_(std::move(binary)), data_(std::move(data)), scratch_(std::move(scratch)) {}

  // Runs `rewind ARGS --data DIR` to its end.
  ProgramOutput Run(std::vector<std::string> args) const {
    args.insert(args.end(), {"--data", data_});
    ProgramOutput o = RunProgram(binary_, args, scratch_);
    EXPECT_NE(o.exit_code, -1) << "cannot start " << binary_ << " or it crashed";
    return o;
  }

  // `rewind ARGS --json`, expecting exit status `want`; its one JSON object.
  nlohmann::json Json(std::vector<std::string> args, int want = 0) const {
    args.push_back("--json");
    const ProgramOutput o = Run(std::move(args));
    EXPECT_EQ(o.exit_code, want) << "stdout: " << o.out << "\nstderr: " << o.err;
    nlohmann::json j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not one JSON object: " << o.out;
    return j;
  }

 private:
  std::string binary_, data_, scratch_;
};

// The port `rewind serve --json --listen HOST:0` prints in its first line
// ({"listening": "HOST:PORT"}), read within 30 s; 0 when it prints none.
inline std::uint16_t ListeningPort(ChildProcess& serve) {
  std::vector<std::string> lines;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && serve.ReadLines(100, &lines)) {
    for (const std::string& line : lines) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("listening") || !j["listening"].is_string()) continue;
      const std::string address = j["listening"];
      return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
    }
    lines.clear();
  }
  return 0;
}

}  // namespace rwd::test
