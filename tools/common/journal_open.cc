#include "tools/common/journal_open.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace rwd::cli {

Status CheckJournalDir(const std::string& dir, bool may_create) {
  const std::string data = dir + "/data.mdb";
  struct ::stat st;
  if (::stat(data.c_str(), &st) != 0) {
    const int err = errno;
    if (err == EACCES) {
      return Status(Code::kPermissionDenied, "cannot open journal '" + dir + "': " + std::strerror(err));
    }
    if (err == ENOENT && may_create) {
      // The directory, or a parent, may be missing: the writer creates it.
      return Status::Ok();
    }
    if (err == ENOENT || err == ENOTDIR) return Status(Code::kNotFound, "no Rewind journal at '" + dir + "'");
    return Status(Code::kUnavailable, "cannot open journal '" + dir + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kFailedPrecondition, "'" + data + "' is not a file: '" + dir + "' holds no Rewind journal");
  }
  if (st.st_size == 0) {
    return Status(Code::kCorruption, "'" + data + "' is empty: the journal was cut to nothing (or a copy "
                                     "of it failed); restore it from a copy, or remove it to start a new journal");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Journal>> OpenReadOnly(const std::string& dir) {
  REWIND_RETURN_IF_ERROR(CheckJournalDir(dir, /*may_create=*/false));
  JournalOptions o;
  o.directory = dir;
  o.read_only = true;
  return Journal::Open(o);
}

Status RefusingToWrite(const Status& s, const std::string& dir) {
  if (s.code() != Code::kCorruption && s.code() != Code::kFailedPrecondition) return s;
  return Status(s.code(), "refusing to write into journal '" + dir + "': " + s.message() +
                              " (`journal-inspect verify --data '" + dir + "'` lists every problem)");
}

Status NameJournal(const Status& s, const std::string& dir) {
  if (s.code() != Code::kCorruption || s.message().find("'" + dir) != std::string::npos) return s;
  return s.WithContext("journal '" + dir + "'");
}

}  // namespace rwd::cli
