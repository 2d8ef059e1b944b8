// The command-line flags every bench program shares (CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "rewind/journal/journal.h"

namespace rwd::bench {

// --dir (where the scratch journals go) and --json (the rows for the report).
inline void AddOutputFlags(CLI::App& app, std::string& dir, std::string& json) {
  app.add_option("--dir", dir,
                 "Parent of the scratch directories (on the filesystem to measure); created and removed when missing")
      ->capture_default_str();
  app.add_option("--json", json, "Also write the figures as JSON rows to this file (one object per line)");
}

// --durability durable|nosync.
inline void AddDurabilityFlag(CLI::App& app, Durability& durability, const std::string& help) {
  const std::map<std::string, Durability> durabilities{{"durable", Durability::kDurable},
                                                       {"nosync", Durability::kNoSync}};
  app.add_option("--durability", durability, help)->transform(CLI::CheckedTransformer(durabilities));
}

}  // namespace rwd::bench
