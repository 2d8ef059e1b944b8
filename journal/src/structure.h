// CheckStructure: a walk of every B-tree in a journal's LMDB data file,
// checking what LMDB itself trusts and never checks.
//
// LMDB reads a page by the number its parent names, and never compares that
// with the number the page's own header records; it trusts a page's kind,
// its bounds and a database record's depth and counts the same way. Damage
// there (one flipped bit) passes every read — the event checksums and hash
// chains included — but a write acts on it: copying a page on write frees it
// under the number in its header, and a later commit writes where that bogus
// number points (hundreds of GiB into a sparse file), losing the page that is
// really there. So a writer refuses a journal whose structure is damaged
// (Journal::Open runs this, JournalOptions::check_structure), and
// `journal-inspect verify` reports it.
//
// The walk reads the snapshot of `txn` (a read transaction) through a map of
// its own over the data file, so the pages read are the ones LMDB's snapshot
// keeps stable. It starts at the meta page of that snapshot and visits every
// page reachable from it: the free list's tree and the pages it lists, the
// main database and every named database in it (the journal's own and every
// table), the duplicate sub-trees of DUPSORT databases, and overflow pages.
// For each page it checks:
//   * its number: below the snapshot's page count, in no other place of the
//     file (no page is reached twice, or both reached and free), and equal to
//     the number in its header;
//   * its kind: a branch above the tree's depth, a leaf (LEAF2 in a DUPFIXED
//     sub-tree) at it, an overflow page where a big value points, with the
//     page count its value needs; no other flag (a stored "dirty" page would
//     be written in place);
//   * its bounds: the free-space bounds and every node inside the page, a
//     sub-page inside its node;
//   * its keys: ascending in the database's order (bytes, or integers for
//     MDB_INTEGERKEY), within the range its parent's separators give it, and
//     so duplicates in a sub-page (a damaged table name in the main database
//     can equal its neighbour's, and two records then share one tree);
// and for each tree that the pages counted and the entries found equal its
// record's depth, branch, leaf and overflow pages and entries.
//
// Cost: every reachable page is read once, so O(file): about 0.6 s per GiB
// when the file is in the page cache (twice the time of reading the file,
// bench/structure_bench.cc), plus the disk's read time when it is not.
// The format is LMDB 0.9's (mdb.c, 64-bit): the layout is stable across 0.9.x.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>

#include "rewind/base/bytes.h"
#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

namespace rwd::journal_internal {

// Corruption naming the data file in `dir`, the database, the page and what
// is wrong; Unavailable when the file cannot be read or mapped.
Result<StructureReport> CheckStructure(MDB_env* env, MDB_txn* txn, const std::string& dir);

// The Corruption every check of LMDB's own structure reports: "'DIR/data.mdb'
// is damaged (LMDB's own structure): WHAT".
Status StructureDamage(const std::string& dir, const std::string& what);

// The two meta pages' transaction ids: LMDB writes transaction T's meta
// page (T % 2) after T - 1's, so they are the last two, or 0 and 0 in a new
// environment. LMDB itself reads the one with the higher id: a flipped bit
// there makes it take a page that may describe an empty or an old snapshot
// (and a writer would then write over what the other one holds). Corruption
// naming the data file otherwise; read again a few times first, as a writer
// of another process may be committing. Every open checks this.
Status CheckMetaPages(MDB_env* env, const std::string& dir);

// The part of that walk LMDB reads to find `key` in the named database
// `name`, in `txn`'s snapshot: every page from the database's root to the
// leaf that holds or would hold the key, and the key's duplicates: the
// sub-page in its entry, or the path from its sub-tree's root to its last
// duplicate. Each page is checked as above. Damage off that path is not
// looked for: a reader of the duplicates in between checks that they follow
// on from each other (the run index's reader: their seqs). `main` is the
// main database's handle (opened beforehand: LMDB allows no concurrent
// mdb_dbi_open). O(depth): a read of a page each. Errors as CheckStructure;
// else whether the key's duplicates are in a sub-tree, checked only on the
// path to the last (their reader then checks the rest as it reads).
Result<bool> CheckKeyPath(MDB_env* env, MDB_txn* txn, MDB_dbi main, const std::string& dir,
                          const std::string& name, ByteView key);

}  // namespace rwd::journal_internal
