#include "rewind/journal/tables.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "tests/journal/journal_fixture.h"

namespace rwd::test {
namespace {

class TablesTest : public JournalTest {
 protected:
  void SetUp() override {
    journal_ = OpenOrDie();
    auto t = journal_->OpenTable("things");
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    table_ = *t;
  }

  Status Put(std::string_view key, std::string_view value) {
    return journal_->Update([&](WriteView& w) { return w.Put(table_, AsBytes(key), AsBytes(value)); });
  }

  std::optional<std::string> Get(const Journal& j, const Table& table, std::string_view key) {
    std::optional<std::string> out;
    EXPECT_THAT(j.View([&](const ReadView& r) -> Status {
      REWIND_ASSIGN_OR_RETURN(auto v, r.Get(table, AsBytes(key)));
      if (v) out = std::string(AsChars(*v));
      return Status::Ok();
    }),
                IsOk());
    return out;
  }

  std::vector<std::string> Keys() {
    std::vector<std::string> keys;
    EXPECT_THAT(journal_->View([&](const ReadView& r) -> Status {
      REWIND_ASSIGN_OR_RETURN(TableCursor c, r.Cursor(table_));
      for (auto at = c.First(); at.has_value() && *at; at = c.Next()) keys.emplace_back(AsChars(c.key()));
      return Status::Ok();
    }),
                IsOk());
    return keys;
  }

  std::unique_ptr<Journal> journal_;
  Table table_;
};

TEST_F(TablesTest, AnUpdateIsVisibleToLaterReads) {
  ASSERT_THAT(Put("k", "v"), IsOk());
  EXPECT_EQ(Get(*journal_, table_, "k"), "v");
  EXPECT_EQ(Get(*journal_, table_, "absent"), std::nullopt);
}

TEST_F(TablesTest, AFailedUpdateWritesNothing) {
  const Status s = journal_->Update([&](WriteView& w) -> Status {
    REWIND_RETURN_IF_ERROR(w.Put(table_, AsBytes("k"), AsBytes("v")));
    return Status(Code::kConflict, "changed my mind");
  });
  EXPECT_THAT(s, HasCode(Code::kConflict));
  EXPECT_EQ(Get(*journal_, table_, "k"), std::nullopt);
}

TEST_F(TablesTest, CursorWalksKeysInOrderAndSeeksAroundThem) {
  for (const char* k : {"b", "d", "a", "c"}) ASSERT_THAT(Put(k, "x"), IsOk());
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "b", "c", "d"}));
  ASSERT_THAT(journal_->View([&](const ReadView& r) -> Status {
    REWIND_ASSIGN_OR_RETURN(TableCursor c, r.Cursor(table_));
    EXPECT_EQ(c.Seek(AsBytes("bb")), true);
    EXPECT_EQ(AsChars(c.key()), "c");
    EXPECT_EQ(c.SeekAtOrBefore(AsBytes("bb")), true);
    EXPECT_EQ(AsChars(c.key()), "b");
    EXPECT_EQ(c.SeekAtOrBefore(AsBytes("c")), true);
    EXPECT_EQ(AsChars(c.key()), "c");
    EXPECT_EQ(c.SeekAtOrBefore(AsBytes("0")), false);
    EXPECT_EQ(c.SeekAtOrBefore(AsBytes("z")), true);
    EXPECT_EQ(AsChars(c.key()), "d");
    EXPECT_EQ(c.Seek(AsBytes("e")), false);
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(TablesTest, DeleteAndClearRemoveEntries) {
  for (const char* k : {"a", "b", "c"}) ASSERT_THAT(Put(k, "x"), IsOk());
  ASSERT_THAT(journal_->Update([&](WriteView& w) { return w.Delete(table_, AsBytes("b")); }), IsOk());
  ASSERT_THAT(journal_->Update([&](WriteView& w) { return w.Delete(table_, AsBytes("absent")); }), IsOk());
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "c"}));
  ASSERT_THAT(journal_->Update([&](WriteView& w) { return w.Clear(table_); }), IsOk());
  EXPECT_TRUE(Keys().empty());
}

TEST_F(TablesTest, TablesSurviveReopenAndAreReadableReadOnly) {
  ASSERT_THAT(Put("k", "v"), IsOk());
  journal_.reset();
  JournalOptions o = Options();
  o.read_only = true;
  auto ro = OpenOrDie(o);
  auto t = ro->OpenTable("things");
  ASSERT_TRUE(t.has_value()) << t.error().ToString();
  EXPECT_EQ(Get(*ro, *t, "k"), "v");
  EXPECT_THAT(ro->OpenTable("missing").error(), HasCode(Code::kNotFound));
  EXPECT_THAT(ro->Update([](WriteView&) { return Status::Ok(); }), HasCode(Code::kFailedPrecondition));
}

TEST_F(TablesTest, OpeningANameTwiceGivesTheSameTable) {
  auto again = journal_->OpenTable("things");
  ASSERT_TRUE(again.has_value());
  ASSERT_THAT(Put("k", "v"), IsOk());
  EXPECT_EQ(Get(*journal_, *again, "k"), "v");
  EXPECT_THAT(journal_->OpenTable("").error(), HasCode(Code::kInvalidArgument));
}

