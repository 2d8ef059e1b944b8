#include "server/src/metrics.h"

#include <cstdio>

namespace rwd::server_internal {
namespace {

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

void Family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void Metrics::Count(std::string_view route, std::string_view method, int status) {
  MutexLock lock(mu_);
  ++requests_[{std::string(route), std::string(method), status}];
}

std::string Metrics::Exposition(Engine& engine, std::size_t stream_clients) const {
  std::string out;
  if (const Projections* projections = engine.projections()) {
    if (auto counts = projections->CountRuns(); counts.has_value()) {
      Family(out, "rewind_runs", "gauge", "Runs in the journal by status, every tenant's.");
      for (const auto& [status, n] : *counts) {
        out += "rewind_runs{status=\"" + std::string(RunStatusName(status)) + "\"} " + std::to_string(n) + "\n";
      }
    }
  }
  const JournalStats s = engine.journal().stats();
  Family(out, "rewind_events_appended_total", "counter", "Events this process appended to the journal.");
  out += "rewind_events_appended_total " + std::to_string(s.events) + "\n";
  Family(out, "rewind_journal_commits_total", "counter", "Durable group commits of events by this process.");
  out += "rewind_journal_commits_total " + std::to_string(s.commits) + "\n";
  Family(out, "rewind_journal_commit_seconds", "histogram", "How long each commit of events took, its sync included.");
  for (std::size_t i = 0; i < s.commit_latency.size(); ++i) {
    const bool last = i + 1 == s.commit_latency.size();
    out += "rewind_journal_commit_seconds_bucket{le=\"" +
           (last ? std::string("+Inf") : Number(JournalStats::kCommitLatencyBounds[i])) + "\"} " +
           std::to_string(last ? s.commits : s.commit_latency[i]) + "\n";
  }
  out += "rewind_journal_commit_seconds_sum " + Number(s.commit_seconds) + "\n";
  out += "rewind_journal_commit_seconds_count " + std::to_string(s.commits) + "\n";
  Family(out, "rewind_http_requests_total", "counter", "HTTP requests answered, by route template, method and status.");
  {
    MutexLock lock(mu_);
    for (const auto& [key, n] : requests_) {
      const auto& [route, method, code] = key;
      out += "rewind_http_requests_total{route=\"" + route + "\",method=\"" + method + "\",code=\"" +
             std::to_string(code) + "\"} " + std::to_string(n) + "\n";
    }
  }
  Family(out, "rewind_stream_clients", "gauge", "Event streams attached now.");
  out += "rewind_stream_clients " + std::to_string(stream_clients) + "\n";
  return out;
}

}  // namespace rwd::server_internal
