#include "rewind/inspect/heads.h"

#include "rewind/journal/hash.h"
#include "rewind/journal/tables.h"

namespace rwd::inspect {

Result<Heads> ReadHeads(const Journal& journal) {
  Heads out;
  REWIND_RETURN_IF_ERROR(journal.View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(out.position, view.LastPosition());
    return view.ForEachRun([&](const RunId& run, std::uint64_t last_seq) {
      return view.ReadRun(run, last_seq, last_seq, [&](const EventRecord& r) {
        out.runs.push_back(RunHeadEntry{run, RunHead{r.seq, ChainHashOf(r)}});
        return Status::Ok();
      });
    });
  }));
  out.digest = HeadsDigest(out.runs);
  return out;
}

Hash HeadsDigest(std::span<const RunHeadEntry> runs) {
  Bytes input;
  input.reserve(runs.size() * (RunId::kSize + 8 + 32));
  for (const RunHeadEntry& e : runs) {
    input.insert(input.end(), e.run.bytes().begin(), e.run.bytes().end());
    for (int i = 7; i >= 0; --i) input.push_back(static_cast<std::uint8_t>(e.head.seq >> (8 * i)));
    input.insert(input.end(), e.head.hash.begin(), e.head.hash.end());
  }
  return Sha256(input);
}

}  // namespace rwd::inspect