TEST_F(TablesTest, ReadViewSeesEventsAndTablesInOneSnapshot) {
  ASSERT_TRUE(journal_->Append(a_, 0, Payloads({"one", "two"})).has_value());
  ASSERT_THAT(journal_->View([&](const ReadView& r) -> Status {
    EXPECT_EQ(r.LastSeq(a_), 2u);
    EXPECT_EQ(r.LastSeq(b_), 0u);
    EXPECT_EQ(r.LastPosition(), 2u);
    std::vector<std::string> seen;
    REWIND_RETURN_IF_ERROR(r.ReadRun(a_, 1, Journal::kEnd, [&](const EventRecord& e) {
      seen.emplace_back(AsChars(e.payload));
      return Status::Ok();
    }));
    EXPECT_EQ(seen, (std::vector<std::string>{"one", "two"}));
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(TablesTest, CommitHookSeesEveryBatchAndWritesWithIt) {
  std::atomic<int> finished_ok{0};
  ASSERT_THAT(journal_->SetCommitHook(CommitHook{
                  [&](WriteView& w, std::span<const EventRecord> events) -> Status {
                    for (const EventRecord& e : events) {
                      REWIND_RETURN_IF_ERROR(w.Put(table_, e.payload, e.run.bytes()));
                    }
                    return Status::Ok();
                  },
                  [&](const Status& s) { finished_ok += s.ok() ? 1 : 0; }}),
              IsOk());
  ASSERT_TRUE(journal_->Append(a_, 0, Payloads({"one", "two"})).has_value());
  EXPECT_EQ(Keys(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(finished_ok.load(), 1);
}

TEST_F(TablesTest, AFailingCommitHookIsUndoneButTheEventsCommit) {
  ASSERT_THAT(journal_->SetCommitHook(CommitHook{
                  [&](WriteView& w, std::span<const EventRecord>) -> Status {
                    REWIND_RETURN_IF_ERROR(w.Put(table_, AsBytes("half"), AsBytes("written")));
                    return Status(Code::kCorruption, "the projection is damaged");
                  },
                  nullptr}),
              IsOk());
  ASSERT_TRUE(journal_->Append(a_, 0, Payloads({"one"})).has_value());
  EXPECT_TRUE(Keys().empty());
  EXPECT_EQ(RunTexts(*journal_, a_), (std::vector<std::string>{"one"}));
}

TEST_F(TablesTest, RemovedCommitHookIsNoLongerCalled) {
  std::atomic<int> calls{0};
  ASSERT_THAT(journal_->SetCommitHook(CommitHook{[&](WriteView&, std::span<const EventRecord>) {
                                                   ++calls;
                                                   return Status::Ok();
                                                 },
                                                 nullptr}),
              IsOk());
  ASSERT_TRUE(journal_->Append(a_, 0, Payloads({"one"})).has_value());
  ASSERT_THAT(journal_->SetCommitHook(CommitHook{}), IsOk());
  ASSERT_TRUE(journal_->Append(a_, 1, Payloads({"two"})).has_value());
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(TablesTest, ASecondCommitHookIsRefusedUntilTheFirstIsRemoved) {
  auto counting = [](std::atomic<int>& calls) {
    return CommitHook{[&calls](WriteView&, std::span<const EventRecord>) {
                        ++calls;
                        return Status::Ok();
                      },
                      nullptr};
  };
  std::atomic<int> first{0}, second{0};
  ASSERT_THAT(journal_->SetCommitHook(counting(first)), IsOk());
  EXPECT_THAT(journal_->SetCommitHook(counting(second)), HasCode(Code::kFailedPrecondition));
  ASSERT_TRUE(journal_->Append(a_, 0, Payloads({"one"})).has_value());
  ASSERT_THAT(journal_->SetCommitHook(CommitHook{}), IsOk());
  ASSERT_THAT(journal_->SetCommitHook(counting(second)), IsOk());
  ASSERT_TRUE(journal_->Append(a_, 1, Payloads({"two"})).has_value());
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(second.load(), 1);
}

TEST_F(TablesTest, CommitHookLearnsOfAFailedCommit) {
  journal_.reset();
  std::atomic<bool> fail{false};
  JournalOptions o = Options();
  o.fault_hook = [&](FaultPoint p) {
    return fail && p == FaultPoint::kBeforeCommit ? Status(Code::kUnavailable, "injected") : Status::Ok();
  };
  journal_ = OpenOrDie(o);
  auto t = journal_->OpenTable("things");
  ASSERT_TRUE(t.has_value());
  std::vector<Code> outcomes;
  ASSERT_THAT(journal_->SetCommitHook(CommitHook{[&](WriteView& w, std::span<const EventRecord>) {
                                                   return w.Put(*t, AsBytes("k"), AsBytes("v"));
                                                 },
                                                 [&](const Status& s) { outcomes.push_back(s.code()); }}),
              IsOk());
  fail = true;
  EXPECT_FALSE(journal_->Append(a_, 0, Payloads({"one"})).has_value());
  EXPECT_EQ(outcomes, (std::vector<Code>{Code::kUnavailable}));
  EXPECT_EQ(Get(*journal_, *t, "k"), std::nullopt);
}

TEST_F(TablesTest, UpdatesAndAppendsTakeTurns) {
  // A stream of updates cannot starve appends: each waits for at most one of the other.
  std::atomic<int> updates{0};
  std::atomic<bool> stop{false};
  Journal* journal = journal_.get();
  std::function<void(const Status&)> again = [&](const Status&) {
    ++updates;
    if (!stop) journal->UpdateAsync([&](WriteView& w) { return w.Put(table_, AsBytes("k"), AsBytes("v")); }, again);
  };
  again(Status::Ok());
  for (std::uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(journal_->Append(a_, i, Payloads({"e"})).has_value());
  stop = true;
  journal_.reset();  // completes the update in flight
  EXPECT_GT(updates.load(), 1);
}

}  // namespace
}  // namespace rwd::test
