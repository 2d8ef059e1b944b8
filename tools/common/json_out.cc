#include "tools/common/json_out.h"

namespace rwd::cli {

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string ErrorJson(std::string_view code, const std::string& message, int exit_code) {
  return Dump({{"error", {{"code", std::string(code)}, {"message", message}}}, {"exit_code", exit_code}});
}

std::string ErrorJson(const Status& status, int exit_code) {
  return ErrorJson(CodeName(status.code()), status.message(), exit_code);
}

}  // namespace rwd::cli
