#include "tools/rewind/render.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "rewind/base/time.h"
#include "rewind/inspect/state_json.h"
#include "rewind/server/api_json.h"
#include "tools/common/json_out.h"
#include "tools/common/run_text.h"
#include "tools/common/text.h"

namespace rwd::cli {
namespace {

using nlohmann::json;


// A run: its state as journal-inspect shows it (state_json.h); a listing
// leaves the lists out.
json RunObject(const RunState& s, bool with_steps) {
  json j = inspect::StateJson(s);
  if (!with_steps) {
    for (const char* list : {"steps", "pending_signals", "resumes"}) j.erase(list);
  }
  return j;
}

std::string Seconds(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(us) / 1e6);
  return buf;
}

// --- Tables of read models ---

std::string Number(std::uint64_t n) { return std::to_string(n); }

json StatusObject(const ProjectionStatus& s) {
  return json{{"name", s.name},
              {"health", ProjectionHealthName(s.health)},
              {"version", s.version},
              {"stored_version", s.stored_version},
              {"checkpoint", s.checkpoint},
              {"rebuild_checkpoint", s.rebuild_checkpoint},
              {"journal_position", s.journal_position},
              {"error", s.error.empty() ? json(nullptr) : json(s.error)}};
}

json StatusArray(const std::vector<ProjectionStatus>& status) {
  json list = json::array();
  for (const ProjectionStatus& s : status) list.push_back(StatusObject(s));
  return list;
}

}  // namespace

std::string RunJson(const RunState& state, std::optional<Driver> driver) {
  json j = RunObject(state, true);
  if (driver) j["driver"] = driver->pid ? json{{"pid", *driver->pid}} : json(nullptr);
  return Dump(j);
}

std::string DriverText(const RunState& state, const Driver& driver) {
  if (driver.pid) {
    return "driven by: process " + std::to_string(*driver.pid) + ", which holds the journal for writing";
  }
  return "driven by: no process (the one that drove it stopped); `rewind recover " + state.run.ToString() +
         "` continues it, as does `rewind serve`";
}

std::string EventLineJson(const RunState& after, const Event& event, std::uint64_t seq) {
  return Dump(json{{"run_id", after.run.ToString()},
                   {"seq", seq},
                   {"event", EventTypeName(event.body)},
                   {"status", RunStatusName(after.status)}});
}

std::string RunListJson(const std::vector<RunState>& runs) {
  json list = json::array();
  for (const RunState& s : runs) list.push_back(RunObject(s, false));
  return Dump(json{{"runs", std::move(list)}});
}

std::string ObjectJson(const std::vector<std::pair<std::string, std::string>>& fields) {
  json j = json::object();
  for (const auto& [k, v] : fields) j[k] = v;
  return Dump(j);
}

std::string RunListText(const std::vector<RunState>& runs) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-32s  %-16s  %-10s  %6s  %s\n", "run", "workflow", "status", "events",
                "tenant");
  out += line;
  for (const RunState& s : runs) {
    std::snprintf(line, sizeof(line), "%-32s  %-16s  %-10s  %6llu  %s\n", s.run.ToString().c_str(),
                  Printable(s.definition->workflow).c_str(), std::string(RunStatusName(s.status)).c_str(),
                  static_cast<unsigned long long>(s.seq), Printable(s.definition->tenant).c_str());
    out += line;
  }
  return out;
}

