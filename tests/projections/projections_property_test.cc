// Projections are functions of the journal: whatever way they were kept up to
// date — inline with each append, in catch-up batches of any size, after
// being detached while events arrived, across reopening the journal — they
// equal, byte for byte, the projections rebuilt from scratch; and StateAt
// through snapshots equals a fresh fold at every seq.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "tests/projections/projections_fixture.h"
#include "tests/support/random_history.h"

namespace rwd::test {
namespace {

enum class Move { kNothing, kCatchUp, kDetach, kAttach, kReopenJournal };

RC_GTEST_PROP(ProjectionsPropertyTest, RebuiltEqualsMaintainedWhateverTheInterleaving, ()) {
  const std::vector<HistoryAppend> history = *GenHistory();
  const auto moves = *rc::gen::container<std::vector<Move>>(
      history.size(), rc::gen::weightedElement<Move>({{8, Move::kNothing},
                                                      {2, Move::kCatchUp},
                                                      {1, Move::kDetach},
                                                      {1, Move::kAttach},
                                                      {1, Move::kReopenJournal}}));
  ProjectionsOptions options;
  options.snapshot_every = *rc::gen::inRange<std::uint32_t>(1, 6);
  options.batch_events = *rc::gen::inRange<std::size_t>(1, 20);
  options.background = false;

  TempDir dir;
  JournalOptions jo;
  jo.directory = dir.Sub("journal");
  jo.durability = Durability::kNoSync;
  std::unique_ptr<Journal> journal = std::move(*Journal::Open(jo));
  std::unique_ptr<Projections> projections = std::move(*Projections::Open(*journal, options));
  auto attach = [&] {
    if (!projections) projections = std::move(*Projections::Open(*journal, options));
  };
  for (std::size_t i = 0; i < history.size(); ++i) {
    switch (moves[i]) {
      case Move::kNothing: break;
      case Move::kCatchUp:
        attach();
        RC_ASSERT(projections->CatchUp().ok());
        break;
      case Move::kDetach: projections.reset(); break;
      case Move::kAttach: attach(); break;
      case Move::kReopenJournal: {
        const bool attached = projections != nullptr;
        projections.reset();
        journal.reset();
        journal = std::move(*Journal::Open(jo));
        if (attached) attach();
        break;
      }
    }
    RC_ASSERT(AppendToJournal(*journal, history[i]).ok());
  }
  attach();
  RC_ASSERT(projections->CatchUp().ok());
  const auto maintained = DumpProjections(*journal);
  RC_ASSERT(projections->Rebuild({}).ok());
  RC_ASSERT(maintained == DumpProjections(*journal));

  // StateAt through snapshots equals a fresh fold at every seq of every run.
  std::map<RunId, std::vector<Event>> runs;
  for (const HistoryAppend& a : history) {
    runs[a.run].insert(runs[a.run].end(), a.events.begin(), a.events.end());
  }
  for (const auto& [run, events] : runs) {
    RunState fresh;
    fresh.run = run;
    for (std::size_t k = 0; k < events.size(); ++k) {
      RC_ASSERT(Evolve(fresh, events[k]).ok());
      auto at = projections->StateAt(run, k + 1);
      RC_ASSERT(at.has_value());
      RC_ASSERT(*at == fresh);
    }
    auto summary = projections->Summary(run);
    RC_ASSERT(summary.has_value());
    RC_ASSERT(summary->status == fresh.status);
    RC_ASSERT(summary->events == fresh.seq);
  }
  projections.reset();
}

}  // namespace
}  // namespace rwd::test
