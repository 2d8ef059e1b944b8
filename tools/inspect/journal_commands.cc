// The commands over the whole journal: runs, stat, export, verify, heads.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "rewind/executor/refusals.h"
#include "rewind/inspect/heads.h"
#include "rewind/inspect/verify.h"
#include "rewind/journal/tables.h"
#include "rewind/base/time.h"
#include "rewind/inspect/event_json.h"
#include "rewind/schemas/describe.h"
#include "tools/common/exit_codes.h"
#include "tools/common/json_out.h"
#include "tools/common/text.h"
#include "tools/inspect/reading.h"

namespace rwd::inspect_cli {

using nlohmann::json;
using cli::Dump;
using cli::Grouped;
using cli::kExitOk;
using cli::TextTable;

int Runs(const Context& c, const RunFilter& filter) {
  if (!filter.status.empty() && filter.status != "damaged") {
    bool known = false;
    for (RunStatus s : {RunStatus::kPending, RunStatus::kRunning, RunStatus::kPaused, RunStatus::kFailed,
                        RunStatus::kCompleted, RunStatus::kCancelled}) {
      known |= RunStatusName(s) == filter.status;
    }
    if (!known) return Fail(c, Status(Code::kInvalidArgument, "no run status '" + filter.status + "'"));
  }
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  // A run whose events do not fold is listed as "damaged", folded as far as
  // it goes (`verify` tells what is wrong).
  struct Listed {
    RunState state;
    std::string damage;
    std::string status() const { return damage.empty() ? std::string(RunStatusName(state.status)) : "damaged"; }
    std::string tenant() const { return state.definition ? state.definition->tenant : std::string(); }
    std::string workflow() const { return state.definition ? state.definition->workflow : std::string(); }
  };
  std::vector<Listed> runs;
  const Status read = (*journal)->View([&](const ReadView& view) {
    return view.ForEachRun([&](const RunId& run, std::uint64_t) -> Status {
      Listed l;
      l.state.run = run;
      const Status folded = view.ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& r) -> Status {
        REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
        return Evolve(l.state, std::move(e));
      });
      if (!folded.ok()) {
        // A run the listing names but a lookup cannot find: its key is damaged.
        if (folded.code() != Code::kCorruption && folded.code() != Code::kNotFound) return folded;
        l.damage = folded.ToString();
      }
      if ((!filter.tenant.empty() && l.tenant() != filter.tenant) ||
          (!filter.workflow.empty() && l.workflow() != filter.workflow) ||
          (!filter.status.empty() && l.status() != filter.status) ||
          (filter.since_unix_us && l.state.started_unix_us < *filter.since_unix_us) ||
          (filter.until_unix_us && l.state.started_unix_us >= *filter.until_unix_us)) {
        return Status::Ok();
      }
      runs.push_back(std::move(l));
      return Status::Ok();
    });
  });
  if (!read.ok()) return Fail(c, read);
  std::stable_sort(runs.begin(), runs.end(), [](const Listed& a, const Listed& b) {
    return a.state.started_unix_us > b.state.started_unix_us;
  });
  if (c.json) {
    json out = json::array();
    for (const Listed& l : runs) {
      const RunState& s = l.state;
      out.push_back(json{{"run_id", s.run.ToString()},
                         {"tenant", inspect::StringJson(l.tenant())},
                         {"workflow", inspect::StringJson(l.workflow())},
                         {"version", s.definition ? s.definition->version : 0},
                         {"status", l.status()},
                         {"seq", s.seq},
                         {"epoch", s.epoch},
                         {"started_unix_us", s.started_unix_us},
                         {"updated_unix_us", s.updated_unix_us},
                         {"parent_run", s.parent ? json(s.parent->ToString()) : json(nullptr)},
                         {"damage", l.damage.empty() ? json(nullptr) : inspect::StringJson(l.damage)}});
    }
    std::cout << Dump(json{{"runs", out}}) << std::endl;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const Listed& l : runs) {
    const RunState& s = l.state;
    rows.push_back({s.run.ToString(), cli::OrDash(l.tenant()), cli::OrDash(l.workflow()), l.status(),
                    std::to_string(s.seq), std::to_string(s.epoch), IsoTime(s.started_unix_us),
                    IsoTime(s.updated_unix_us)});
  }
  std::cout << TextTable({{"run"}, {"tenant"}, {"workflow"}, {"status"}, {"events", true}, {"epoch", true},
                          {"started"}, {"updated"}},
                         rows);
  return kExitOk;
}

