#include "rewind/jetstream/stream_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "tests/support/nats_cluster.h"
#include "tests/support/temp_dir.h"

namespace rwd::jetstream {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(StreamUrlTest, NamesServersAndStream) {
  Result<StreamOptions> o = ParseStreamUrl("nats://127.0.0.1:4222,localhost:4223/orders-1");
  ASSERT_TRUE(o.has_value()) << o.error().ToString();
  EXPECT_THAT(o->servers, ::testing::ElementsAre("nats://127.0.0.1:4222", "nats://localhost:4223"));
  EXPECT_EQ(o->stream, "orders-1");
  EXPECT_EQ(o->replicas, 3);
}

TEST(StreamUrlTest, BadUrlsAreNamedWithWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"http://127.0.0.1:4222/s", "does not start with nats://"},
      {"nats://127.0.0.1:4222", "names no stream"},
      {"nats://127.0.0.1:4222/", "stream name"},
      {"nats://127.0.0.1:4222/a.b", "stream name"},
      {"nats://127.0.0.1/s", "HOST:PORT"},
      {"nats://:4222/s", "HOST:PORT"},
      {"nats://127.0.0.1:99999/s", "port"},
      {"nats://127.0.0.1:42x/s", "port"},
      {"nats://127.0.0.1:4222,/s", "HOST:PORT"},
  };
  for (const auto& [url, why] : cases) {
    Result<StreamOptions> o = ParseStreamUrl(url);
    ASSERT_FALSE(o.has_value()) << url;
    EXPECT_EQ(o.error().code(), Code::kInvalidArgument) << url;
    EXPECT_THAT(o.error().message(), HasSubstr(why)) << url;
  }
}

TEST(StreamLogTest, NoServerAnsweringIsUnavailableNamingTheServer) {
  StreamOptions o;
  o.servers = {"nats://127.0.0.1:1"};
  o.stream = "s";
  o.timeout = 500ms;
  Result<std::unique_ptr<StreamLog>> log = StreamLog::Open(o);
  ASSERT_FALSE(log.has_value());
  EXPECT_EQ(log.error().code(), Code::kUnavailable) << log.error().ToString();
  EXPECT_THAT(log.error().message(), HasSubstr("127.0.0.1:1"));
}

class StreamLogClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { cluster_ = test::NatsCluster::Start(dir_.path()); }

  std::unique_ptr<StreamLog> Open(const std::string& stream, int replicas = 3) {
    StreamOptions o;
    o.servers = cluster_->urls();
    o.stream = stream;
    o.replicas = replicas;
    Result<std::unique_ptr<StreamLog>> log = StreamLog::Open(o);
    EXPECT_TRUE(log.has_value()) << log.error().ToString();
    return log.has_value() ? std::move(*log) : nullptr;
  }

  // Every message from `from` to the stream's last one as the call finds
  // it (a quiet second is no proof of the end while a node catches up).
  // Followed again from where it stopped while the cluster is electing, for
  // up to a minute.
  static std::vector<StoredMessage> ReadAll(StreamLog& log, std::uint64_t from) {
    std::vector<StoredMessage> out;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::uint64_t last = 0;
    for (Result<std::uint64_t> l = log.LastSeq();; l = log.LastSeq()) {
      if (l.has_value()) {
        last = *l;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "the stream's end could not be read: " << l.error().ToString();
        return out;
      }
      std::this_thread::sleep_for(100ms);
    }
    while (from + out.size() <= last) {
      Status lost;
      if (Result<std::unique_ptr<StreamLog::Follower>> f = log.Follow(from + out.size()); f.has_value()) {
        while (from + out.size() <= last) {
          Result<std::optional<StoredMessage>> m = (*f)->Next(1s);
          if (!m.has_value()) {
            lost = m.error();
            break;
          }
          if (*m) out.push_back(std::move(**m));
          if (std::chrono::steady_clock::now() > deadline) break;
        }
      } else {
        lost = f.error();
      }
      if (from + out.size() > last) break;
      if (std::chrono::steady_clock::now() > deadline || (!lost.ok() && lost.code() != Code::kUnavailable)) {
        ADD_FAILURE() << "the stream could not be read to its end (" << last << "): " << lost.ToString();
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    return out;
  }

  test::TempDir dir_;
  std::unique_ptr<test::NatsCluster> cluster_;
};

TEST_F(StreamLogClusterTest, AnAppendExtendsASubjectOnlyFromItsLastMessage) {
  auto log = Open("fence");
  ASSERT_NE(log, nullptr);
  const std::string a = SubjectPrefix("fence") + "a", b = SubjectPrefix("fence") + "b";
  Result<Appended> first = log->Append(a, "a1", 0, AsBytes("one"));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->stream_seq, 1u);
  EXPECT_FALSE(first->duplicate);

  // A second writer that read the subject before the first append.
  Result<Appended> stale = log->Append(a, "a1-other", 0, AsBytes("other"));
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code(), Code::kConflict);
  EXPECT_THAT(stale.error().message(), HasSubstr("'" + a + "'"));
  Result<Appended> wrong = log->Append(a, "a2-other", 7, AsBytes("other"));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), Code::kConflict);

  Result<Appended> second = log->Append(a, "a2", 1, AsBytes("two"));
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(second->stream_seq, 2u);
  // Another subject's first message is fenced by its own (none), not a's.
  Result<Appended> other = log->Append(b, "b1", 0, AsBytes("b"));
  ASSERT_TRUE(other.has_value()) << other.error().ToString();
  EXPECT_EQ(other->stream_seq, 3u);

  const std::vector<StoredMessage> all = ReadAll(*log, 1);
  ASSERT_EQ(all.size(), 3u);  // nothing of the refused appends
  EXPECT_EQ(AsChars(all[0].data), "one");
  EXPECT_EQ(AsChars(all[1].data), "two");
  EXPECT_EQ(all[2].subject, b);
  EXPECT_EQ(all[1].msg_id, "a2");
  Result<std::uint64_t> last = log->LastSeq();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 3u);
}

