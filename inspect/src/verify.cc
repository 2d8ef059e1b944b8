#include "rewind/inspect/verify.h"

#include <stdlib.h>

#include <filesystem>

#include "rewind/fold/run_state.h"
#include "rewind/projections/history.h"
#include "rewind/projections/projections.h"
#include "rewind/journal/tables.h"

namespace rwd::inspect {
namespace {

// Reads the run once: each record continues its chain, decodes, and is a
// valid transition (Evolve). The first record that fails is the run's problem.
Status CheckRun(const Journal& journal, const RunId& run, VerifyReport& report) {
  ++report.runs;
  RunState state;
  state.run = run;
  ChainCheck chain;
  std::optional<Problem> problem;
  auto found = [&](std::uint64_t seq, const char* check, const Status& s) {
    problem = Problem{run, seq, check, s.ToString()};
    return Status(Code::kInternal, "stopped at the run's first problem");
  };
  const Status read = journal.ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& r) -> Status {
    if (Status s = chain.Next(r); !s.ok()) return found(r.seq, "chain", s);
    const DefinitionFinder definitions = DefinitionsOf(r);
    auto event = Decode(r.payload, &definitions);
    if (!event.has_value()) return found(r.seq, "decode", event.error());
    if (Status s = Evolve(state, std::move(*event)); !s.ok()) return found(r.seq, "fold", s);
    ++report.events;
    return Status::Ok();
  });
  if (problem) {
    report.problems.push_back(std::move(*problem));
  } else if (!read.ok()) {
    // A record that cannot be read (checksum, index entry) is the one after
    // the last good one: the run index lists records in seq order.
    // A run the run index lists but cannot find: its key is damaged.
    if (read.code() != Code::kCorruption && read.code() != Code::kNotFound) return read;
    report.problems.push_back(Problem{run, chain.head.seq + 1, "chain", read.ToString()});
  }
  return Status::Ok();
}

using Digests = std::vector<std::pair<std::string, std::optional<Hash>>>;

// Removes a directory tree when it goes out of scope.
struct TempTree {
  std::string path;
  ~TempTree() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// The options the projections stored in `journal` were built with: the
// snapshot interval is the snapshots table's config.
Result<ProjectionsOptions> BuiltWith(Journal& journal) {
  ProjectionsOptions po;
  po.background = false;
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Projections> probe, Projections::Open(journal, po));
  for (const ProjectionStatus& st : probe->Health()) {
    if (st.name == "snapshots" && st.stored_config > 0 && st.stored_config <= UINT32_MAX) {
      po.snapshot_every = static_cast<std::uint32_t>(st.stored_config);
    }
  }
  return po;
}

// Each projection's digest in the journal copy in `dir`: as stored (read
// only: a projection never built stays absent), then after a fresh rebuild
// with the options they were built with.
Result<std::pair<Digests, Digests>> StoredAndRebuilt(const std::string& dir) {
  JournalOptions o;
  o.directory = dir;
  o.durability = Durability::kNoSync;  // a scratch copy
  ProjectionsOptions po;
  Digests stored;
  {
    o.read_only = true;
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal, Journal::Open(o));
    REWIND_ASSIGN_OR_RETURN(po, BuiltWith(*journal));
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Projections> projections, Projections::Open(*journal, po));
    REWIND_ASSIGN_OR_RETURN(stored, projections->Digests());
  }
  o.read_only = false;
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal, Journal::Open(o));
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<Projections> projections, Projections::Open(*journal, po));
  REWIND_RETURN_IF_ERROR(projections->Rebuild({}));
  REWIND_ASSIGN_OR_RETURN(Digests rebuilt, projections->Digests());
  return std::pair{std::move(stored), std::move(rebuilt)};
}

Status CheckProjections(const Journal& journal, VerifyReport& report) {
  std::string pattern = (std::filesystem::temp_directory_path() / "journal-inspect-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status(Code::kUnavailable, "cannot make a temporary directory for a copy of the journal");
  }
  TempTree copy{pattern};
  auto digests = [&]() -> Result<std::pair<Digests, Digests>> {
    REWIND_RETURN_IF_ERROR(journal.CopyTo(copy.path));
    return StoredAndRebuilt(copy.path);
  }();
  if (!digests.has_value()) {
    // Damage the events do not show (a projection table, a free page) can
    // stop the copy or the rebuild: a finding, not a failure of verify.
    const Code code = digests.error().code();
    if (code != Code::kCorruption && code != Code::kFailedPrecondition) return digests.error();
    report.problems.push_back(Problem{std::nullopt, 0, "projections",
                                      "the projections could not be compared with a rebuild on a compact copy "
                                      "of the journal: " + digests.error().ToString()});
    return Status::Ok();
  }
  const auto& [stored, rebuilt] = *digests;
  for (std::size_t i = 0; i < stored.size() && i < rebuilt.size(); ++i) {
    if (!stored[i].second || stored[i].second == rebuilt[i].second) continue;
    report.problems.push_back(Problem{std::nullopt, 0, "projections",
                                      "projection " + stored[i].first +
                                          " differs from a fresh rebuild of the journal (`rewind projections "
                                          "rebuild` repairs it)"});
  }
  return Status::Ok();
}

}  // namespace

