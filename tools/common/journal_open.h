// How the tools open a journal: read-only for the commands that read, and a
// check of the whole journal before any command writes into it.
//
// A damaged journal is reported, never written to: the commands that write
// (rewind's run, resume, approve, reject, cancel, pause, fork, signal, serve
// and projections rebuild) call CheckBeforeWriting before they open it for
// writing. A write on top of a damaged B-tree could spread the damage, and it
// would bury the damaged history under new events. Projection tables are
// not checked: they are derived, `rewind projections rebuild` repairs them,
// and `journal-inspect verify --all` compares them with a rebuild.
//
// What LMDB keeps for itself and never reads back — a page's own number in
// its header, a database record's depth and counts, the free list — no read
// checks, yet a write trusts it (LMDB frees a copied page under the number its
// header records, and a later write lands there, possibly hundreds of GiB into
// a sparse file). Journal::CheckStructure walks that structure; every writer
// runs it when it opens (JournalOptions::check_structure), and
// CheckBeforeWriting runs it before reading the events, which damage there
// could crash.
#pragma once

#include <memory>
#include <string>

#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

namespace rwd::cli {

// The journal in `dir`, read-only: Journal::Open's errors, except that a data
// file of zero bytes (a journal cut to nothing, or a copy that failed) is
// Corruption saying so — LMDB alone would read it as a journal not yet
// created.
Result<std::unique_ptr<Journal>> OpenReadOnly(const std::string& dir);

// Ok when a command may open `dir` for writing: a journal is there, its
// structure is sound (Journal::CheckStructure) and its events verify
// (Journal::VerifyAll: positions, checksums, chains, the run index, in one
// read snapshot), or — with `may_create` — there is no data.mdb
// yet, and the writer will create the journal. Otherwise OpenReadOnly's error
// (NotFound for no journal, FailedPrecondition for another format version or
// an LMDB environment that is not a journal, Corruption for a damaged data
// file), or VerifyAll's error as "refusing to write into journal 'DIR': ...",
// naming `journal-inspect verify`. Reads every event (O(journal), as
// `journal-inspect verify` without its projection check: about 3 s per
// million events of 200 bytes on a 2-core machine), then closes the journal.
Status CheckBeforeWriting(const std::string& dir, bool may_create);

// `s`, and when it reports damage (Corruption) without naming `dir`, with
// "journal 'DIR': " before its message; any other status as it is.
Status NameJournal(const Status& s, const std::string& dir);

}  // namespace rwd::cli
