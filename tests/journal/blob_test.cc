// Blobs: bytes stored once under their SHA-256, which events name (a
// workflow's definition). Journal::PutBlob, ReadView::Blob, VerifyAll.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "rewind/journal/hash.h"
#include "rewind/journal/tables.h"
#include "tests/journal/journal_fixture.h"
#include "tests/journal/raw_store.h"

namespace rwd::test {
namespace {

class BlobTest : public JournalTest {
 protected:
  // The blob under `hash` in `j`, as text; nullopt when there is none; the
  // error when the read fails.
  static Result<std::optional<std::string>> Find(const Journal& j, const Hash& hash) {
    std::optional<std::string> out;
    REWIND_RETURN_IF_ERROR(j.View([&](const ReadView& r) -> Status {
      REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> blob, r.Blob(hash));
      if (blob) out = std::string(AsChars(*blob));
      return Status::Ok();
    }));
    return out;
  }
};

TEST_F(BlobTest, ABlobIsStoredOnceUnderItsHashAndFoundByEveryReader) {
  auto j = OpenOrDie();
  const auto hash = j->PutBlob(AsBytes("a definition"));
  ASSERT_THAT(hash, IsOk());
  EXPECT_EQ(*hash, Sha256(AsBytes("a definition")));
  EXPECT_EQ(j->PutBlob(AsBytes("a definition")).value(), *hash) << "storing it again changes nothing";
  EXPECT_EQ(Find(*j, *hash).value(), "a definition");
  EXPECT_EQ(Find(*j, Sha256(AsBytes("another"))).value(), std::nullopt);
  // Events read from the journal carry the snapshot to look blobs up in.
  ASSERT_TRUE(j->Append(a_, 0, Payloads({"one"})).has_value());
  ASSERT_THAT(j->ReadRun(a_, 1, 1, [&](const EventRecord& r) -> Status {
    EXPECT_NE(r.view, nullptr);
    if (r.view != nullptr) {
      EXPECT_TRUE(r.view->Blob(*hash).value().has_value());
    }
    return Status::Ok();
  }),
              IsOk());
  j.reset();
  JournalOptions o = Options();
  o.read_only = true;
  auto ro = OpenOrDie(o);
  EXPECT_EQ(Find(*ro, *hash).value(), "a definition") << "durable, and readable read-only";
  EXPECT_THAT(ro->PutBlob(AsBytes("x")), HasCode(Code::kFailedPrecondition));
}

TEST_F(BlobTest, ACommitHookFindsTheBlobsCommittedBeforeItsBatch) {
  auto j = OpenOrDie();
  const Hash hash = j->PutBlob(AsBytes("named")).value();
  auto table = j->OpenTable("seen");
  ASSERT_THAT(table, IsOk());
  ASSERT_THAT(j->SetCommitHook(CommitHook{[&](WriteView& w, std::span<const EventRecord> events) -> Status {
                // Nested transactions of its own do not hide the blob from the records.
                return w.Nested([&](WriteView& inner) -> Status {
                  for (const EventRecord& e : events) {
                    if (e.view == nullptr) return Status(Code::kInternal, "no view");
                    REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> blob, e.view->Blob(hash));
                    if (!blob) return Status(Code::kNotFound, "no blob");
                    REWIND_RETURN_IF_ERROR(inner.Put(*table, e.payload, *blob));
                  }
                  return Status::Ok();
                });
              }}),
              IsOk());
  ASSERT_TRUE(j->Append(a_, 0, Payloads({"one", "two"})).has_value());
  ASSERT_THAT(j->View([&](const ReadView& r) -> Status {
    const std::optional<ByteView> stored = r.Get(*table, AsBytes("two")).value();
    EXPECT_TRUE(stored.has_value());
    if (stored) {
      EXPECT_EQ(AsChars(*stored), "named");
    }
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(BlobTest, ADamagedBlobIsCorruptionToItsReaderAndToVerifyAll) {
  Hash hash{};
  {
    auto j = OpenOrDie();
    hash = j->PutBlob(AsBytes("steps: build, test, ship")).value();
    ASSERT_TRUE(j->Append(a_, 0, Payloads({"one"})).has_value());
    EXPECT_EQ(j->VerifyAll().value(), 1u);
  }
  RawStore(Options().directory).PutBlob(hash, ToBytes("steps: build, ship"));
  JournalOptions o = Options();
  o.read_only = true;
  auto j = OpenOrDie(o);
  const auto found = Find(*j, hash);
  EXPECT_THAT(found, HasCode(Code::kCorruption));
  if (!found.has_value()) {
    EXPECT_NE(found.error().message().find("blob"), std::string::npos) << found.error().ToString();
  }
  EXPECT_THAT(j->VerifyAll(), HasCode(Code::kCorruption));
}

}  // namespace
}  // namespace rwd::test
