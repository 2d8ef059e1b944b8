// Verification: is this journal the untampered history it claims to be?
//
// Verify checks, for one run or for every run:
//   structure (every run only, first) the LMDB file the journal lives in:
//             every tree's pages, their numbers, kinds and bounds, the free
//             list (Journal::CheckStructure). Damage there is reported alone:
//             LMDB trusts that structure, and reading through it could crash.
//   journal   (every run only) the whole journal in one snapshot: positions
//             dense from 1, every record's checksum and chain link, and the run
//             index holding exactly the stored records (Journal::VerifyAll);
//   chain     the run's records: checksums, seqs dense from 1, each record's
//             prev_hash equal to the chain hash of the one before
//             (Journal::VerifyRun);
//   decode    every event decodes (FlatBuffers verification, known version);
//   fold      every event is a valid transition from the state before it
//             (Evolve, the engine's own fold);
//   projections (every run only) each projection's table in use equals,
//             byte for byte, a fresh rebuild from the journal. Both are taken
//             on a compact copy of the journal in a temporary directory, so
//             the journal itself is never written. Projections built with
//             other settings than the defaults (another snapshot interval)
//             are not compared.
// Each problem names the run, the seq where known, and what is wrong; a run's
// checks stop at its first problem (what follows depends on it).
//
// VerifyAgainst compares the journal with heads saved earlier (heads.h): a
// saved run that is gone, shorter than it was, or whose record at the saved
// seq has another chain hash means history was removed or rewritten. Runs
// that grew or appeared since are fine.
//
// Thread-safety: reads only; safe beside a running engine (each run is read
// in one snapshot).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/inspect/heads.h"
#include "rewind/journal/journal.h"

namespace rwd::inspect {

struct Problem {
  std::optional<RunId> run;  // none for a problem of the journal as a whole
  std::uint64_t seq = 0;     // 0: not known, or the run as a whole
  std::string check;         // "structure", "journal", "chain", "decode", "fold", "projections", "heads"
  std::string message;
};

struct VerifyReport {
  std::uint64_t runs = 0;    // runs checked
  std::uint64_t events = 0;  // events decoded and folded
  std::vector<Problem> problems;
  bool clean() const { return problems.empty(); }
};

// `run`: that run only (NotFound when it has no events); nullopt: every run
// and the journal as a whole. Fails only when the journal cannot be read at
// all; whatever it finds wrong is in the report.
Result<VerifyReport> Verify(const Journal& journal, std::optional<RunId> run);

// Problems with check "heads": what `saved` says that the journal no longer does.
Result<std::vector<Problem>> VerifyAgainst(const Journal& journal, const Heads& saved);

}  // namespace rwd::inspect