int Stat(const Context& c) {
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  std::uint64_t runs = 0, events = 0, payload_bytes = 0, stored_bytes = 0;
  std::map<std::string, std::uint64_t> by_type;
  const Status read = (*journal)->View([&](const ReadView& view) -> Status {
    REWIND_RETURN_IF_ERROR(view.ForEachRun([&](const RunId&, std::uint64_t) {
      ++runs;
      return Status::Ok();
    }));
    return view.ReadAll(1, Journal::kEnd, [&](const EventRecord& r) -> Status {
      REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
      ++events;
      ++by_type[std::string(EventTypeName(e.body))];
      payload_bytes += r.payload.size();
      if (r.index == 0) stored_bytes += r.record().size();  // a record once, for its first event
      return Status::Ok();
    });
  });
  if (!read.ok()) return Fail(c, read);
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(std::filesystem::path(c.data_dir) / "data.mdb", ec);
  const std::uint64_t file = ec ? 0 : static_cast<std::uint64_t>(file_bytes);
  const JournalInfo& info = (*journal)->info();
  const double per_event = events == 0 ? 0.0 : static_cast<double>(file) / static_cast<double>(events);
  if (c.json) {
    std::cout << Dump(json{{"format_version", info.format_version},
                           {"engine_id", info.engine_id},
                           {"created_unix_us", info.created_unix_us},
                           {"runs", runs},
                           {"events", events},
                           {"events_by_type", by_type},
                           {"payload_bytes", payload_bytes},
                           {"record_bytes", stored_bytes},
                           {"file_bytes", file},
                           {"file_bytes_per_event", per_event}})
              << std::endl;
    return kExitOk;
  }
  char per[32];
  std::snprintf(per, sizeof per, "%.1f", per_event);
  std::cout << "journal " << c.data_dir << ": format " << info.format_version << ", engine " << info.engine_id
            << ", created " << IsoTime(info.created_unix_us) << "\n"
            << Grouped(runs) << " runs, " << Grouped(events) << " events; payloads " << Grouped(payload_bytes)
            << " B, records " << Grouped(stored_bytes) << " B, data file " << Grouped(file) << " B (" << per
            << " B per event, projections included)\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& [type, n] : by_type) rows.push_back({type, Grouped(n)});
  std::cout << TextTable({{"type"}, {"events", true}}, rows);
  return kExitOk;
}


int Export(const Context& c, const std::string& run_text, const std::string& out_path) {
  auto named = OptionalRun(run_text);
  if (!named.has_value()) return Fail(c, named.error());
  const std::optional<RunId> run = *named;
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return Fail(c, Status(Code::kUnavailable, "cannot write '" + out_path + "'"));
  std::uint64_t events = 0;
  std::set<RunId> runs;
  auto write = [&](const EventRecord& r) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
    out << inspect::RecordJson(r, e).dump() << "\n";
    if (!out.good()) return Status(Code::kResourceExhausted, "cannot write '" + out_path + "' (disk full?)");
    ++events;
    runs.insert(r.run);
    return Status::Ok();
  };
  // One snapshot: an export is the journal at one moment.
  const Status read = (*journal)->View([&](const ReadView& view) {
    return run ? view.ReadRun(*run, 1, Journal::kEnd, write) : view.ReadAll(1, Journal::kEnd, write);
  });
  out.close();
  if (!read.ok()) return Fail(c, read);
  if (!out) return Fail(c, Status(Code::kResourceExhausted, "cannot write '" + out_path + "' (disk full?)"));
  if (c.json) {
    std::cout << Dump(json{{"events", events}, {"runs", runs.size()}, {"out", out_path}}) << std::endl;
  } else {
    std::cout << "exported " << Grouped(events) << " events of " << Grouped(runs.size()) << " runs to " << out_path
              << "\n";
  }
  return kExitOk;
}


