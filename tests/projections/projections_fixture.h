// Shared setup of the projections tests: a journal with projections attached,
// runs written event by event (each event folded, then appended), and the raw
// contents of projection tables for byte-for-byte comparisons.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "projections/src/keys.h"
#include "projections/src/run_states.h"
#include "projections/src/slot.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "rewind/projections/projections.h"
#include "tests/fold/run_builder.h"
#include "tests/support/matchers.h"
#include "tests/support/projection_dump.h"
#include "tests/support/random_history.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {

// Writes one run: every Apply folds the event (failing the test if Evolve
// refuses it) and appends it. Recorded times advance 1 ms per event.
class RunWriter {
 public:
  RunWriter(Journal& journal, RunStarted definition, std::int64_t start_us = 1'000'000)
      : journal_(journal), clock_(start_us) {
    state_.run = RunId::New();
    Apply(std::move(definition));
  }
  RunWriter(Journal& journal, const RunId& run, EventBody first, std::int64_t start_us = 1'000'000)
      : journal_(journal), clock_(start_us) {
    state_.run = run;
    Apply(std::move(first));
  }

  RunWriter& Apply(EventBody body, std::optional<Actor> actor = std::nullopt) {
    Event event{clock_, std::move(actor), kSchemaVersion, std::move(body)};
    clock_ += 1000;
    const std::uint64_t expected = state_.seq;
    const Status folded = Evolve(state_, event);
    EXPECT_TRUE(folded.ok()) << folded.ToString();
    auto appended = journal_.Append(state_.run, expected, {Encode(event)});
    EXPECT_TRUE(appended.has_value()) << appended.error().ToString();
    return *this;
  }
  RunWriter& Complete(std::uint32_t step) {
    const StepState& s = state_.steps[step];
    const std::uint32_t attempt = s.attempts + 1, epoch = s.epoch;
    Apply(StepStarted{step, attempt, epoch});
    return Apply(StepCompleted{step, attempt, ToBytes("out"), epoch});
  }
  RunWriter& FailAttempt(std::uint32_t step, bool retryable = true) {
    const StepState& s = state_.steps[step];
    const std::uint32_t attempt = s.attempts + 1, epoch = s.epoch;
    Apply(StepStarted{step, attempt, epoch});
    return Apply(StepFailed{step, attempt, "boom", "it broke", retryable, epoch});
  }
  RunWriter& Fail(std::uint32_t step) { return Apply(RunFailed{step, "boom", "it broke"}); }
  RunWriter& Finish() { return Apply(RunCompleted{ToBytes("done")}); }

  const RunState& state() const { return state_; }
  const RunId& run() const { return state_.run; }

 private:
  Journal& journal_;
  std::int64_t clock_;
  RunState state_;
};

// Appends one append of a generated history, as the engine would.
inline Status AppendToJournal(Journal& journal, const HistoryAppend& append) {
  std::vector<Bytes> payloads;
  for (const Event& e : append.events) payloads.push_back(Encode(e));
  auto appended = journal.Append(append.run, append.expected_seq, std::move(payloads));
  return appended.has_value() ? Status::Ok() : appended.error();
}

inline Actor Operator(std::string subject = "alice", std::string tenant = "acme") {
  return Actor{ActorKind::kUser, std::move(subject), std::move(tenant)};
}

inline RunStarted WorkflowDef(std::string name, std::string tenant, std::vector<StepDef> steps) {
  RunStarted def = Definition(std::move(steps));
  def.workflow = std::move(name);
  def.tenant = std::move(tenant);
  return def;
}

class ProjectionsTest : public ::testing::Test {
 protected:
  JournalOptions JournalOpts() const {
    JournalOptions o;
    o.directory = dir_.Sub("journal");
    o.durability = Durability::kNoSync;
    return o;
  }
  ProjectionsOptions Opts() const {
    ProjectionsOptions o;
    o.snapshot_every = 4;
    o.batch_events = 7;  // small, so catch-ups and rebuilds take several updates
    o.background = false;
    return o;
  }
  void OpenAll(ProjectionsOptions options) {
    projections_.reset();
    if (!journal_) {
      auto j = Journal::Open(JournalOpts());
      ASSERT_TRUE(j.has_value()) << j.error().ToString();
      journal_ = std::move(*j);
    }
    auto p = Projections::Open(*journal_, options);
    ASSERT_TRUE(p.has_value()) << p.error().ToString();
    projections_ = std::move(*p);
  }
  void SetUp() override { OpenAll(Opts()); }

  // The role the header of slot `slot` of projection `name` gives it.
  projections_internal::SlotRole SlotRoleOf(std::string_view name, int slot) {
    auto table = journal_->OpenTable(projections_internal::SlotTableName(name, slot));
    EXPECT_TRUE(table.has_value());
    projections_internal::SlotHeader header;
    EXPECT_THAT(journal_->View([&](const ReadView& view) -> Status {
      REWIND_ASSIGN_OR_RETURN(header, projections_internal::ReadSlotHeader(view, *table));
      return Status::Ok();
    }),
                IsOk());
    return header.role;
  }

  // Overwrites the summary of `run` in slot `slot` of the runs projection
  // with bytes that do not decode.
  void DamageSummary(const RunId& run, int slot) {
    auto table = journal_->OpenTable(projections_internal::SlotTableName("runs", slot));
    ASSERT_TRUE(table.has_value());
    const Bytes key = projections_internal::KeyBuilder('r').Run(run).Take();
    ASSERT_THAT(journal_->Update([&](WriteView& w) { return w.Put(*table, key, AsBytes("garbage")); }), IsOk());
  }

  ProjectionTables DumpAll() { return DumpProjections(*journal_); }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Projections> projections_;
};

}  // namespace rwd::test
