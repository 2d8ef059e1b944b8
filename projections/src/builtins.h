// The built-in projections (projections.h lists what each keeps) and the
// queries over their tables. Each query reads one table in the caller's view.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/src/projection.h"
#include "rewind/projections/projections.h"
#include "rewind/projections/read_models.h"

namespace rwd::projections_internal {

inline constexpr std::string_view kRunsName = "runs";
inline constexpr std::string_view kStepStatsName = "step_stats";
inline constexpr std::string_view kAuditName = "audit";
inline constexpr std::string_view kSnapshotsName = "snapshots";

// In Projections::Names() order.
std::vector<std::unique_ptr<Projection>> BuiltinProjections(const ProjectionsOptions& options);

// runs
Result<std::optional<RunSummary>> ReadSummary(const ReadView& view, const Table& table, const RunId& run);
Result<RunPage> ReadRunPage(const ReadView& view, const Table& table, const RunQuery& query);
// Runs of every tenant by status (the status index's entries), in kRunStatuses order.
Result<std::vector<std::pair<RunStatus, std::uint64_t>>> CountRuns(const ReadView& view, const Table& table);
// What a run's state says about it (exposed for tests: the summary of a fold).
RunSummary Summarize(const RunState& state);

// step_stats
Result<std::vector<StepStats>> ReadStepStats(const ReadView& view, const Table& table, const std::string& workflow,
                                              const std::optional<std::string>& tenant);

// audit
Result<std::vector<AuditEntry>> ReadAudit(const ReadView& view, const Table& table, const AuditQuery& query);

}  // namespace rwd::projections_internal
