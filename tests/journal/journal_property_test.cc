// Properties of the journal against an in-memory model: random sequences of
// appends (right and wrong expected seqs), batches queued together so that one
// group commit holds several of them, and reopens; in both formats at once,
// which must read back the same events with the same chain hashes, from any
// position and any seq (format 2 keeps an append's events in one record).
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

// What a reader sees of one event, hashes included.
struct Seen {
  std::uint64_t position = 0;
  int run = 0;
  std::uint64_t seq = 0;
  std::string payload;
  Hash prev_hash{};
  Hash hash{};
  friend bool operator==(const Seen&, const Seen&) = default;
};

class Harness {
 public:
  static constexpr std::uint32_t kFormats[] = {1, 2};

  Harness() {
    for (auto& id : ids_) id = RunId::New();
    Open();
  }
  void Open() {
    for (std::size_t f = 0; f < std::size(kFormats); ++f) {
      journals_[f].reset();
      JournalOptions o;
      o.directory = dir_.Sub("format" + std::to_string(kFormats[f]));
      o.durability = Durability::kNoSync;
      o.new_format_version = kFormats[f];
      auto j = Journal::Open(o);
      RC_ASSERT(j.has_value());
      RC_ASSERT((*j)->info().format_version == kFormats[f]);
      journals_[f] = std::move(*j);
    }
  }

  // Queues the whole batch before waiting, then checks each outcome against the model.
  void Apply(const std::vector<AppendOp>& batch) {
    std::vector<std::future<Result<AppendResult>>> futures[std::size(kFormats)];
    std::vector<std::uint64_t> expected;
    for (const AppendOp& op : batch) {
      const std::uint64_t at = model_.runs[op.run].size();
      const std::int64_t want = static_cast<std::int64_t>(at) + op.seq_skew;
      expected.push_back(want < 0 ? 0 : static_cast<std::uint64_t>(want));
      for (std::size_t f = 0; f < std::size(kFormats); ++f) {
        auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
        futures[f].push_back(promise->get_future());
        std::vector<Bytes> payloads;
        for (const auto& p : op.payloads) payloads.push_back(ToBytes(p));
        journals_[f]->AppendAsync(ids_[op.run], expected.back(), std::move(payloads),
                                  [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
      }
      // The model applies in queue order, exactly as the writer must.
      if (expected.back() == at) {
        for (const auto& p : op.payloads) {
          model_.runs[op.run].push_back(p);
          model_.global.emplace_back(op.run, p);
        }
      }
    }
    for (auto& per_format : futures) {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const Result<AppendResult> r = per_format[i].get();
        if (r.has_value()) {
          RC_ASSERT(r->first_seq == expected[i] + 1);
          RC_ASSERT(r->head.seq == expected[i] + batch[i].payloads.size());
        } else {
          RC_ASSERT(r.error().code() == Code::kConflict);
        }
      }
    }
  }

  void CheckAgainstModel() {
    std::vector<Seen> all[std::size(kFormats)];
    for (std::size_t f = 0; f < std::size(kFormats); ++f) {
      all[f] = Check(*journals_[f]);
    }
    RC_ASSERT(all[0] == all[1]);
    // A read from anywhere is the matching part of the whole.
    if (all[0].empty()) return;
    const auto from = *rc::gen::inRange<std::uint64_t>(1, all[0].size() + 1);
    const auto to = *rc::gen::inRange<std::uint64_t>(from, all[0].size() + 2);
    const int run = *rc::gen::inRange(0, kRuns);
    const auto from_seq = *rc::gen::inRange<std::uint64_t>(1, model_.runs[run].size() + 2);
    for (auto& journal : journals_) {
      std::vector<Seen> part;
      RC_ASSERT(journal->ReadAll(from, to, [&](const EventRecord& r) {
        part.push_back(SeenOf(r));
        return Status::Ok();
      }).ok());
      RC_ASSERT(part == std::vector<Seen>(all[0].begin() + static_cast<std::ptrdiff_t>(from - 1),
                                          all[0].begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(to, all[0].size()))));
      std::vector<Seen> of_run, want;
      for (const Seen& e : all[0]) {
        if (e.run == run && e.seq >= from_seq) want.push_back(e);
      }
      const Status read = journal->ReadRun(ids_[run], from_seq, Journal::kEnd, [&](const EventRecord& r) {
        of_run.push_back(SeenOf(r));
        return Status::Ok();
      });
      RC_ASSERT((model_.runs[run].empty() ? read.code() == Code::kNotFound : read.ok()));
      RC_ASSERT(of_run == want);
      if (!want.empty()) {
        const auto head = journal->Head(ids_[run]);
        RC_ASSERT(head.has_value());
        RC_ASSERT(head->seq == want.back().seq && head->hash == want.back().hash);
      }
    }
  }

 private:
  Seen SeenOf(const EventRecord& r) const {
    int run = 0;
    while (ids_[run] != r.run) ++run;
    return Seen{r.position, run, r.seq, std::string(AsChars(r.payload)), r.prev_hash(), r.hash()};
  }

  std::vector<Seen> Check(const Journal& journal) {
    std::vector<Seen> seen;
    std::vector<std::pair<int, std::string>> global;
    std::uint64_t next_position = 1;
    RC_ASSERT(journal.ReadAll(1, Journal::kEnd, [&](const EventRecord& r) {
      RC_ASSERT(r.position == next_position++);
      seen.push_back(SeenOf(r));
      global.emplace_back(seen.back().run, seen.back().payload);
      return Status::Ok();
    }).ok());
    RC_ASSERT(global == model_.global);
    RC_ASSERT(journal.LastPosition().value() == global.size());
    for (int run = 0; run < kRuns; ++run) {
      const auto& want = model_.runs[run];
      std::vector<std::string> got;
      std::uint64_t seq = 0;
      const Status s = journal.ReadRun(ids_[run], 1, Journal::kEnd, [&](const EventRecord& r) {
        RC_ASSERT(r.seq == ++seq);
        got.emplace_back(AsChars(r.payload));
        return Status::Ok();
      });
      RC_ASSERT((want.empty() ? s.code() == Code::kNotFound : s.ok()));
      RC_ASSERT(got == want);
    }
    const auto verified = journal.VerifyAll();
    RC_ASSERT(verified.has_value());
    RC_ASSERT(*verified == model_.global.size());
    return seen;
  }

  TempDir dir_;
  std::array<RunId, kRuns> ids_;
  std::unique_ptr<Journal> journals_[std::size(kFormats)];
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

RC_GTEST_PROP(JournalPropertyTest, FlippingAnyBitOfAnyStoredRecordIsCorruption, ()) {
  // Appends of one or more events: each append is one record.
  const auto appends = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::vector<std::string>>>(
      rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>()))));
  TempDir dir;
  JournalOptions o;
  o.directory = dir.Sub("j");
  o.durability = Durability::kNoSync;
  const RunId run = RunId::New();
  std::vector<std::uint64_t> keys;  // each record's: the position of its last event
  {
    auto j = Journal::Open(o);
    RC_ASSERT(j.has_value());
    std::uint64_t seq = 0;
    for (const auto& append : appends) {
      std::vector<Bytes> bytes;
      for (const auto& p : append) bytes.push_back(ToBytes(p));
      const auto done = (*j)->Append(run, seq, std::move(bytes));
      RC_ASSERT(done.has_value());
      keys.push_back(done->first_position + append.size() - 1);
      seq += append.size();
    }
  }
  const std::uint64_t position = *rc::gen::elementOf(keys);
  {
    RawStore raw(o.directory);
    Bytes stored = raw.GetEvent(position).value();
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