int Verify(const Context& c, const std::string& run_text, const std::string& against) {
  auto named = OptionalRun(run_text);
  if (!named.has_value()) return Fail(c, named.error());
  const std::optional<RunId> run = *named;
  std::optional<inspect::Heads> saved;
  if (!against.empty()) {
    std::ifstream in(against, std::ios::binary);
    if (!in) return Fail(c, Status(Code::kNotFound, "cannot read heads file '" + against + "'"));
    const json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Fail(c, Status(Code::kInvalidArgument, "heads file '" + against + "' is not JSON"));
    auto heads = inspect::HeadsFromJson(j);
    if (!heads.has_value()) return Fail(c, heads.error().WithContext(against));
    saved = std::move(*heads);
  }
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto report = inspect::Verify(**journal, run);
  if (!report.has_value()) return Fail(c, report.error());
  if (saved) {
    auto problems = inspect::VerifyAgainst(**journal, *saved);
    if (!problems.has_value()) return Fail(c, problems.error());
    report->problems.insert(report->problems.end(), problems->begin(), problems->end());
  }
  std::uint64_t refusals = 0;  // the refusal log's chain, with the whole journal
  if (!run) {
    auto checked = VerifyRefusals(**journal);
    if (checked.has_value()) refusals = *checked;
    if (!checked.has_value() && checked.error().code() != Code::kCorruption) return Fail(c, checked.error());
    if (!checked.has_value()) report->problems.push_back({std::nullopt, 0, "refusals", checked.error().message()});
  }
  if (c.json) {
    json problems = json::array();
    for (const inspect::Problem& p : report->problems) {
      problems.push_back(json{{"run_id", p.run ? json(p.run->ToString()) : json(nullptr)},
                              {"seq", p.seq},
                              {"check", p.check},
                              {"message", p.message}});
    }
    std::cout << Dump(json{{"clean", report->clean()},
                           {"runs", report->runs},
                           {"events", report->events},
                           {"refusals", refusals},
                           {"problems", problems}})
              << std::endl;
  } else {
    std::cout << "verified " << Grouped(report->runs) << " runs, " << Grouped(report->events) << " events"
              << (refusals == 0 ? std::string() : ", " + Grouped(refusals) + " refusals")
              << (saved ? " and " + std::to_string(saved->runs.size()) + " saved heads" : std::string()) << ": "
              << (report->clean() ? "clean" : std::to_string(report->problems.size()) + " problems") << "\n";
    for (const inspect::Problem& p : report->problems) {
      std::cout << "  " << (p.run ? "run " + p.run->ToString() : std::string("journal"))
                << (p.seq > 0 ? " seq " + std::to_string(p.seq) : std::string()) << " [" << p.check
                << "]: " << cli::Printable(p.message) << "\n";
    }
  }
  return report->clean() ? kExitOk : kExitProblemsFound;
}

int Refusals(const Context& c) {
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto checked = VerifyRefusals(**journal);
  if (!checked.has_value()) {
    if (checked.error().code() != Code::kCorruption) return Fail(c, checked.error());
    Fail(c, checked.error());
    return kExitProblemsFound;
  }
  auto refusals = ReadRefusals(**journal, RefusalQuery{.limit = static_cast<std::size_t>(*checked)});
  if (!refusals.has_value()) return Fail(c, refusals.error());
  std::reverse(refusals->begin(), refusals->end());
  if (c.json) {
    for (const Refusal& r : *refusals) std::cout << RefusalJson(r) << "\n";
    return kExitOk;
  }
  if (refusals->empty()) {
    std::cout << "no refusals\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const Refusal& r : *refusals) {
    rows.push_back({std::to_string(r.number), IsoTime(r.unix_us), r.subject, r.actor_tenant, r.action,
                    r.run ? r.run->ToString() : "workflow " + r.workflow, r.reason});
  }
  std::cout << TextTable({{"n", true}, {"time"}, {"subject"}, {"as tenant"}, {"action"}, {"run"}, {"reason"}}, rows)
            << Grouped(*checked) << " refusals, their chain intact\n";
  return kExitOk;
}

int Heads(const Context& c) {
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto heads = inspect::ReadHeads(**journal);
  if (!heads.has_value()) return Fail(c, heads.error());
  if (c.json) {
    std::cout << Dump(inspect::HeadsJson(*heads)) << std::endl;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const inspect::RunHeadEntry& e : heads->runs) {
    rows.push_back({e.run.ToString(), std::to_string(e.head.seq), HexEncode(e.head.hash)});
  }
  std::cout << TextTable({{"run"}, {"seq", true}, {"chain hash"}}, rows) << "digest of " << heads->runs.size()
            << " heads at position " << heads->position << ": " << HexEncode(heads->digest) << "\n";
  return kExitOk;
}


}  // namespace rwd::inspect_cli
