// The read models the built-in projections keep, as plain values.
//
// Each is derived from the journal alone (a rebuild gives the same values)
// and answers a question without folding runs:
//   RunSummary   where one run stands (run index + run summary)
//   StepStats    how a workflow's steps behave (counts, latency percentiles)
//   AuditEntry   who acted on which run, when and why
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/fold/run_state.h"

namespace rwd {

struct RunSummary {
  RunId run;
  std::string tenant;
  std::string workflow;
  std::uint32_t workflow_version = 0;
  RunStatus status = RunStatus::kPending;
  std::int64_t started_unix_us = 0;
  std::int64_t updated_unix_us = 0;
  std::uint64_t events = 0;            // the run's last seq
  std::uint32_t epoch = 0;             // resumes (a fork counts as one)
  std::uint32_t resumes = 0;           // ResumeRequested events
  std::string current_step;            // the step the run is at (empty: none)
  std::uint32_t steps_total = 0;
  std::uint32_t steps_completed = 0;
  std::uint64_t attempts = 0;          // step attempts ever started
  std::string error_code;              // the run's error, else the last step failure
  std::string error_message;           // (at most kMaxSummaryErrorBytes)
  std::optional<RunId> parent;         // for a fork
  friend bool operator==(const RunSummary&, const RunSummary&) = default;
};

inline constexpr std::size_t kMaxSummaryErrorBytes = 512;

// Which runs to list. Unset fields match everything.
struct RunQuery {
  std::optional<std::string> tenant;  // nullopt: every tenant
  std::optional<RunStatus> status;
  std::optional<std::string> workflow;
  std::size_t limit = 50;
  bool newest_first = true;  // by start time
  std::string page;          // RunPage::next of the previous page; empty: from the start
};

struct RunPage {
  std::vector<RunSummary> runs;
  std::string next;  // pass as RunQuery::page for the next page; empty at the end
};

struct StepStats {
  std::string tenant;  // the runs' tenant: each tenant's steps are counted apart
  std::string workflow;
  std::string step;
  std::uint64_t executions = 0;   // attempts started
  std::uint64_t completions = 0;
  std::uint64_t failures = 0;     // attempts failed (StepFailed)
  std::uint64_t abandoned = 0;    // attempts lost to a crash (StepAbandoned)
  std::uint64_t retries = 0;      // attempts after the first within an epoch
  std::uint64_t resumes = 0;      // resumes that started from this step
  // Attempt latency (start to completion or failure), from a histogram with
  // 1/16-octave buckets: within about 4% of the exact value.
  std::uint64_t latency_count = 0;
  std::uint64_t p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
  friend bool operator==(const StepStats&, const StepStats&) = default;
};

enum class AuditAction : std::uint8_t { kResume, kFork, kApprove, kReject, kCancel, kSignal, kPause };
std::string_view AuditActionName(AuditAction action);  // "resume", ...

struct AuditEntry {
  std::uint64_t position = 0;  // of the event that recorded it
  RunId run;
  std::uint64_t seq = 0;
  std::int64_t unix_us = 0;
  AuditAction action = AuditAction::kResume;
  std::string actor;         // the subject who acted ("" for the engine)
  std::string actor_tenant;  // the tenant the actor acted as
  std::string tenant;        // the run's tenant
  std::string step;          // the step concerned, if any
  std::string detail;        // reason, approval note, signal name, parent run
  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

// An approval's or rejection's note longer than this is cut in the audit.
inline constexpr std::size_t kMaxAuditNoteBytes = 512;

struct AuditQuery {
  std::optional<RunId> run;
  std::optional<std::string> actor;
  std::optional<std::string> tenant;  // the run's tenant
  std::size_t limit = 100;
  std::uint64_t before_position = 0;  // newest first from here (0: from the newest)
};

}  // namespace rwd
