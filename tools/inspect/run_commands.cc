// The commands over one run: events, timeline, state, diff, replay-check.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "rewind/executor/workflow_file.h"
#include "rewind/inspect/replay_check.h"
#include "rewind/inspect/state_json.h"
#include "rewind/inspect/timeline.h"
#include "tools/common/run_text.h"
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
  auto write = [&](const std::string& file, ByteView bytes) -> Status {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out.good()) return Status(Code::kUnavailable, "cannot write '" + file + "'");
    files.push_back(file);
    if (!c.json) std::cout << file << "\n";
    return Status::Ok();
  };
  const Status read = (*journal)->ReadRun(*run, from_seq, to_seq, [&](const EventRecord& r) -> Status {
    if (!raw_dir.empty()) {
      REWIND_RETURN_IF_ERROR(write(raw_dir + "/" + std::to_string(r.seq) + ".bin", r.payload));
      // The definition a first event names, stored once in the journal, beside it.
      if (r.seq != 1) return Status::Ok();
      REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
      const auto* fork = std::get_if<RunForked>(&e.body);
      const RunStarted* start = fork != nullptr ? &fork->start : std::get_if<RunStarted>(&e.body);
      if (start == nullptr || !start->definition_stored) return Status::Ok();
      Hash hash{};
      std::copy(start->definition_hash.begin(), start->definition_hash.end(), hash.begin());
      REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> blob, r.view->Blob(hash));
      return blob ? write(raw_dir + "/definition.bin", *blob) : Status::Ok();
    }
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
    if (c.json) {
      std::cout << inspect::RecordJson(r, e).dump() << "\n";
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


int TimelineOf(const Context& c, const std::string& run_text) {
  auto run = RunId::Parse(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto history = RunHistory::Read(**journal, *run);
  if (!history.has_value()) return Fail(c, history.error());
  auto timeline = inspect::Timeline(*run, history->events());
  if (!timeline.has_value()) return Fail(c, timeline.error());
  if (c.json) {
    const json entries = inspect::TimelineJson(*timeline);
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
  auto history = RunHistory::Read(**journal, *run);
  if (!history.has_value()) return Fail(c, history.error());
  auto at = at_seq ? Result<std::uint64_t>(*at_seq) : history->SeqAtStep(at_step);
  if (!at.has_value()) return Fail(c, at.error());
  const std::uint64_t seq = *at;
  auto state = history->StateAt(seq);
  if (!state.has_value()) return Fail(c, state.error());
  if (c.json) {
    std::cout << Dump(json{{"at_seq", seq}, {"state", inspect::StateJson(*state)}}) << std::endl;
    return kExitOk;
  }
  std::cout << "state of run " << run->ToString() << " after " << seq << " of " << history->size() << " events";
  if (seq > 0) {
    const Event& last = history->events()[seq - 1];
    std::cout << " (the last: " << EventTypeName(last.body) << " at " << IsoTime(last.unix_us) << ")";
  }
  std::cout << ":\n" << (seq > 0 ? cli::RunText(*state) : std::string("no events: the run had not started\n"));
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
  auto history = RunHistory::Read(**journal, *run);
  if (!history.has_value()) return Fail(c, history.error());
  const std::span<const Event> events = history->events();
  auto before = history->StateAt(from);
  if (!before.has_value()) return Fail(c, before.error());
  auto after = history->StateAt(to);
  if (!after.has_value()) return Fail(c, after.error());
  const json a = inspect::StateJson(*before), b = inspect::StateJson(*after);
  const json changes = json::diff(a, b);
  if (c.json) {
    json between = json::array();
    for (std::uint64_t s = from; s < to; ++s) between.push_back(inspect::EventJson(events[s]));
    std::cout << Dump(json{{"run_id", run->ToString()}, {"from", from}, {"to", to}, {"events", between},
                           {"changes", changes}})
              << std::endl;
    return kExitOk;
  }
  std::cout << "run " << run->ToString() << " from seq " << from << " to seq " << to << ": " << (to - from)
            << " events\n";
  for (std::uint64_t s = from; s < to; ++s) {
    std::cout << "  " << (s + 1) << "  " << cli::Printable(DescribeEvent(events[s])) << "\n";
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


int ReplayCheck(const Context& c, const std::string& run_text, const std::string& workflow_file,
                std::uint32_t max_parallel) {
  auto run = RunId::Parse(run_text);
  if (!run.has_value()) return Fail(c, run.error());
  auto workflow = LoadWorkflowFile(workflow_file);
  if (!workflow.has_value()) return Fail(c, workflow.error());
  auto candidate = workflow->Definition();
  if (!candidate.has_value()) return Fail(c, candidate.error().WithContext(workflow_file));
  auto journal = Open(c);
  if (!journal.has_value()) return Fail(c, journal.error());
  auto history = RunHistory::Read(**journal, *run);
  if (!history.has_value()) return Fail(c, history.error());
  auto report = inspect::ReplayCheck(*run, history->events(), *candidate, max_parallel);
  if (!report.has_value()) return Fail(c, report.error().WithContext("run " + run->ToString()));
  const std::uint32_t recorded_version = history->definition().version;
  const auto& d = report->divergence;
  if (c.json) {
    json divergence = nullptr;
    if (d) {
      json decided = json::array();
      for (const Event& e : d->decided) decided.push_back(inspect::EventJson(e));
      divergence = json{{"seq", d->seq},
                        {"check", d->check},
                        {"message", inspect::StringJson(d->message)},
                        {"recorded", d->recorded ? inspect::EventJson(*d->recorded) : json(nullptr)},
                        {"decided", decided}};
    }
    std::cout << Dump(json{{"run_id", run->ToString()},
                           {"workflow", inspect::StringJson(candidate->workflow)},
                           {"recorded_version", recorded_version},
                           {"candidate_version", candidate->version},
                           {"same_definition", report->same_definition},
                           {"max_parallel", max_parallel},
                           {"events", report->events},
                           {"decision_points", report->decision_points},
                           {"divergence", divergence}})
              << std::endl;
  } else {
    std::cout << "run " << run->ToString() << ": workflow " << cli::Printable(candidate->workflow) << " v"
              << recorded_version
              << " as recorded, v" << candidate->version << " in " << workflow_file << " ("
              << (report->same_definition ? "same definition" : "definition differs") << ")\n";
    if (!d) {
      std::cout << "replayed " << Grouped(report->events) << " events, " << Grouped(report->decision_points)
                << " decisions (max parallel " << max_parallel << "): the definition decides as recorded\n";
    } else {
      std::cout << "replayed " << Grouped(report->events) << " events, " << Grouped(report->decision_points)
                << " decisions (max parallel " << max_parallel << "), then DIVERGES at seq " << d->seq << " ["
                << d->check << "]:\n  " << cli::Printable(d->message) << "\n";
    }
  }
  return d ? kExitProblemsFound : kExitOk;
}

}  // namespace rwd::inspect_cli
