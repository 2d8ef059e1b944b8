// Helpers of the benchmarks that drive a whole Engine: the no-op workflow,
// the principal they act as, and the commit floor sampled beside them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/executor/workflow.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"

namespace rwd::bench {

// `steps` no-op code steps "step1".."stepN" in a line: each handler returns
// an empty output at once, so what is measured is the engine.
Workflow NoopWorkflow(const std::string& name, int steps);

// The principal the benchmarks act as: tenant "default", with the operator role.
Principal BenchPrincipal();

// The figures count the projections' work only while every projection keeps
// up: one that failed stops being maintained, and the engine gets faster.
// Internal naming the projection when one failed.
Status ProjectionsHealthy(Engine& engine);

// Whether the projections are what the journal says: the digest of every
// projection's table (Projections::Digests), brought up to date first
// (CatchUp), equals its digest after Rebuild of all of them from the journal.
// Internal naming the projections that differ; the errors of CatchUp,
// Rebuild and Digests. The projections are rebuilt in place: use it at the
// end of a bench, on a journal no engine writes any more.
Status ProjectionsMatchRebuild(Projections& projections);

// The commit floor: single-event appends, one at a time, to a run of its own
// in the engine's journal, each timed until durable. Its history is a valid
// one — a one-step workflow whose step fails and is retried forever:
// StepStarted, StepFailed, RetryScheduled, StepStarted, ... — so the
// projections fold it with every commit as they fold the engine's runs, and
// tools reading the journal accept it. Nothing of the engine drives that run
// (recovery would, at the next Open; the scratch directory is gone by then).
// Disk sync times on a shared machine drift by 10x within seconds, so sample
// the floor beside the measurement, not before it.
class CommitFloor {
 public:
  explicit CommitFloor(Journal& journal) : journal_(journal) {}

  // Appends one event and records how long the durable commit took.
  Status Sample();
  Status Sample(unsigned n);
  // The commits sampled, not to be counted against the engine.
  std::uint64_t commits() const { return commit_ms_.size(); }
  std::uint64_t events() const { return commit_ms_.size(); }
  double P50() const;  // ms
  double P99() const;  // ms

 private:
  EventBody Next() const;  // the event after seq_

  Journal& journal_;
  const RunId run_ = RunId::New();
  std::uint64_t seq_ = 0;
  std::vector<double> commit_ms_;
};

}  // namespace rwd::bench