std::vector<std::string> ProgressLines(const RunState& after, const std::vector<Event>& appended,
                                       std::int64_t now_unix_us) {
  const RunStarted& def = *after.definition;
  const std::string run = after.run.ToString().substr(0, 12);
  auto step = [&](std::uint32_t i) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%-16s", def.steps[i].id.c_str());
    return std::string(buf);
  };
  std::vector<std::string> lines;
  for (const Event& e : appended) {
    std::string line = std::visit(
        [&](const auto& b) -> std::string {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, RunStarted>) {
            return "started " + def.workflow + " (" + std::to_string(def.steps.size()) + " steps)";
          } else if constexpr (std::is_same_v<T, RunForked>) {
            return "forked from run " + b.parent_run.ToString() + " at seq " + std::to_string(b.parent_seq);
          } else if constexpr (std::is_same_v<T, StepStarted>) {
            return "  " + step(b.step) + " started (attempt " + std::to_string(b.attempt) + ")";
          } else if constexpr (std::is_same_v<T, StepCompleted>) {
            return "  " + step(b.step) + " completed";
          } else if constexpr (std::is_same_v<T, StepFailed>) {
            return "  " + step(b.step) + " failed (attempt " + std::to_string(b.attempt) + "): " + b.message;
          } else if constexpr (std::is_same_v<T, StepAbandoned>) {
            return "  " + step(b.step) + " attempt " + std::to_string(b.attempt) + " abandoned by a crash";
          } else if constexpr (std::is_same_v<T, RetryScheduled>) {
            return "  " + step(b.step) + " retry in " + Seconds(std::max<std::int64_t>(0, b.due_unix_us - now_unix_us));
          } else if constexpr (std::is_same_v<T, RunPaused>) {
            if (b.reason == PauseReason::kManual) return "paused by an operator";
            if (b.reason == PauseReason::kApprovalRequired) {
              return "  " + step(b.step) + " waiting for approval: rewind approve " + after.run.ToString() + " " +
                     def.steps[b.step].id;
            }
            return "  " + step(b.step) + " waiting for signal '" + def.steps[b.step].handler +
                   "': rewind signal " + after.run.ToString() + " " + def.steps[b.step].handler;
          } else if constexpr (std::is_same_v<T, ApprovalDecided>) {
            return "  " + step(b.step) + (b.approved ? " approved" : " rejected") +
                   (e.actor ? " by " + e.actor->subject : std::string());
          } else if constexpr (std::is_same_v<T, SignalReceived>) {
            return "signal '" + b.name + "' received";
          } else if constexpr (std::is_same_v<T, TimerScheduled>) {
            return "  " + step(b.step) + " sleeping " + Seconds(std::max<std::int64_t>(0, b.due_unix_us - now_unix_us));
          } else if constexpr (std::is_same_v<T, TimerFired>) {
            return "  " + step(b.step) + " woke up";
          } else if constexpr (std::is_same_v<T, ResumeRequested>) {
            return "resumed from '" + def.steps[b.from_step].id + "'" +
                   (e.actor ? " by " + e.actor->subject : std::string()) +
                   (b.reason.empty() ? std::string() : ": " + b.reason);
          } else if constexpr (std::is_same_v<T, CancelRequested>) {
            return std::string();
          } else if constexpr (std::is_same_v<T, RunCancelled>) {
            return "cancelled" + (b.reason.empty() ? std::string() : ": " + b.reason);
          } else if constexpr (std::is_same_v<T, RunCompleted>) {
            return "completed";
          } else {
            static_assert(std::is_same_v<T, RunFailed>);
            return "failed: " + b.message;
          }
        },
        e.body);
    if (!line.empty()) lines.push_back("run " + run + "  " + Printable(line));
  }
  return lines;
}


std::string RunPageText(const RunPage& page) {
  if (page.runs.empty()) return "no runs\n";
  std::vector<std::vector<std::string>> rows;
  for (const RunSummary& s : page.runs) {
    const std::string error = s.error_message.empty() ? s.error_code : s.error_code + ": " + s.error_message;
    rows.push_back({s.run.ToString(), s.tenant, s.workflow, std::string(RunStatusName(s.status)),
                    OrDash(s.current_step), IsoTime(s.started_unix_us), IsoTime(s.updated_unix_us),
                    Number(s.events), Number(s.epoch), Number(s.attempts), Clip(error, 48)});
  }
  std::string out = TextTable({{"run"}, {"tenant"}, {"workflow"}, {"status"}, {"step"}, {"started"}, {"updated"},
                           {"events", true}, {"epoch", true}, {"attempts", true}, {"error"}},
                          rows);
  if (!page.next.empty()) out += "more runs: --page " + page.next + "\n";
  return out;
}

std::string StepStatsJson(const std::vector<StepStats>& stats) { return Dump(server::StepStatsJson(stats)); }

std::string StepStatsText(const std::vector<StepStats>& stats) {
  if (stats.empty()) return "no step executions\n";
  std::vector<std::vector<std::string>> rows;
  for (const StepStats& s : stats) {
    auto latency = [&](std::uint64_t us) { return s.latency_count == 0 ? std::string("-") : Duration(us); };
    rows.push_back({s.tenant, s.workflow, s.step, Number(s.executions), Number(s.completions), Number(s.failures),
                    Number(s.abandoned), Number(s.retries), Number(s.resumes), latency(s.p50_us),
                    latency(s.p90_us), latency(s.p99_us), latency(s.max_us)});
  }
  return TextTable({{"tenant"}, {"workflow"}, {"step"}, {"executions", true}, {"completions", true}, {"failures", true},
                {"abandoned", true}, {"retries", true}, {"resumes", true}, {"p50", true}, {"p90", true},
                {"p99", true}, {"max", true}},
               rows);
}

