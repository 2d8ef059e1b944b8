#include "rewind/inspect/heads.h"

#include "rewind/journal/hash.h"
#include "rewind/journal/tables.h"

namespace rwd::inspect {

Result<Heads> ReadHeads(const Journal& journal) {
  Heads out;
  REWIND_RETURN_IF_ERROR(journal.View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(out.position, view.LastPosition());
    return view.ForEachRun([&](const RunId& run, std::uint64_t last_seq) -> Status {
      const std::size_t before = out.runs.size();
      const Status read = view.ReadRun(run, last_seq, last_seq, [&](const EventRecord& r) {
        out.runs.push_back(RunHeadEntry{run, RunHead{r.seq, r.hash()}});
        return Status::Ok();
      });
      // A damaged run index can list a run, or a last seq, that a lookup
      // cannot find.
      if (read.code() == Code::kNotFound || (read.ok() && out.runs.size() != before + 1)) {
        return Status(Code::kCorruption, "run " + run.ToString() + ": the run index ends at seq " +
                                             std::to_string(last_seq) + ", which a lookup cannot find");
      }
      return read;
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

nlohmann::json HeadsJson(const Heads& heads) {
  nlohmann::json runs = nlohmann::json::array();
  for (const RunHeadEntry& e : heads.runs) {
    runs.push_back({{"run_id", e.run.ToString()}, {"seq", e.head.seq}, {"hash", HexEncode(e.head.hash)}});
  }
  return {{"position", heads.position}, {"runs", std::move(runs)}, {"digest", HexEncode(heads.digest)}};
}

Result<Heads> HeadsFromJson(const nlohmann::json& j) {
  auto bad = [](const std::string& what) { return Err(Code::kInvalidArgument, "heads file: " + what); };
  auto hash = [](const nlohmann::json& v, Hash& out) {
    return v.is_string() && v.get_ref<const std::string&>().size() == 64 && HexDecode(v.get_ref<const std::string&>(), out);
  };
  if (!j.is_object() || !j.contains("runs") || !j["runs"].is_array()) return bad("no \"runs\" array");
  Heads heads;
  if (!j.contains("digest") || !hash(j["digest"], heads.digest)) return bad("no \"digest\" of 64 hex digits");
  if (j.contains("position") && j["position"].is_number_unsigned()) heads.position = j["position"];
  for (std::size_t i = 0; i < j["runs"].size(); ++i) {
    const nlohmann::json& r = j["runs"][i];
    const std::string at = "runs[" + std::to_string(i) + "]";
    if (!r.is_object() || !r.contains("run_id") || !r["run_id"].is_string()) return bad(at + ": no run_id");
    auto run = RunId::Parse(r["run_id"].get_ref<const std::string&>());
    if (!run.has_value()) return bad(at + ": " + run.error().message());
    RunHeadEntry e{*run, {}};
    if (!r.contains("seq") || !r["seq"].is_number_unsigned()) return bad(at + ": no seq");
    e.head.seq = r["seq"];
    if (!r.contains("hash") || !hash(r["hash"], e.head.hash)) return bad(at + ": no hash of 64 hex digits");
    heads.runs.push_back(e);
  }
  return heads;
}

}  // namespace rwd::inspect
