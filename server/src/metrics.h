// Metrics: what GET /metrics shows, in Prometheus' text exposition format
// (version 0.0.4; no client library is packaged, the format is small).
//
//   rewind_runs{status}                     gauge: runs of every tenant by status
//   rewind_events_appended_total            counter: events this process appended
//   rewind_journal_commits_total            counter: its group commits
//   rewind_journal_commit_seconds           histogram: how long each commit took
//   rewind_http_requests_total{route,method,code}  counter
//   rewind_stream_clients                   gauge: event streams attached
//
// No label names a tenant, a run or a subject: the metrics show nothing one
// tenant may not see of another. A route is its template
// ("/v1/tenants/{t}/runs/{id}/resume"); requests to no route count as "other".
//
// Thread-safety: Count and Exposition from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "rewind/base/mutex.h"
#include "rewind/executor/engine.h"

namespace rwd::server_internal {

class Metrics {
 public:
  void Count(std::string_view route, std::string_view method, int status) REWIND_EXCLUDES(mu_);
  std::string Exposition(Engine& engine, std::size_t stream_clients) const REWIND_EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_ REWIND_GUARDED_BY(mu_);
};

}  // namespace rwd::server_internal
