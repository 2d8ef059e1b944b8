#include "tests/executor/execution_audit.h"

#include <set>

#include "rewind/schemas/describe.h"

namespace rwd::test {

std::vector<std::string> AuditExecutions(const RunState& state, const std::vector<Event>& events,
                                         const ExecCounts& exec) {
  const std::string hex = state.run.ToString();
  const auto& steps = state.definition->steps;
  std::vector<std::string> problems;
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> started;   // step, epoch, attempt
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> completed;  // (step, epoch) -> attempt
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string at = "seq " + std::to_string(i + 1) + " ";
    if (const auto* s = std::get_if<StepStarted>(&events[i].body)) {
      started.emplace(s->step, s->epoch, s->attempt);
      if (completed.count({s->step, s->epoch}) != 0) problems.push_back(at + "starts a completed step");
    } else if (const auto* c = std::get_if<StepCompleted>(&events[i].body)) {
      completed[{c->step, c->epoch}] = c->attempt;
      if (exec.count(Exec{hex, steps[c->step].id, c->epoch, c->attempt}) == 0) {
        problems.push_back(at + "completes an attempt no handler ran");
      }
    }
  }
  for (auto it = exec.lower_bound(Exec{hex, "", 0, 0}); it != exec.end() && std::get<0>(it->first) == hex; ++it) {
    const auto& [run, id, epoch, attempt] = it->first;
    const std::string what =
        "attempt " + std::to_string(attempt) + " of step " + id + " (epoch " + std::to_string(epoch) + ")";
    const std::optional<std::uint32_t> step = FindStep(*state.definition, id);
    if (!step) {
      problems.push_back("ran unknown step " + id);
      continue;
    }
    if (it->second > 1) problems.push_back(what + " ran " + std::to_string(it->second) + " times");
    if (started.count({*step, epoch, attempt}) == 0) problems.push_back(what + " ran without a durable StepStarted");
    const auto done = completed.find({*step, epoch});
    if (done != completed.end() && attempt > done->second) {
      problems.push_back(what + " ran after attempt " + std::to_string(done->second) + " completed");
    }
  }
  return problems;
}

std::string History(const std::vector<Event>& events) {
  std::string out;
  for (std::size_t i = 0; i < events.size(); ++i) {
    out += "  seq " + std::to_string(i + 1) + ": " + DescribeEvent(events[i]) + "\n";
  }
  return out;
}

}  // namespace rwd::test