Result<VerifyReport> Verify(const Journal& journal, std::optional<RunId> run) {
  VerifyReport report;
  // Damage met while reading is a finding; other errors (I/O, a missing run) end verify.
  auto finding = [&](const Status& s, std::optional<RunId> of) -> Status {
    if (s.ok() || s.code() != Code::kCorruption) return s;
    report.problems.push_back(Problem{of, 0, "journal", s.ToString()});
    return Status::Ok();
  };
  if (run) {
    // NotFound for a run with no events.
    if (auto head = journal.Head(*run); !head.has_value()) {
      REWIND_RETURN_IF_ERROR(finding(head.error(), run));
      return report;
    }
    REWIND_RETURN_IF_ERROR(CheckRun(journal, *run, report));
    return report;
  }
  if (auto structure = journal.CheckStructure(); !structure.has_value()) {
    if (structure.error().code() != Code::kCorruption) return Err(structure.error());
    report.problems.push_back(Problem{std::nullopt, 0, "structure", structure.error().ToString()});
    return report;
  }
  if (auto all = journal.VerifyAll(); !all.has_value()) REWIND_RETURN_IF_ERROR(finding(all.error(), std::nullopt));
  std::vector<RunId> runs;
  REWIND_RETURN_IF_ERROR(finding(journal.ForEachRun([&](const RunId& r, std::uint64_t) {
                                   runs.push_back(r);
                                   return Status::Ok();
                                 }),
                                 std::nullopt));
  for (const RunId& r : runs) REWIND_RETURN_IF_ERROR(CheckRun(journal, r, report));
  // Projections are folds of the events: only worth comparing when those are sound.
  if (report.clean()) REWIND_RETURN_IF_ERROR(CheckProjections(journal, report));
  return report;
}

Result<std::vector<Problem>> VerifyAgainst(const Journal& journal, const Heads& saved) {
  std::vector<Problem> problems;
  if (HeadsDigest(saved.runs) != saved.digest) {
    problems.push_back(Problem{std::nullopt, 0, "heads", "the saved heads do not match their own digest"});
  }
  auto check = [&](const ReadView& view, const RunHeadEntry& e) -> Status {
    REWIND_ASSIGN_OR_RETURN(std::uint64_t last, view.LastSeq(e.run));
    if (last == 0) {
      problems.push_back(Problem{e.run, e.head.seq, "heads", "the run is gone; it had " +
                                                                 std::to_string(e.head.seq) + " events"});
    } else if (last < e.head.seq) {
      problems.push_back(Problem{e.run, e.head.seq, "heads", "the run has " + std::to_string(last) +
                                                                 " events; it had " + std::to_string(e.head.seq)});
    } else {
      return view.ReadRun(e.run, e.head.seq, e.head.seq, [&](const EventRecord& r) {
        if (r.hash() != e.head.hash) {
          problems.push_back(Problem{e.run, e.head.seq, "heads",
                                     "the history up to this seq was rewritten: its chain hash is not the saved one"});
        }
        return Status::Ok();
      });
    }
    return Status::Ok();
  };
  // Damage met on the way is a finding; it ends the check, since LMDB
  // refuses further reads in a transaction that met a damaged page.
  std::optional<RunId> at;
  const Status read = journal.View([&](const ReadView& view) -> Status {
    for (const RunHeadEntry& e : saved.runs) {
      at = e.run;
      REWIND_RETURN_IF_ERROR(check(view, e));
    }
    at.reset();
    return Status::Ok();
  });
  if (!read.ok()) {
    if (read.code() != Code::kCorruption) return Err(read);
    problems.push_back(Problem{at, 0, "heads", read.ToString() + " (the remaining saved heads were not checked)"});
  }
  return problems;
}

}  // namespace rwd::inspect
