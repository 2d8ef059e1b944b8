// How the commands that act reach the runs: through an engine this process
// opens on the journal (commands.cc), or through the server that holds the
// journal (remote.cc). The commands are written once against this.
//
// Progress lines (render.h ProgressLines) are printed, unless the output is
// JSON, for the events appended to a run after Watch, and for every event
// of a run this control started or forked.
//
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/executor/workflow.h"
#include "rewind/fold/run_state.h"

namespace rwd::cli {

class RunControl {
 public:
  virtual ~RunControl() = default;

  // Starts a run of `workflow` (registered locally; a server must run the
  // same definition: FailedPrecondition otherwise).
  virtual Result<RunId> Start(Workflow workflow, Bytes input, std::string idempotency_key) = 0;
  // The principal fields of the requests are filled in by the control.
  virtual Result<ResumeResult> Resume(ResumeRequest request) = 0;
  virtual Status Decide(const RunId& run, const std::string& step, bool approve, const std::string& note) = 0;
  virtual Status Pause(const RunId& run, const std::string& reason) = 0;
  virtual Status Cancel(const RunId& run, const std::string& reason) = 0;
  virtual Status Signal(const RunId& run, const std::string& name, const std::string& payload) = 0;
  virtual Result<RunId> Fork(const RunId& run, const std::string& from_step, std::optional<std::uint64_t> at_seq) = 0;
  // Continues a run whose driving process stopped (Engine::Recover); a
  // server drives every run already.
  virtual Status Recover(const RunId& run) = 0;

  // Prints the run's progress from now on.
  virtual Status Watch(const RunId& run) = 0;
  // Waits until the run stops after what this control did to it, and
  // returns its state then.
  virtual Result<RunState> Await(const RunId& run) = 0;
};

}  // namespace rwd::cli