std::string AuditJson(const std::vector<AuditEntry>& entries, std::optional<std::uint64_t> next_before) {
  json list = json::array();
  for (const AuditEntry& e : entries) list.push_back(server::AuditEntryJson(e));
  return Dump(json{{"entries", std::move(list)}, {"next_before", next_before ? json(*next_before) : json(nullptr)}});
}

std::string AuditText(const std::vector<AuditEntry>& entries, std::optional<std::uint64_t> next_before) {
  if (entries.empty()) return "no audit entries\n";
  std::vector<std::vector<std::string>> rows;
  for (const AuditEntry& e : entries) {
    rows.push_back({IsoTime(e.unix_us), e.run.ToString(), Number(e.seq), std::string(AuditActionName(e.action)),
                    e.actor.empty() ? "(engine)" : e.actor, e.tenant, OrDash(e.step), Clip(e.detail, 60)});
  }
  std::string out = TextTable({{"time"}, {"run"}, {"seq", true}, {"action"}, {"actor"}, {"tenant"}, {"step"},
                           {"detail"}},
                          rows);
  if (next_before) out += "older entries: --before " + std::to_string(*next_before) + "\n";
  return out;
}

std::string RefusalsJson(const std::vector<Refusal>& refusals, std::optional<std::uint64_t> next_before) {
  json list = json::array();
  for (const Refusal& r : refusals) list.push_back(server::RefusalObject(r));
  return Dump(json{{"refusals", std::move(list)}, {"next_before", next_before ? json(*next_before) : json(nullptr)}});
}

std::string RefusalsText(const std::vector<Refusal>& refusals, std::optional<std::uint64_t> next_before) {
  if (refusals.empty()) return "no refusals\n";
  std::vector<std::vector<std::string>> rows;
  for (const Refusal& r : refusals) {
    rows.push_back({IsoTime(r.unix_us), Number(r.number), OrDash(r.subject), r.actor_tenant, r.action,
                    r.run ? r.run->ToString() : "workflow " + r.workflow, Clip(r.reason, 60)});
  }
  std::string out = TextTable(
      {{"time"}, {"n", true}, {"subject"}, {"as tenant"}, {"action"}, {"run"}, {"reason"}}, rows);
  if (next_before) out += "older refusals: --refusals --before " + std::to_string(*next_before) + "\n";
  return out;
}

std::string ProjectionsJson(const std::vector<ProjectionStatus>& status) {
  return Dump(json{{"projections", StatusArray(status)}});
}

std::string ProjectionsText(const std::vector<ProjectionStatus>& status) {
  std::vector<std::vector<std::string>> rows;
  auto version = [](std::uint32_t v) { return v == 0 ? std::string("-") : std::to_string(v); };
  for (const ProjectionStatus& s : status) {
    rows.push_back({s.name, std::string(ProjectionHealthName(s.health)),
                    version(s.version) + "/" + version(s.stored_version), Number(s.checkpoint),
                    Number(s.journal_position),
                    s.health == ProjectionHealth::kRebuilding ? Number(s.rebuild_checkpoint) : "-", s.error});
  }
  return TextTable({{"projection"}, {"health"}, {"version"}, {"checkpoint", true}, {"journal", true},
                {"rebuild", true}, {"error"}},
               rows);
}

std::string RebuildJson(const RebuildFigures& f, const std::vector<ProjectionStatus>& after) {
  return Dump(json{{"rebuilt", f.names},
                   {"events", f.events},
                   {"seconds", f.seconds},
                   {"events_per_second", f.events_per_second()},
                   {"projections", StatusArray(after)}});
}

std::string RebuildText(const RebuildFigures& f, const std::vector<ProjectionStatus>& after) {
  std::string names;
  for (const std::string& n : f.names) names += (names.empty() ? "" : ", ") + n;
  char figures[128];
  std::snprintf(figures, sizeof(figures), " events in %.2f s (%s events/s)\n", f.seconds,
                Grouped(static_cast<std::uint64_t>(f.events_per_second())).c_str());
  return "rebuilt " + names + ": " + Grouped(f.events) + figures + ProjectionsText(after);
}

std::string RebuildProgressLine(const RebuildProgress& p) {
  const std::uint64_t percent = p.total == 0 ? 100 : p.done * 100 / p.total;
  std::string line = "rebuilding " + p.name + ": " + Grouped(p.done) + " / " + Grouped(p.total) + " events (" +
                     std::to_string(percent) + "%)";
  if (p.events_per_second > 0) {
    char left[64];
    std::snprintf(left, sizeof(left), ", %.1f s left", p.seconds_left);
    line += ", " + Grouped(static_cast<std::uint64_t>(p.events_per_second)) + " events/s" + left;
  }
  return line;
}

}  // namespace rwd::cli
