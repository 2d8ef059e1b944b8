// The journal contract every backend keeps (README "Running on several
// machines"; DESIGN: Backends), as one suite run against each backend:
//   * an append names the run's last seq; any other is Conflict, writing nothing;
//   * a run's seqs are dense from 1;
//   * one global order: positions dense from 1, each append's events together,
//     a run's events in seq order;
//   * a run is read whole or by seq range; everything from any position;
//   * an acknowledged append is durable: it is there after the journal is
//     closed and opened again;
//   * every stored event is checksummed and chained to the one before it in
//     its run, and VerifyAll says so.
// A backend is a way to open a journal on the same store again and again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <thread>

#include "rewind/jetstream/upstream.h"
#include "rewind/journal/journal.h"
#include "tests/journal/journal_fixture.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using ::testing::ElementsAre;

struct Backend {
  std::string name;
  // Opens the journal on a store of its own under `dir`, for writing.
  std::function<Result<std::unique_ptr<Journal>>(const std::string& dir)> open;
  friend void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }
};

// One cluster for the whole binary, started by the first test that needs it.
NatsCluster& Cluster() {
  static TempDir dir;  // outlives the cluster: made before it
  static std::unique_ptr<NatsCluster> cluster = NatsCluster::Start(dir.path());
  return *cluster;
}

std::vector<Backend> Backends() {
  return {Backend{"lmdb",
                  [](const std::string& dir) {
                    JournalOptions o;
                    o.directory = dir + "/journal";
                    return Journal::Open(o);
                  }},
          // A mirror in `dir` of a stream of its own (named for `dir`).
          Backend{"jetstream", [](const std::string& dir) -> Result<std::unique_ptr<Journal>> {
                    jetstream::StreamOptions s;
                    s.servers = Cluster().urls();
                    s.stream = "conformance-" + std::to_string(std::hash<std::string>{}(dir));
                    REWIND_ASSIGN_OR_RETURN(std::shared_ptr<Upstream> upstream, jetstream::OpenUpstream(s));
                    JournalOptions o;
                    o.directory = dir + "/mirror";
                    o.upstream = std::move(upstream);
                    return Journal::Open(o);
                  }}};
}

class ConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<Journal> Open() {
    Result<std::unique_ptr<Journal>> j = GetParam().open(dir_.path());
    EXPECT_TRUE(j.has_value()) << j.error().ToString();
    return j.has_value() ? std::move(*j) : nullptr;
  }

  struct Seen {
    RunId run;
    std::uint64_t seq, position;
    std::string payload;
    Hash prev, hash;
  };
  static std::vector<Seen> All(const Journal& j, std::uint64_t from = 1) {
    std::vector<Seen> out;
    const Status s = j.ReadAll(from, Journal::kEnd, [&](const EventRecord& r) {
      out.push_back(Seen{r.run, r.seq, r.position, std::string(AsChars(r.payload)), r.prev_hash(), r.hash()});
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  TempDir dir_;
  const RunId a_ = RunId::New();
  const RunId b_ = RunId::New();
};

TEST_P(ConformanceTest, AnAppendNamesTheRunsLastSeqAndAnyOtherIsAConflictWritingNothing) {
  auto j = Open();
  ASSERT_NE(j, nullptr);
  Result<AppendResult> first = j->Append(a_, 0, Payloads({"a1", "a2"}));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->first_seq, 1u);
  EXPECT_EQ(first->head.seq, 2u);
  for (std::uint64_t stale : {0u, 1u, 3u}) {
    Result<AppendResult> r = j->Append(a_, stale, Payloads({"lost"}));
    ASSERT_FALSE(r.has_value()) << "expected seq " << stale;
    EXPECT_EQ(r.error().code(), Code::kConflict);
  }
  Result<AppendResult> next = j->Append(a_, 2, Payloads({"a3"}));
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_EQ(next->first_seq, 3u);
  std::vector<std::string> payloads;
  for (const Seen& e : All(*j)) payloads.push_back(e.payload);
  EXPECT_THAT(payloads, ElementsAre("a1", "a2", "a3"));
}

TEST_P(ConformanceTest, ConcurrentAppendsFromTheSameSeqExtendARunOnceEach) {
  auto j = Open();
  ASSERT_NE(j, nullptr);
  // Four writers race to extend the run from each seq; exactly one wins each.
  std::atomic<int> won{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (std::uint64_t seq = 0; seq < 25; ++seq) {
        Result<AppendResult> r = j->Append(a_, seq, Payloads({"w" + std::to_string(w)}));
        if (r.has_value()) {
          ++won;
        } else {
          EXPECT_EQ(r.error().code(), Code::kConflict) << r.error().ToString();
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  Result<RunHead> head = j->Head(a_);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(static_cast<std::uint64_t>(won.load()), head->seq);
  std::uint64_t expected = 1;
  for (const Seen& e : All(*j)) EXPECT_EQ(e.seq, expected++);
}

TEST_P(ConformanceTest, OneGlobalOrderOfDensePositionsKeepsEachAppendTogetherAndEachRunInSeqOrder) {
  auto j = Open();
  ASSERT_NE(j, nullptr);
  std::map<RunId, std::uint64_t> heads;
  std::vector<std::pair<std::uint64_t, std::size_t>> appends;  // first position, events
  for (int i = 0; i < 30; ++i) {
    const RunId& run = i % 3 == 0 ? b_ : a_;
    const std::size_t n = 1 + i % 3;
    std::vector<Bytes> payloads;
    for (std::size_t k = 0; k < n; ++k) payloads.push_back(ToBytes(std::to_string(i) + "." + std::to_string(k)));
    Result<AppendResult> r = j->Append(run, heads[run], std::move(payloads));
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    heads[run] += n;
    appends.emplace_back(r->first_position, n);
  }
  const std::vector<Seen> all = All(*j);
  std::map<RunId, std::uint64_t> seqs;
  for (std::size_t p = 0; p < all.size(); ++p) {
    EXPECT_EQ(all[p].position, p + 1);
    EXPECT_EQ(all[p].seq, ++seqs[all[p].run]);
  }
  for (const auto& [first, n] : appends) {
    ASSERT_LE(first + n - 1, all.size());
    for (std::size_t k = 1; k < n; ++k) EXPECT_EQ(all[first - 1 + k].run, all[first - 1].run);
  }
  Result<std::uint64_t> last = j->LastPosition();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, all.size());
  // From any position: the same events from there on.
  const std::vector<Seen> tail = All(*j, 17);
  ASSERT_EQ(tail.size(), all.size() - 16);
  EXPECT_EQ(tail.front().payload, all[16].payload);
}

TEST_P(ConformanceTest, ARunIsReadWholeOrBySeqRangeAndAnUnknownOneIsNotFound) {
  auto j = Open();
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append(a_, 0, Payloads({"1", "2"})).has_value());
  ASSERT_TRUE(j->Append(b_, 0, Payloads({"other"})).has_value());
  ASSERT_TRUE(j->Append(a_, 2, Payloads({"3", "4", "5"})).has_value());
  std::vector<std::string> got;
  auto read = [&](const RunId& run, std::uint64_t from, std::uint64_t to) {
    got.clear();
    return j->ReadRun(run, from, to, [&](const EventRecord& r) {
      got.emplace_back(AsChars(r.payload));
      return Status::Ok();
    });
  };
  ASSERT_TRUE(read(a_, 1, Journal::kEnd).ok());
  EXPECT_THAT(got, ElementsAre("1", "2", "3", "4", "5"));
  ASSERT_TRUE(read(a_, 2, 4).ok());
  EXPECT_THAT(got, ElementsAre("2", "3", "4"));
  EXPECT_EQ(read(RunId::New(), 1, Journal::kEnd).code(), Code::kNotFound);
  Result<RunHead> unknown = j->Head(RunId::New());
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), Code::kNotFound);
}

