// How the tools open a journal: read-only for the commands that read, and for
// the commands that write, as a writer that first holds the journal's lock.
//
// A damaged journal is reported, never written to. The commands that write
// (rewind's run, resume, approve, reject, cancel, pause, recover, fork,
// signal, serve and projections rebuild) open the journal as its one writer:
// the writer's lock is taken before anything is checked, so no other process
// commits while the checks read. Then LMDB's own structure is walked
// (Journal::CheckStructure, run by every writer as it opens: what LMDB keeps
// for itself and never reads back, which a write would trust and spread;
// skipped while the file is unchanged since the last writer, which knew it
// sound, closed it: JournalInfo::structure_check), and
// the run the command acts on is verified (Journal::VerifyRun) before the
// engine and its projections open on the journal, so a refused command
// leaves the file as it was; the engine verifies every other run it loads
// before it extends it. A command so checks what it touches — O(file) for the
// structure, when it is walked, O(run) for its run — not every event of the journal:
// `journal-inspect verify` does that. A write on top of damage could spread
// it, and would bury the damaged history under new events.
#pragma once

#include <memory>
#include <string>

#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

namespace rwd::cli {

// The journal in `dir`, read-only: CheckJournalDir's errors (with
// may_create false), then Journal::Open's.
Result<std::unique_ptr<Journal>> OpenReadOnly(const std::string& dir);

// Ok when `dir` holds a journal's data file, or — with `may_create` — holds
// none yet (a writer then creates the journal). NotFound when there is none;
// PermissionDenied when the directory cannot be searched or the file read;
// Corruption for a data file of zero bytes (a journal cut to nothing, or a
// copy that failed: LMDB alone would take it for a journal not yet created,
// and a writer would start a new one over it).
Status CheckJournalDir(const std::string& dir, bool may_create);

// A writing command's refusal: Corruption and FailedPrecondition (damage, an
// unknown format version) as "refusing to write into journal 'DIR': ..."
// naming `journal-inspect verify`; any other status as it is.
Status RefusingToWrite(const Status& s, const std::string& dir);

// `s`, and when it reports damage (Corruption) without naming `dir`, with
// "journal 'DIR': " before its message; any other status as it is.
Status NameJournal(const Status& s, const std::string& dir);

}  // namespace rwd::cli
