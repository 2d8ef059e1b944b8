// A naive event journal in SQLite: what the e2e latency of one run is held
// against besides the raw LMDB floor. One table of (run, seq, payload); every
// event is inserted in a transaction of its own, in WAL mode with
// synchronous=FULL, so each one is durable (the log synced) before the next
// is decided. No hashes, no checksums, no read models, no threads.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

#include "rewind/base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rwd::bench {

class SqliteJournal {
 public:
  // A fresh database file in `dir`.
  static Result<std::unique_ptr<SqliteJournal>> Open(const std::filesystem::path& dir);
  ~SqliteJournal();

  // One run of `steps` no-op steps in a line, journaled the naive way: the
  // start, each step's start and completion, the end — 2 × steps + 2 events,
  // each committed before the next. How long it took, in ms.
  Result<double> TimedRun(int steps, std::size_t payload_bytes);

 private:
  SqliteJournal() = default;
  Status Insert(std::int64_t run, std::int64_t seq, const void* payload, std::size_t bytes);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::int64_t runs_ = 0;
};

}  // namespace rwd::bench