TEST_F(StreamLogClusterTest, ARepeatedMessageIdStoresNothingNewAndAnswersTheFirstSequence) {
  auto log = Open("dedup");
  ASSERT_NE(log, nullptr);
  const std::string a = SubjectPrefix("dedup") + "a";
  ASSERT_TRUE(log->Append(a, "x", 0, AsBytes("first")).has_value());
  ASSERT_TRUE(log->Append(a, "y", 1, AsBytes("second")).has_value());
  // The first append again, as after a timeout: its expectation no longer
  // holds, and it is still answered as stored.
  Result<Appended> again = log->Append(a, "x", 0, AsBytes("first"));
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->stream_seq, 1u);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(ReadAll(*log, 1).size(), 2u);
}

TEST_F(StreamLogClusterTest, AFollowerReadsEveryMessageOnceInOrderFromAnySequence) {
  auto log = Open("order");
  ASSERT_NE(log, nullptr);
  std::map<std::string, std::uint64_t> last;  // subject → its last stream seq
  for (int i = 0; i < 60; ++i) {
    const std::string subject = SubjectPrefix("order") + "r" + std::to_string(i % 7);
    Result<Appended> r = log->Append(subject, "m" + std::to_string(i), last[subject], AsBytes(std::to_string(i)));
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    last[subject] = r->stream_seq;
  }
  for (std::uint64_t from : {1u, 2u, 37u, 60u, 61u}) {
    const std::vector<StoredMessage> got = ReadAll(*log, from);
    ASSERT_EQ(got.size(), 61 - from) << "from " << from;
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].stream_seq, from + k);
      EXPECT_EQ(AsChars(got[k].data), std::to_string(from + k - 1));
    }
  }
}

TEST_F(StreamLogClusterTest, AStreamWithOtherSettingsIsRefusedNamingTheSetting) {
  ASSERT_NE(Open("one-replica", 1), nullptr);
  StreamOptions o;
  o.servers = cluster_->urls();
  o.stream = "one-replica";
  Result<std::unique_ptr<StreamLog>> log = StreamLog::Open(o);
  ASSERT_FALSE(log.has_value());
  EXPECT_EQ(log.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(log.error().message(), HasSubstr("replicas (1, not 3)"));
}

// Appends `data` until it is acknowledged (the same message id each time),
// as a writer does through an election; fails the test after a minute, as
// long as a mirror waits.
Appended AppendThrough(StreamLog& log, const std::string& subject, const std::string& id, std::uint64_t expected,
                       const std::string& data) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    Result<Appended> r = log.Append(subject, id, expected, AsBytes(data));
    if (r.has_value()) return *r;
    EXPECT_EQ(r.error().code(), Code::kUnavailable) << r.error().ToString();
    if (r.error().code() != Code::kUnavailable || std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "not acknowledged: " << r.error().ToString();
      return {};
    }
    std::this_thread::sleep_for(100ms);
  }
}

TEST_F(StreamLogClusterTest, AcknowledgedAppendsSurviveKillingTheLeaderOrAFollower) {
  auto log = Open("kills");
  ASSERT_NE(log, nullptr);
  std::map<std::uint64_t, std::string> acknowledged;
  std::map<std::string, std::uint64_t> last;
  int n = 0;
  auto append_some = [&](int count) {
    for (int i = 0; i < count; ++i, ++n) {
      const std::string subject = SubjectPrefix("kills") + "r" + std::to_string(n % 5);
      const std::string data = "event " + std::to_string(n);
      const Appended a = AppendThrough(*log, subject, "id" + std::to_string(n), last[subject], data);
      ASSERT_NE(a.stream_seq, 0u) << "event " << n << " was not acknowledged";
      ASSERT_EQ(acknowledged.count(a.stream_seq), 0u) << "seq " << a.stream_seq << " acknowledged twice";
      acknowledged[a.stream_seq] = data;
      last[subject] = a.stream_seq;
    }
  };
  for (int round = 0; round < 4; ++round) {
    append_some(15);
    int victim = cluster_->LeaderOf(*log);
    ASSERT_GE(victim, 0) << "the stream has no leader";
    if (round % 2 == 1) victim = (victim + 1) % cluster_->size();  // a follower
    cluster_->Kill(victim);
    append_some(15);  // through the election, on the two left
    cluster_->Restart(victim);
  }
  const std::vector<StoredMessage> all = ReadAll(*log, 1);
  ASSERT_EQ(all.size(), acknowledged.size());
  for (std::size_t k = 0; k < all.size(); ++k) {
    EXPECT_EQ(all[k].stream_seq, k + 1);
    EXPECT_EQ(AsChars(all[k].data), acknowledged[k + 1]);
  }
}

}  // namespace
}  // namespace rwd::jetstream
