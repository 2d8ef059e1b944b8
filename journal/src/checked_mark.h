// The checked mark: what lets a writer skip the O(file) structure check
// (CheckStructure) when nothing has changed the data file since a writer
// that knew it sound closed it.
//
// A writer knows its journal's structure sound when it walked it at open,
// or trusted a mark then; from then on only its LMDB environment wrote the
// file. When it closes (every commit made and synced: Durability::kDurable)
// it leaves `<dir>/structure-checked`, naming the data file exactly as it
// left it: device, inode, size, change and modification times (ns), LMDB's
// last transaction id, and the time of the walk its trust goes back to. The
// next writer trusts the mark only when the file it opened is still that
// one, and that walk is less than kMaxTrust old:
//   * every commit raises the transaction id;
//   * any other write to the file (a tool, a copy over it, a flipped bit
//     written back) sets its change time, which no program can set back;
//     and the mark is published only once its own change time is later than
//     the file's (the same file system's clock and granularity: a whole
//     second on some), so a write after the mark cannot keep that time;
//   * a new file (a copy, a restore, a migration, a file renamed over
//     data.mdb) is another inode, and the inode must be the one the
//     environment has open.
// What the mark cannot see, and so what a walk every kMaxTrust still looks
// for: damage the disk or memory makes under an unchanged inode and times
// (LMDB's own reads do not see it either), and a write by another program
// while a writer has the file open, which that writer's mark then names.
// `journal-inspect verify` and Journal::CheckStructure always walk.
//
// The mark is a cache: missing, unreadable, malformed or stale, the writer
// walks the file. A writer that did not know the structure sound, or one of
// whose write transactions failed to begin or commit (its writes may have
// reached the file in part), leaves none; one killed leaves the old one,
// which its synced commits made stale. A writer that does not sync its
// commits (kNoSync) leaves none either, and removes the mark before its first
// commit: after a system crash, the file could be damaged under the old times
// and transaction id (what reached the disk was the OS's choice).
#pragma once

#include <lmdb.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "rewind/base/status.h"

namespace rwd::journal_internal {

// How long a walk's result is trusted through marks, however many writers
// pass it on.
inline constexpr std::chrono::hours kMaxTrust{24};

// When `dir`'s mark names its data file as `env` (open, no write
// transaction yet) has it now, and its walk is less than kMaxTrust old: the
// time of that walk (unix seconds). nullopt otherwise.
std::optional<std::int64_t> TrustedMark(MDB_env* env, const std::string& dir);

// Writes the mark for the data file as `env` has it now, its trust going
// back to the walk at `walked_unix_s`: a temporary file, published (renamed
// over the mark) once its change time is later than the data file's, which
// takes at most one tick of the kernel's coarse clock (4 ms here) on a file
// system that stamps ns, and is given up after kMaxWait (no mark) on one
// that stamps seconds. REQUIRES: no transaction open in `env` and none to
// come, every commit synced. Errors only for messages: the mark is a cache.
Status WriteCheckedMark(MDB_env* env, const std::string& dir, std::int64_t walked_unix_s);
inline constexpr std::chrono::milliseconds kMaxWait{50};

// Removes `dir`'s mark, durably (the directory is synced). Unavailable
// when it cannot.
Status RemoveCheckedMark(const std::string& dir);

}  // namespace rwd::journal_internal
