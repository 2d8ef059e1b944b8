#include "tools/inspect/commands.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "rewind/inspect/event_json.h"
#include "rewind/inspect/heads.h"
#include "rewind/inspect/state_json.h"
#include "rewind/inspect/timeline.h"
#include "rewind/inspect/verify.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "rewind/schemas/describe.h"
#include "tools/common/exit_codes.h"
#include "tools/common/json_out.h"
#include "tools/common/run_text.h"
#include "rewind/base/time.h"
#include "tools/common/text.h"

namespace rwd::inspect_cli {
namespace {

using nlohmann::json;
using cli::Dump;
using cli::ExitCodeFor;
using cli::Grouped;
using cli::kExitOk;
using cli::RunText;
using cli::TextTable;

int Fail(const Context& c, const Status& s) {
  const int code = ExitCodeFor(s.code());
  if (c.json) {
    std::cout << cli::ErrorJson(s, code) << std::endl;
  } else {
    std::cerr << "journal-inspect: " << s.ToString() << std::endl;
  }
  return code;
}

Result<std::unique_ptr<Journal>> Open(const Context& c) {
  JournalOptions o;
  o.directory = c.data_dir;
  o.read_only = true;
  return Journal::Open(o);
}

std::string Who(const std::optional<Actor>& actor) {
  if (!actor) return "-";
  return actor->tenant.empty() ? actor->subject : actor->subject + "@" + actor->tenant;
}

// One event of an export or of `events --json`: the record's identity and
// chain, then the event itself.
json EventLine(const EventRecord& r, const Event& e) {
  json j{{"run_id", r.run.ToString()},
         {"seq", r.seq},
         {"position", r.position},
         {"prev_hash", HexEncode(r.prev_hash)},
         {"hash", HexEncode(ChainHashOf(r))}};
  j.update(inspect::EventJson(e));
  return j;
}

Result<Event> DecodeAt(const EventRecord& r) {
  auto e = Decode(r.payload);
  if (!e.has_value()) return Err(e.error().WithContext("run " + r.run.ToString() + " seq " + std::to_string(r.seq)));
  return e;
}

// The run's events, decoded, from seq 1.
Result<std::vector<Event>> RunEvents(const Journal& journal, const RunId& run) {
  std::vector<Event> events;
  REWIND_RETURN_IF_ERROR(journal.ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& r) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeAt(r));
    events.push_back(std::move(e));
    return Status::Ok();
  }));
  return events;
}

// The state after the first `seq` of `events`. NotFound past the end.
Result<RunState> StateAt(const RunId& run, const std::vector<Event>& events, std::uint64_t seq) {
  if (seq > events.size()) {
    return Err(Code::kNotFound, "run " + run.ToString() + " has " + std::to_string(events.size()) +
                                    " events, not " + std::to_string(seq));
  }
  return Fold(run, std::span<const Event>(events.data(), seq));
}

}  // namespace

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
        REWIND_ASSIGN_OR_RETURN(Event e, DecodeAt(r));
        return Evolve(l.state, e);
      });
      if (!folded.ok()) {
        if (folded.code() != Code::kCorruption) return folded;
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
      REWIND_ASSIGN_OR_RETURN(Event e, Decode(r.payload));
      ++events;
      ++by_type[std::string(EventTypeName(e.body))];
      payload_bytes += r.payload.size();
      stored_bytes += r.stored.size();
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

int Events(const Context& c, const std::string& run_text, std::uint64_t from_seq, std::uint64_t to_seq,
           const std::string& raw_dir) {
  auto run = RunId::Parse(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  std::error_code ec;
  if (!raw_dir.empty() && !std::filesystem::create_directories(raw_dir, ec) && ec) {
    return Fail(c, Status(Code::kUnavailable, "cannot create '" + raw_dir + "': " + ec.message()));
  }
  std::vector<std::vector<std::string>> rows;
  json files = json::array();
  const Status read = (*journal)->ReadRun(*run, from_seq, to_seq, [&](const EventRecord& r) -> Status {
    if (!raw_dir.empty()) {
      const std::string file = raw_dir + "/" + std::to_string(r.seq) + ".bin";
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(r.payload.data()), static_cast<std::streamsize>(r.payload.size()));
      if (!out.good()) return Status(Code::kUnavailable, "cannot write '" + file + "'");
      files.push_back(file);
      if (!c.json) std::cout << file << "\n";
      return Status::Ok();
    }
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeAt(r));
    if (c.json) {
      std::cout << EventLine(r, e).dump() << "\n";
    } else {
      rows.push_back({std::to_string(r.seq), std::to_string(r.position), IsoTime(e.unix_us), Who(e.actor),
                      DescribeBody(e.body)});
    }
    return Status::Ok();
  });
  if (!read.ok()) return Fail(c, read);
  if (!raw_dir.empty()) {
    if (c.json) std::cout << Dump(json{{"files", files}}) << std::endl;
    return kExitOk;
  }
  if (!c.json) std::cout << TextTable({{"seq", true}, {"position", true}, {"time"}, {"actor"}, {"event"}}, rows);
  return kExitOk;
}

