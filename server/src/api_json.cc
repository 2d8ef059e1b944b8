#include "rewind/server/api_json.h"

#include "rewind/inspect/event_json.h"
#include "rewind/inspect/state_json.h"
#include "rewind/executor/workflow.h"

namespace rwd::server {
namespace {

using nlohmann::json;
using inspect::StringJson;

}  // namespace

std::string JsonText(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json RunSummaryJson(const RunSummary& s) {
  return json{{"run_id", s.run.ToString()},
              {"tenant", StringJson(s.tenant)},
              {"workflow", StringJson(s.workflow)},
              {"version", s.workflow_version},
              {"status", RunStatusName(s.status)},
              {"current_step", s.current_step.empty() ? json(nullptr) : StringJson(s.current_step)},
              {"started_unix_us", s.started_unix_us},
              {"updated_unix_us", s.updated_unix_us},
              {"events", s.events},
              {"epoch", s.epoch},
              {"resumes", s.resumes},
              {"steps_total", s.steps_total},
              {"steps_completed", s.steps_completed},
              {"attempts", s.attempts},
              {"error", inspect::ErrorJson(s.error_code, s.error_message)},
              {"parent_run", s.parent ? json(s.parent->ToString()) : json(nullptr)}};
}

json RunPageJson(const RunPage& page) {
  json list = json::array();
  for (const RunSummary& s : page.runs) list.push_back(RunSummaryJson(s));
  return json{{"runs", std::move(list)}, {"next_page", page.next.empty() ? json(nullptr) : json(page.next)}};
}

json ResumeJson(const RunId& run, const ResumeResult& r, bool dry_run) {
  json kept = json::array(), reset = json::array();
  for (const std::string& k : r.kept) kept.push_back(StringJson(k));
  for (const std::string& k : r.reset) reset.push_back(StringJson(k));
  return json{{"run_id", run.ToString()},
              {"dry_run", dry_run},
              {"repeated", r.repeated},
              {"from_step", StringJson(r.from_step_id)},
              {"epoch", r.epoch},
              {"seq", r.seq},
              {"kept", std::move(kept)},
              {"reset", std::move(reset)}};
}

json WorkflowJson(const RunStarted& d) {
  json steps = json::array();
  for (const StepDef& step : d.steps) {
    json deps = json::array();
    for (std::uint32_t i : step.depends_on) deps.push_back(StringJson(d.steps[i].id));
    steps.push_back(json{{"id", StringJson(step.id)}, {"kind", StepKindName(step.kind)}, {"depends_on", std::move(deps)}});
  }
  return json{{"name", StringJson(d.workflow)},
              {"version", d.version},
              {"definition_hash", HexEncode(DefinitionHash(d))},
              {"steps", std::move(steps)}};
}

json AuditEntryJson(const AuditEntry& e) {
  return json{{"position", e.position},
              {"run_id", e.run.ToString()},
              {"seq", e.seq},
              {"unix_us", e.unix_us},
              {"action", AuditActionName(e.action)},
              {"actor", StringJson(e.actor)},
              {"actor_tenant", StringJson(e.actor_tenant)},
              {"tenant", StringJson(e.tenant)},
              {"step", StringJson(e.step)},
              {"detail", StringJson(e.detail)}};
}

json RefusalObject(const Refusal& refusal) { return json::parse(RefusalJson(refusal)); }

json StepStatsJson(const std::vector<StepStats>& stats) {
  json list = json::array();
  for (const StepStats& s : stats) {
    list.push_back(json{{"tenant", StringJson(s.tenant)},
                        {"workflow", StringJson(s.workflow)},
                        {"step", StringJson(s.step)},
                        {"executions", s.executions},
                        {"completions", s.completions},
                        {"failures", s.failures},
                        {"abandoned", s.abandoned},
                        {"retries", s.retries},
                        {"resumes", s.resumes},
                        {"latency_count", s.latency_count},
                        {"p50_us", s.p50_us},
                        {"p90_us", s.p90_us},
                        {"p99_us", s.p99_us},
                        {"max_us", s.max_us}});
  }
  return json{{"stats", std::move(list)}};
}

}  // namespace rwd::server
