#include "tools/inspect/reading.h"

#include <iostream>

#include "rewind/inspect/event_json.h"
#include "tools/common/exit_codes.h"
#include "tools/common/journal_open.h"
#include "tools/common/json_out.h"
#include "tools/common/text.h"

namespace rwd::inspect_cli {

using nlohmann::json;

int Fail(const Context& c, const Status& error) {
  const Status s = cli::NameJournal(error, c.data_dir);
  const int code = cli::ExitCodeFor(s.code());
  if (c.json) {
    std::cout << cli::ErrorJson(s, code) << std::endl;
  } else {
    std::cerr << "journal-inspect: " << cli::Printable(s.ToString()) << std::endl;
  }
  return code;
}

Result<std::unique_ptr<Journal>> Open(const Context& c) { return cli::OpenReadOnly(c.data_dir); }

std::string Who(const std::optional<Actor>& actor) {
  if (!actor) return "-";
  return actor->tenant.empty() ? actor->subject : actor->subject + "@" + actor->tenant;
}

Result<std::optional<RunId>> OptionalRun(const std::string& text) {
  if (text.empty()) return std::optional<RunId>();
  REWIND_ASSIGN_OR_RETURN(RunId run, RunId::Parse(text));
  return std::optional<RunId>(run);
}

}  // namespace rwd::inspect_cli
