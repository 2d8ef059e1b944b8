// JSON the tools print: one object per line.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "rewind/base/status.h"

namespace rwd::cli {

// `j` on one line; bytes that are not UTF-8 are replaced, never an exception.
std::string Dump(const nlohmann::json& j);

// {"error": {"code": ..., "message": ...}, "exit_code": N}
std::string ErrorJson(std::string_view code, const std::string& message, int exit_code);
std::string ErrorJson(const Status& status, int exit_code);

}  // namespace rwd::cli
