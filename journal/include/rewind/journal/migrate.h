// Migrating a journal to the newest format (FORMAT.md), in place.
//
// The events are copied in global order into a new data file beside the old
// one, consecutive events of one run packed into one record; every event
// keeps its position, run, seq, payload and chain hash, so heads saved
// before (`journal-inspect heads`) still check the migrated journal. Tables
// are copied as they are, but for those `copy_table` leaves out (derived
// data to make again: a projection would find its checkpoint's fingerprint
// changed). The journal keeps its engine id and creation time.
//
// Crash-safe: the whole journal is checked first, then the new file is
// written and synced under its own name, then renamed over data.mdb in one
// step. A process killed at any moment leaves the old journal or the
// complete new one (and, perhaps, a leftover work directory the next
// migration removes); a migration that fails leaves the old journal and no
// work directory. The old data file is kept as data.mdb.format<N> unless
// asked not to. No other process may have the journal open, for writing or
// reading, meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

namespace rwd {

struct MigrateOptions {
  std::string directory;
  bool keep_old = true;  // keep the old data file as data.mdb.format<N>
  // Whether to copy table `name` (Journal::OpenTable's); empty: every table.
  std::function<bool(std::string_view name)> copy_table;
  // The map both data files are opened with (JournalOptions::max_map_bytes).
  std::uint64_t max_map_bytes = JournalOptions{}.max_map_bytes;
};

struct MigrateReport {
  std::uint32_t from_version = 0;
  std::uint32_t to_version = 0;  // equal to from_version: it was the newest already, nothing done
  std::uint64_t events = 0;
  std::uint64_t records = 0;      // in the new file
  std::uint64_t runs = 0;
  std::uint64_t tables = 0;       // copied
  std::uint64_t tables_left = 0;  // left out (copy_table)
  std::uint64_t old_bytes = 0;    // data.mdb before, and after (both in use, not the file's size)
  std::uint64_t new_bytes = 0;
  std::string kept;               // the old data file's path when kept, else ""
};

// Blocks until done; O(journal): it reads every event twice (a check, then
// the copy). A second caller on the same directory, in any process, is
// refused by the writer lock. Errors: NotFound (no journal there),
// Unavailable (another process holds it, for writing or reading), Corruption (the old journal fails its checks:
// nothing is changed), FailedPrecondition (a format this build cannot read),
// ResourceExhausted (no room for the new file: nothing is changed).
Result<MigrateReport> MigrateJournal(const MigrateOptions& options);

}  // namespace rwd
