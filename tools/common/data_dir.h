// Where the tools find the journal unless --data says otherwise.
#pragma once

#include <cstdlib>
#include <string>

namespace rwd::cli {

inline constexpr const char* kDataDirHelp = "journal directory (default $REWIND_DATA or ./rewind-data)";

// $REWIND_DATA when set and not empty, else ./rewind-data.
inline std::string DefaultDataDir() {
  const char* env = std::getenv("REWIND_DATA");
  return env != nullptr && *env != '\0' ? env : "./rewind-data";
}

}  // namespace rwd::cli
