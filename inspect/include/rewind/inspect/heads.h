// Chain heads: where every run of a journal stands, for anchoring outside it.
//
// A run's head is its last seq and the chain hash of that record (FORMAT.md);
// since each record's hash covers the one before, the head commits to the
// run's whole history. The digest commits to every head at once:
//   SHA-256 over the runs in run id order of
//     run id (16 bytes) || last seq (8 bytes, big-endian) || chain hash (32 bytes)
// so anyone can recompute it from the heads alone. A history rewritten or cut
// after the heads were saved changes a head (or removes a run) and the digest.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

namespace rwd::inspect {

struct RunHeadEntry {
  RunId run;
  RunHead head;
  friend bool operator==(const RunHeadEntry&, const RunHeadEntry&) = default;
};

struct Heads {
  std::vector<RunHeadEntry> runs;  // in run id order
  std::uint64_t position = 0;      // the journal's last position when read
  Hash digest{};
};

// Every run's head, in one snapshot. Corruption when a run's last record
// fails its checksum, or the run index lists a run or a last seq that a
// lookup cannot find.
Result<Heads> ReadHeads(const Journal& journal);

Hash HeadsDigest(std::span<const RunHeadEntry> runs);

// The heads file (`journal-inspect heads --json`):
//   {"position": N, "runs": [{"run_id", "seq", "hash"}], "digest"}
// with hashes as 64 lowercase hex digits.
nlohmann::json HeadsJson(const Heads& heads);
// InvalidArgument naming what is malformed. The digest is read as written,
// not recomputed: VerifyAgainst checks it.
Result<Heads> HeadsFromJson(const nlohmann::json& json);

}  // namespace rwd::inspect
