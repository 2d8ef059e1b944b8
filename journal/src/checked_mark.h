// The checked mark: what lets a writer skip the O(file) structure check
// (CheckStructure) when nothing has changed the data file since a writer
// that knew it sound closed it.
//
// A writer knows its journal's structure sound when it checked it at open,
// or trusted a mark then; from then on only LMDB wrote the file. When it
// closes (its last commit made and synced) it leaves
// `<dir>/structure-checked`, naming the data file exactly as it left it:
// device, inode, size, change and modification times (ns), and LMDB's last
// transaction id. The next writer trusts the mark only when all of them
// still hold:
//   * every commit raises the transaction id;
//   * any other write to the file (a tool, a copy over it, a flipped bit
//     written back) sets its change time, which no program can set back;
//     and the mark is written only once the clock the kernel stamps inodes
//     with has passed the file's change time, so a write after the mark
//     cannot keep it;
//   * a new file (a copy, a restore, a migration) is another inode.
// Damage the disk itself makes under an unchanged inode is not seen this
// way, as it is not by LMDB's reads; `journal-inspect verify` and
// Journal::CheckStructure always walk the whole file.
//
// The mark is a cache: missing, unreadable, malformed or stale, the writer
// walks the file. A writer that did not know the structure sound, or whose
// writes failed (a poisoned writer), leaves no mark; one killed leaves the
// old one, which its synced commits made stale. A writer that does not sync
// its commits (Durability::kNoSync) leaves none either, and removes the mark
// before its first commit: a system crash could leave the file damaged under
// the old times and transaction id (what reached the disk was the OS's
// choice).
#pragma once

#include <lmdb.h>

#include <string>

#include "rewind/base/status.h"

namespace rwd::journal_internal {

// Whether `dir`'s mark names its data file as it is now, in `env` (open,
// no write transaction yet).
bool HasCheckedMark(MDB_env* env, const std::string& dir);

// Waits for the inode clock to pass the data file's change time (at most
// one tick of the kernel's coarse clock, 4 ms here), and writes the mark (a
// temporary file renamed over it). REQUIRES: no transaction open in `env`
// and none to come, and every commit synced (Durability::kDurable). Errors
// only for messages: the mark is a cache.
Status WriteCheckedMark(MDB_env* env, const std::string& dir);

// Removes `dir`'s mark, durably (the directory is synced). Unavailable
// when it cannot.
Status RemoveCheckedMark(const std::string& dir);

}  // namespace rwd::journal_internal
