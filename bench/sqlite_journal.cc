#include "bench/sqlite_journal.h"

#include <sqlite3.h>

#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace rwd::bench {

namespace {

Status SqliteStatus(sqlite3* db, int rc, const std::string& what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  return Status(Code::kInternal, "sqlite journal: " + what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

}  // namespace

SqliteJournal::~SqliteJournal() {
  if (insert_ != nullptr) sqlite3_finalize(insert_);
  if (db_ != nullptr) sqlite3_close(db_);
}

Result<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(const std::filesystem::path& dir) {
  std::unique_ptr<SqliteJournal> j(new SqliteJournal());
  const std::string file = (dir / "journal.sqlite").string();
  REWIND_RETURN_IF_ERROR(SqliteStatus(nullptr, sqlite3_open(file.c_str(), &j->db_), "opening " + file));
  const char* setup =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE events (run INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,"
      " PRIMARY KEY (run, seq)) WITHOUT ROWID;";
  REWIND_RETURN_IF_ERROR(SqliteStatus(j->db_, sqlite3_exec(j->db_, setup, nullptr, nullptr, nullptr), "setup"));
  REWIND_RETURN_IF_ERROR(SqliteStatus(
      j->db_, sqlite3_prepare_v2(j->db_, "INSERT INTO events (run, seq, payload) VALUES (?, ?, ?)", -1, &j->insert_,
                                 nullptr),
      "preparing the insert"));
  return j;
}

Status SqliteJournal::Insert(std::int64_t run, std::int64_t seq, const void* payload, std::size_t bytes) {
  sqlite3_reset(insert_);
  sqlite3_bind_int64(insert_, 1, run);
  sqlite3_bind_int64(insert_, 2, seq);
  sqlite3_bind_blob(insert_, 3, payload, static_cast<int>(bytes), SQLITE_STATIC);
  return SqliteStatus(db_, sqlite3_step(insert_), "inserting an event");  // autocommit: one transaction
}

Result<double> SqliteJournal::TimedRun(int steps, std::size_t payload_bytes) {
  const std::vector<unsigned char> payload(payload_bytes, 0x5a);
  const std::int64_t run = ++runs_;
  const int events = 2 * steps + 2;
  const Clock::time_point t0 = Clock::now();
  for (int seq = 1; seq <= events; ++seq) {
    REWIND_RETURN_IF_ERROR(Insert(run, seq, payload.data(), payload.size()));
  }
  return Millis(Clock::now() - t0);
}

}  // namespace rwd::bench