TEST_P(ConformanceTest, AnAcknowledgedAppendIsThereAfterTheJournalIsOpenedAgain) {
  std::vector<Seen> before;
  {
    auto j = Open();
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->Append(a_, 0, Payloads({"kept", "too"})).has_value());
    std::promise<Result<AppendResult>> done;
    j->AppendAsync(b_, 0, Payloads({"async"}), [&](Result<AppendResult> r) { done.set_value(std::move(r)); });
    ASSERT_TRUE(done.get_future().get().has_value());
    before = All(*j);
  }
  auto j = Open();
  ASSERT_NE(j, nullptr);
  const std::vector<Seen> after = All(*j);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].payload, before[i].payload);
    EXPECT_EQ(after[i].hash, before[i].hash);
  }
  // Seqs and chains go on from where they were.
  Result<AppendResult> more = j->Append(a_, 2, Payloads({"more"}));
  ASSERT_TRUE(more.has_value()) << more.error().ToString();
  EXPECT_EQ(more->first_position, before.size() + 1);
}

TEST_P(ConformanceTest, EveryEventIsChainedToTheOneBeforeItInItsRunAndVerifies) {
  auto j = Open();
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append(a_, 0, Payloads({"1"})).has_value());
  ASSERT_TRUE(j->Append(b_, 0, Payloads({"x", "y"})).has_value());
  ASSERT_TRUE(j->Append(a_, 1, Payloads({"2", "3"})).has_value());
  std::map<RunId, Hash> last;
  for (const Seen& e : All(*j)) {
    EXPECT_EQ(e.prev, last[e.run]) << "seq " << e.seq;  // zero before seq 1
    EXPECT_NE(e.hash, Hash{});
    last[e.run] = e.hash;
  }
  Result<RunHead> head = j->Head(a_);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->hash, last[a_]);
  Result<std::uint64_t> verified = j->VerifyAll();
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(*verified, 5u);
  Result<RunHead> run = j->VerifyRun(b_);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  EXPECT_EQ(run->seq, 2u);
}

TEST_P(ConformanceTest, AWaitForAPositionWakesWhenAnEventPastItIsCommitted) {
  auto j = Open();
  ASSERT_NE(j, nullptr);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(j->Append(a_, 0, Payloads({"late"})).has_value());
  });
  Result<std::uint64_t> at = j->WaitForPosition(0, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  writer.join();
  ASSERT_TRUE(at.has_value()) << at.error().ToString();
  EXPECT_GE(*at, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConformanceTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

}  // namespace
}  // namespace rwd::test