int Export(const Context& c, const std::string& run_text, const std::string& out_path) {
  std::optional<RunId> run;
  if (!run_text.empty()) {
    auto parsed = RunId::Parse(run_text);
    if (!parsed.has_value()) return Fail(c, parsed.error());
    run = *parsed;
  }
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return Fail(c, Status(Code::kUnavailable, "cannot write '" + out_path + "'"));
  std::uint64_t events = 0;
  std::set<RunId> runs;
  auto write = [&](const EventRecord& r) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeAt(r));
    out << EventLine(r, e).dump() << "\n";
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

int TimelineOf(const Context& c, const std::string& run_text) {
  auto run = RunId::Parse(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto events = RunEvents(**journal, *run);
  if (!events.has_value()) return Fail(c, events.error());
  auto timeline = inspect::Timeline(*run, *events);
  if (!timeline.has_value()) return Fail(c, timeline.error());
  auto or_null = [](const std::optional<std::string>& s) { return s ? inspect::StringJson(*s) : json(nullptr); };
  if (c.json) {
    json entries = json::array();
    for (const inspect::TimelineEntry& e : *timeline) {
      entries.push_back(json{{"seq", e.seq},
                             {"unix_us", e.unix_us},
                             {"type", e.type},
                             {"step", or_null(e.step)},
                             {"actor", or_null(e.actor)},
                             {"epoch", e.epoch},
                             {"what", inspect::StringJson(e.what)}});
    }
    std::cout << Dump(json{{"run_id", run->ToString()}, {"entries", entries}}) << std::endl;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const inspect::TimelineEntry& e : *timeline) {
    rows.push_back({IsoTime(e.unix_us), std::to_string(e.seq), std::to_string(e.epoch), e.step.value_or("-"),
                    e.actor.value_or("-"), e.what});
  }
  std::cout << "run " << run->ToString() << "\n"
            << TextTable({{"time"}, {"seq", true}, {"epoch", true}, {"step"}, {"who"}, {"what"}}, rows);
  return kExitOk;
}

int State(const Context& c, const std::string& run_text, std::optional<std::uint64_t> at_seq,
          const std::string& at_step) {
  auto run = RunId::Parse(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  if (at_seq == std::optional<std::uint64_t>(0)) {
    return Fail(c, Status(Code::kInvalidArgument, "--at-seq counts events from 1"));
  }
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto events = RunEvents(**journal, *run);
  if (!events.has_value()) return Fail(c, events.error());
  std::uint64_t seq = at_seq.value_or(0);
  if (!at_seq) {
    auto first = Fold(*run, std::span<const Event>(events->data(), 1));
    if (!first.has_value()) return Fail(c, first.error());
    auto step = ResolveStep(*first->definition, at_step);
    if (!step.has_value()) return Fail(c, step.error());
    auto at = SeqAtStep(*events, *step);
    if (!at.has_value()) return Fail(c, at.error());
    seq = *at;
  }
  auto state = StateAt(*run, *events, seq);
  if (!state.has_value()) return Fail(c, state.error());
  if (c.json) {
    std::cout << Dump(json{{"at_seq", seq}, {"state", inspect::StateJson(*state)}}) << std::endl;
    return kExitOk;
  }
  std::cout << "state of run " << run->ToString() << " after " << seq << " of " << events->size() << " events";
  if (seq > 0) {
    const Event& last = (*events)[seq - 1];
    std::cout << " (the last: " << EventTypeName(last.body) << " at " << IsoTime(last.unix_us) << ")";
  }
  std::cout << ":\n" << (seq > 0 ? RunText(*state) : std::string("no events: the run had not started\n"));
  return kExitOk;
}

int Diff(const Context& c, const std::string& run_text, std::uint64_t from, std::uint64_t to) {
  auto run = RunId::Parse(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  if (from > to) {
    return Fail(c, Status(Code::kInvalidArgument, "--from " + std::to_string(from) + " is after --to " +
                                                      std::to_string(to)));
  }
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto events = RunEvents(**journal, *run);
  if (!events.has_value()) return Fail(c, events.error());
  auto before = StateAt(*run, *events, from);
  if (!before.has_value()) return Fail(c, before.error());
  auto after = StateAt(*run, *events, to);
  if (!after.has_value()) return Fail(c, after.error());
  const json a = inspect::StateJson(*before), b = inspect::StateJson(*after);
  const json changes = json::diff(a, b);
  if (c.json) {
    json between = json::array();
    for (std::uint64_t s = from; s < to; ++s) between.push_back(inspect::EventJson((*events)[s]));
    std::cout << Dump(json{{"run_id", run->ToString()}, {"from", from}, {"to", to}, {"events", between},
                           {"changes", changes}})
              << std::endl;
    return kExitOk;
  }
  std::cout << "run " << run->ToString() << " from seq " << from << " to seq " << to << ": " << (to - from)
            << " events\n";
  for (std::uint64_t s = from; s < to; ++s) {
    std::cout << "  " << (s + 1) << "  " << DescribeEvent((*events)[s]) << "\n";
  }
  std::cout << changes.size() << " changes\n";
  for (const json& op : changes) {
    const std::string path = op["path"];
    const std::string kind = op["op"];
    std::cout << "  " << kind << " " << path;
    if (kind == "replace" || kind == "remove") std::cout << ": " << Dump(a.at(json::json_pointer(path)));
    if (kind == "replace") std::cout << " -> " << Dump(op["value"]);
    if (kind == "add") std::cout << ": " << Dump(op["value"]);
    std::cout << "\n";
  }
  return kExitOk;
}

int Verify(const Context& c, const std::string& run_text, const std::string& against) {
  std::optional<RunId> run;
  if (!run_text.empty()) {
    auto parsed = RunId::Parse(run_text);
    if (!parsed.has_value()) return Fail(c, parsed.error());
    run = *parsed;
  }
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
                           {"problems", problems}})
              << std::endl;
  } else {
    std::cout << "verified " << Grouped(report->runs) << " runs, " << Grouped(report->events) << " events"
              << (saved ? " and " + std::to_string(saved->runs.size()) + " saved heads" : std::string()) << ": "
              << (report->clean() ? "clean" : std::to_string(report->problems.size()) + " problems") << "\n";
    for (const inspect::Problem& p : report->problems) {
      std::cout << "  " << (p.run ? "run " + p.run->ToString() : std::string("journal"))
                << (p.seq > 0 ? " seq " + std::to_string(p.seq) : std::string()) << " [" << p.check
                << "]: " << p.message << "\n";
    }
  }
  return report->clean() ? kExitOk : kExitProblemsFound;
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
