// Properties of the journal against an in-memory model: random sequences of
// appends (right and wrong expected seqs), batches queued together so that one
// group commit holds several of them, and reopens.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <future>
#include <map>
#include <string>
#include <vector>

#include "rewind/journal/journal.h"
#include "tests/journal/raw_store.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

constexpr int kRuns = 4;

struct AppendOp {
  int run = 0;           // index into the test's run ids
  int seq_skew = 0;      // 0: the right expected seq; otherwise off by this much
  std::vector<std::string> payloads;
};

// One step: a batch of appends queued together (one or more group commits),
// or a reopen of the journal when `reopen` is set.
struct Step {
  bool reopen = false;
  std::vector<AppendOp> batch;
};

rc::Gen<AppendOp> GenAppend() {
  return rc::gen::build<AppendOp>(
      rc::gen::set(&AppendOp::run, rc::gen::inRange(0, kRuns)),
      rc::gen::set(&AppendOp::seq_skew,
                   rc::gen::weightedOneOf<int>({{8, rc::gen::just(0)},
                                                {2, rc::gen::element(-2, -1, 1, 2, 3)}})),
      rc::gen::set(&AppendOp::payloads,
                   rc::gen::resize(4, rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
                                          rc::gen::string<std::string>())))));
}

rc::Gen<Step> GenStep() {
  return rc::gen::weightedOneOf<Step>(
      {{1, rc::gen::just(Step{true, {}})},
       {8, rc::gen::map(rc::gen::resize(6, rc::gen::nonEmpty(
                                               rc::gen::container<std::vector<AppendOp>>(GenAppend()))),
                        [](std::vector<AppendOp> b) { return Step{false, std::move(b)}; })}});
}

struct Model {
  std::map<int, std::vector<std::string>> runs;  // run index -> payloads by seq
  std::vector<std::pair<int, std::string>> global;
};

class Harness {
 public:
  Harness() {
    for (auto& id : ids_) id = RunId::New();
    Open();
  }
  void Open() {
    journal_.reset();
    JournalOptions o;
    o.directory = dir_.Sub("j");
    o.durability = Durability::kNoSync;
    auto j = Journal::Open(o);
    RC_ASSERT(j.has_value());
    journal_ = std::move(*j);
  }

  // Queues the whole batch before waiting, then checks each outcome against the model.
  void Apply(const std::vector<AppendOp>& batch) {
    std::vector<std::future<Result<AppendResult>>> futures;
    std::vector<std::uint64_t> expected;
    for (const AppendOp& op : batch) {
      const std::uint64_t at = model_.runs[op.run].size();
      const std::int64_t want = static_cast<std::int64_t>(at) + op.seq_skew;
      expected.push_back(want < 0 ? 0 : static_cast<std::uint64_t>(want));
      auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
      futures.push_back(promise->get_future());
      std::vector<Bytes> payloads;
      for (const auto& p : op.payloads) payloads.push_back(ToBytes(p));
      journal_->AppendAsync(ids_[op.run], expected.back(), std::move(payloads),
                            [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
      // The model applies in queue order, exactly as the writer must.
      if (expected.back() == at) {
        for (const auto& p : op.payloads) {
          model_.runs[op.run].push_back(p);
          model_.global.emplace_back(op.run, p);
        }
      }
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Result<AppendResult> r = futures[i].get();
      if (r.has_value()) {
        RC_ASSERT(r->first_seq == expected[i] + 1);
        RC_ASSERT(r->head.seq == expected[i] + batch[i].payloads.size());
      } else {
        RC_ASSERT(r.error().code() == Code::kConflict);
      }
    }
  }

  void CheckAgainstModel() {
    std::vector<std::pair<int, std::string>> global;
    std::uint64_t next_position = 1;
    RC_ASSERT(journal_->ReadAll(1, Journal::kEnd, [&](const EventRecord& r) {
      RC_ASSERT(r.position == next_position++);
      int run = 0;
      while (ids_[run] != r.run) ++run;
      global.emplace_back(run, std::string(AsChars(r.payload)));
      return Status::Ok();
    }).ok());
    RC_ASSERT(global == model_.global);
    for (int run = 0; run < kRuns; ++run) {
      const auto& want = model_.runs[run];
      std::vector<std::string> got;
      std::uint64_t seq = 0;
      const Status s = journal_->ReadRun(ids_[run], 1, Journal::kEnd, [&](const EventRecord& r) {
        RC_ASSERT(r.seq == ++seq);
        got.emplace_back(AsChars(r.payload));
        return Status::Ok();
      });
      RC_ASSERT((want.empty() ? s.code() == Code::kNotFound : s.ok()));
      RC_ASSERT(got == want);
    }
    const auto verified = journal_->VerifyAll();
    RC_ASSERT(verified.has_value());
    RC_ASSERT(*verified == model_.global.size());
  }

 private:
  TempDir dir_;
  std::array<RunId, kRuns> ids_;
  std::unique_ptr<Journal> journal_;
  Model model_;
};

RC_GTEST_PROP(JournalPropertyTest, BehavesAsTheModelUnderAppendsConflictsBatchesAndReopens, ()) {
  const auto steps = *rc::gen::resize(30, rc::gen::container<std::vector<Step>>(GenStep()));
  Harness h;
  for (const Step& step : steps) {
    if (step.reopen) {
      h.Open();
    } else {
      h.Apply(step.batch);
    }
    h.CheckAgainstModel();
  }
}

RC_GTEST_PROP(JournalPropertyTest, FlippingAnyBitOfAnyStoredEventIsCorruption, ()) {
  const auto payloads = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
      rc::gen::string<std::string>()));
  TempDir dir;
  JournalOptions o;
  o.directory = dir.Sub("j");
  o.durability = Durability::kNoSync;
  const RunId run = RunId::New();
  {
    auto j = Journal::Open(o);
    RC_ASSERT(j.has_value());
    std::vector<Bytes> bytes;
    for (const auto& p : payloads) bytes.push_back(ToBytes(p));
    RC_ASSERT((*j)->Append(run, 0, std::move(bytes)).has_value());
  }
  const auto position = *rc::gen::inRange<std::uint64_t>(1, payloads.size() + 1);
  {
    RawStore raw(o.directory);
    Bytes stored = *raw.GetEvent(position);
    const auto offset = *rc::gen::inRange<std::size_t>(0, stored.size());
    const auto bit = *rc::gen::inRange(0, 8);
    stored[offset] = static_cast<std::uint8_t>(stored[offset] ^ (1u << bit));
    raw.PutEvent(position, stored);
  }
  auto j = Journal::Open(o);
  RC_ASSERT(j.has_value());
  const auto noop = [](const EventRecord&) { return Status::Ok(); };
  RC_ASSERT((*j)->ReadAll(1, Journal::kEnd, noop).code() == Code::kCorruption);
  RC_ASSERT((*j)->ReadRun(run, 1, Journal::kEnd, noop).code() == Code::kCorruption);
  RC_ASSERT((*j)->VerifyAll().error().code() == Code::kCorruption);
}

}  // namespace
}  // namespace rwd::test
