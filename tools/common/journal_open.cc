#include "tools/common/journal_open.h"

#include <filesystem>
#include <system_error>

namespace rwd::cli {

Result<std::unique_ptr<Journal>> OpenReadOnly(const std::string& dir) {
  const std::filesystem::path data = std::filesystem::path(dir) / "data.mdb";
  std::error_code ec;
  if (std::filesystem::is_regular_file(data, ec) && std::filesystem::file_size(data, ec) == 0 && !ec) {
    return Err(Code::kCorruption, "'" + data.string() + "' is empty: the journal was cut to nothing (or a copy "
                                  "of it failed); restore it from a copy, or remove it to start a new journal");
  }
  JournalOptions o;
  o.directory = dir;
  o.read_only = true;
  return Journal::Open(o);
}

Status CheckBeforeWriting(const std::string& dir, bool may_create) {
  std::error_code ec;
  if (may_create && !std::filesystem::exists(std::filesystem::path(dir) / "data.mdb", ec) && !ec) {
    return Status::Ok();
  }
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal, OpenReadOnly(dir));
  // The structure first: reading the events through damage there could
  // crash the process.
  Status verified;
  if (auto structure = journal->CheckStructure(); !structure.has_value()) {
    verified = structure.error();
  } else if (auto all = journal->VerifyAll(); !all.has_value()) {
    verified = all.error();
  }
  if (!verified.ok()) {
    const Status& s = verified;
    return Status(s.code(), "refusing to write into journal '" + dir + "': " + s.message() +
                                " (`journal-inspect verify --data '" + dir + "'` lists every problem)");
  }
  return Status::Ok();
}

Status NameJournal(const Status& s, const std::string& dir) {
  if (s.code() != Code::kCorruption || s.message().find("'" + dir) != std::string::npos) return s;
  return s.WithContext("journal '" + dir + "'");
}

}  // namespace rwd::cli
