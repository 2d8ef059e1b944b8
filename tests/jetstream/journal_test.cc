// The JetStream journal beyond the contract every backend keeps
// (tests/conformance): several mirrors of one stream, what a mirror refuses,
// and appends through the loss of cluster nodes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "rewind/jetstream/upstream.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "tests/journal/journal_fixture.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/temp_dir.h"

namespace rwd::jetstream {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

using test::Payloads;

struct Seen {
  RunId run;
  std::uint64_t seq, position;
  std::string payload;
  Hash hash;
  friend bool operator==(const Seen&, const Seen&) = default;
};

std::vector<Seen> All(const Journal& j) {
  std::vector<Seen> out;
  const Status s = j.ReadAll(1, Journal::kEnd, [&](const EventRecord& r) {
    out.push_back(Seen{r.run, r.seq, r.position, std::string(AsChars(r.payload)), r.hash()});
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

class JetStreamJournalTest : public ::testing::Test {
 protected:
  void SetUp() override { cluster_ = test::NatsCluster::Start(dir_.Sub("cluster")); }

  StreamOptions Stream(const std::string& name) const {
    StreamOptions s;
    s.servers = cluster_->urls();
    s.stream = name;
    return s;
  }
  Result<std::unique_ptr<Journal>> Mirror(const std::string& stream, const std::string& dir) {
    REWIND_ASSIGN_OR_RETURN(std::shared_ptr<Upstream> upstream, OpenUpstream(Stream(stream)));
    JournalOptions o;
    o.directory = dir_.Sub(dir);
    o.upstream = std::move(upstream);
    return Journal::Open(o);
  }
  // A mirror, asked for again while the cluster is electing (a node just
  // restarted), for up to 30 s.
  std::unique_ptr<Journal> MirrorOrDie(const std::string& stream, const std::string& dir) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    Result<std::unique_ptr<Journal>> j = Mirror(stream, dir);
    while (!j.has_value() && j.error().code() == Code::kUnavailable && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
      j = Mirror(stream, dir);
    }
    EXPECT_TRUE(j.has_value()) << j.error().ToString();
    return j.has_value() ? std::move(*j) : nullptr;
  }
  // Waits until `j` holds `position` (its mirror caught up).
  static void AwaitPosition(const Journal& j, std::uint64_t position) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      Result<std::uint64_t> at = j.WaitForPosition(position - 1, deadline);
      ASSERT_TRUE(at.has_value()) << at.error().ToString();
      if (*at >= position) return;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the mirror stayed at " << *at;
    }
  }

  test::TempDir dir_;
  std::unique_ptr<test::NatsCluster> cluster_;
};

TEST_F(JetStreamJournalTest, TwoMirrorsOfOneStreamHoldTheSameEventsAtTheSamePositionsAndFenceEachOther) {
  auto a = MirrorOrDie("shared", "a");
  auto b = MirrorOrDie("shared", "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const RunId one = RunId::New(), two = RunId::New();
  ASSERT_TRUE(a->Append(one, 0, Payloads({"a1", "a2"})).has_value());
  ASSERT_TRUE(b->Append(two, 0, Payloads({"b1"})).has_value());
  AwaitPosition(*b, 3);
  // b extends a's run from where it knows it; a, which has not seen that,
  // is fenced off from the same seq.
  ASSERT_TRUE(b->Append(one, 2, Payloads({"by b"})).has_value());
  Result<AppendResult> stale = a->Append(one, 2, Payloads({"by a"}));
  if (stale.has_value()) {
    ADD_FAILURE() << "both extended run " << one.ToString() << " from seq 2";
  } else {
    EXPECT_EQ(stale.error().code(), Code::kConflict) << stale.error().ToString();
  }
  AwaitPosition(*a, 4);
  ASSERT_TRUE(a->Append(one, 3, Payloads({"a again"})).has_value());
  AwaitPosition(*b, 5);
  const std::vector<Seen> in_a = All(*a), in_b = All(*b);
  ASSERT_EQ(in_a.size(), 5u);
  EXPECT_EQ(in_a, in_b);
  // A third process joining later mirrors the same from the log alone.
  auto c = MirrorOrDie("shared", "c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(All(*c), in_a);
  Result<std::uint64_t> verified = c->VerifyAll();
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(c->info().upstream, a->info().upstream);
}

TEST_F(JetStreamJournalTest, OfTwoIdenticalAppendsFromTheSameSeqInTwoMirrorsOnlyOneIsAcknowledged) {
  auto a = MirrorOrDie("twins", "a");
  auto b = MirrorOrDie("twins", "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int round = 0; round < 10; ++round) {
    const RunId run = RunId::New();
    Result<AppendResult> in_a = Err(Code::kInternal, "not run"), in_b = Err(Code::kInternal, "not run");
    std::thread ta([&] { in_a = a->Append(run, 0, Payloads({"the same event"})); });
    std::thread tb([&] { in_b = b->Append(run, 0, Payloads({"the same event"})); });
    ta.join();
    tb.join();
    EXPECT_NE(in_a.has_value(), in_b.has_value()) << "round " << round;
    for (const Result<AppendResult>* r : {&in_a, &in_b}) {
      if (!r->has_value()) {
        EXPECT_EQ(r->error().code(), Code::kConflict) << r->error().ToString();
      }
    }
  }
}

TEST_F(JetStreamJournalTest, ABlobStoredThroughOneMirrorIsInEveryMirrorBeforeTheEventsAppendedAfterIt) {
  auto a = MirrorOrDie("blobs", "a");
  auto b = MirrorOrDie("blobs", "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Result<Hash> hash = a->PutBlob(AsBytes("a definition"));
  ASSERT_TRUE(hash.has_value()) << hash.error().ToString();
  EXPECT_EQ(*hash, Sha256(AsBytes("a definition")));
  Result<Hash> again = b->PutBlob(AsBytes("a definition"));  // harmless
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  ASSERT_TRUE(a->Append(RunId::New(), 0, Payloads({"names it"})).has_value());
  AwaitPosition(*b, 1);
  for (Journal* j : {a.get(), b.get()}) {
    std::string got;
    ASSERT_TRUE(j->View([&](const ReadView& view) -> Status {
                   REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> blob, view.Blob(*hash));
                   if (blob) got = std::string(AsChars(*blob));
                   return Status::Ok();
                 }).ok());
    EXPECT_EQ(got, "a definition");
  }
  auto c = MirrorOrDie("blobs", "c");
  ASSERT_NE(c, nullptr);
  Result<std::uint64_t> verified = c->VerifyAll();  // hashes every blob
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(*verified, 1u);
}

TEST_F(JetStreamJournalTest, AStreamHoldingAMessageThatIsNotARewindRecordIsRefusedAndNothingIsAppended) {
  Result<std::unique_ptr<StreamLog>> log = StreamLog::Open(Stream("foreign"));
  ASSERT_TRUE(log.has_value()) << log.error().ToString();
  ASSERT_TRUE((*log)->Append(SubjectPrefix("foreign") + "x", "junk", 0, AsBytes("not a record")).has_value());
  Result<std::unique_ptr<Journal>> j = Mirror("foreign", "m");
  ASSERT_FALSE(j.has_value());
  EXPECT_EQ(j.error().code(), Code::kCorruption) << j.error().ToString();
  EXPECT_THAT(j.error().message(), HasSubstr("message 1 of the log"));
  EXPECT_THAT(j.error().message(), HasSubstr("is not a Rewind record"));
  Result<std::uint64_t> last = (*log)->LastSeq();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 1u);
}

TEST_F(JetStreamJournalTest, AMirrorIsWrittenOnlyWithTheLogItMirrors) {
  {
    auto m = MirrorOrDie("one", "m");
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->Append(RunId::New(), 0, Payloads({"e"})).has_value());
  }
  JournalOptions plain;
  plain.directory = dir_.Sub("m");
  Result<std::unique_ptr<Journal>> without = Journal::Open(plain);
  ASSERT_FALSE(without.has_value());
  EXPECT_EQ(without.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(without.error().message(), HasSubstr("mirrors the log nats:one@"));
  plain.read_only = true;  // read as it stands
  Result<std::unique_ptr<Journal>> reader = Journal::Open(plain);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  EXPECT_EQ(All(**reader).size(), 1u);
  reader->reset();

  Result<std::unique_ptr<Journal>> other = Mirror("two", "m");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(other.error().message(), HasSubstr("not nats:two@"));

  plain.read_only = false;
  plain.directory = dir_.Sub("plain");
  ASSERT_TRUE(Journal::Open(plain).has_value());
  Result<std::unique_ptr<Journal>> late = Mirror("one", "plain");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(late.error().message(), HasSubstr("is not a mirror"));
}

TEST_F(JetStreamJournalTest, AcknowledgedAppendsSurviveKillingTheStreamLeaderOrAFollower) {
  auto j = MirrorOrDie("kills", "m");
  ASSERT_NE(j, nullptr);
  std::map<RunId, std::uint64_t> heads;
  std::vector<RunId> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(RunId::New());
  std::vector<std::string> acknowledged;
  int n = 0;
  auto append_some = [&](int count) {
    for (int i = 0; i < count; ++i, ++n) {
      const RunId& run = runs[n % runs.size()];
      const std::string text = "event " + std::to_string(n);
      Result<AppendResult> r = j->Append(run, heads[run], Payloads({text}));
      ASSERT_TRUE(r.has_value()) << r.error().ToString();  // the mirror asks again through an election
      heads[run] = r->head.seq;
      acknowledged.push_back(text);
    }
  };
  Result<std::unique_ptr<StreamLog>> log = StreamLog::Open(Stream("kills"));
  ASSERT_TRUE(log.has_value()) << log.error().ToString();
  for (int round = 0; round < 4; ++round) {
    append_some(10);
    int victim = cluster_->LeaderOf(**log);
    ASSERT_GE(victim, 0) << "the stream has no leader";
    if (round % 2 == 1) victim = (victim + 1) % cluster_->size();
    cluster_->Kill(victim);
    append_some(10);  // through the election, on the two nodes left
    cluster_->Restart(victim);
  }
  // Every acknowledged event once, in a new mirror as in the old.
  auto fresh = MirrorOrDie("kills", "fresh");
  ASSERT_NE(fresh, nullptr);
  const std::vector<Seen> all = All(*fresh);
  ASSERT_EQ(all.size(), acknowledged.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].payload, acknowledged[i]);
  EXPECT_EQ(All(*j), all);
  EXPECT_TRUE(fresh->VerifyAll().has_value());
}

}  // namespace
}  // namespace rwd::jetstream
