// Journal::CheckStructure and the check a writer makes when it opens: a
// healthy journal accounts for every page of its file; a flipped bit in any
// page header is refused at open, or is harmless to the writes that follow.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <random>
#include <string>

#include "rewind/journal/tables.h"
#include "tests/journal/journal_fixture.h"

namespace rwd::test {
namespace {

constexpr std::size_t kPageHeaderBytes = 16;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Status StatusOf(const Result<std::uint64_t>& r) { return r.has_value() ? Status::Ok() : r.error(); }

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class StructureTest : public JournalTest {
 protected:
  // A journal with what every tree kind needs: branch pages (many events),
  // overflow pages (values over half a page), the run index's duplicates in
  // sub-pages and sub-trees (short and long runs), a table rewritten many
  // times, and a free list (every commit frees the pages it copied).
  void Fill(Journal& j) {
    const Bytes big(9000, 0x5a);
    std::vector<RunId> runs;
    for (int r = 0; r < 40; ++r) runs.push_back(RunId::New());
    auto table = j.OpenTable("counts");
    ASSERT_TRUE(table.has_value());
    std::vector<std::uint64_t> seq(runs.size(), 0);
    for (int i = 0; i < 600; ++i) {
      const std::size_t r = i % 3 == 0 ? 0 : static_cast<std::size_t>(i) % runs.size();  // run 0: a long one
      const Bytes payload = i % 50 == 7 ? big : ToBytes("event " + std::to_string(i));
      ASSERT_THAT(j.Append(runs[r], seq[r], {payload}), IsOk());
      ++seq[r];
      ASSERT_THAT(j.Update([&](WriteView& w) {
        return w.Put(*table, ToBytes("run " + std::to_string(r)), ToBytes(std::to_string(seq[r])));
      }), IsOk());
    }
    runs_ = runs;
    seqs_ = seq;
  }

  // Appends to every run and updates the table: the writes a damaged
  // structure would go wrong on.
  Status Write(Journal& j) {
    auto table = j.OpenTable("counts");
    if (!table.has_value()) return table.error();
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      if (auto a = j.Append(runs_[r], seqs_[r], {ToBytes("later"), Bytes(5000, 1)}); !a.has_value()) {
        return a.error();
      }
      REWIND_RETURN_IF_ERROR(j.Update([&](WriteView& w) { return w.Delete(*table, ToBytes("run " + std::to_string(r))); }));
    }
    return Status::Ok();
  }

  std::vector<RunId> runs_;
  std::vector<std::uint64_t> seqs_;
};

TEST_F(StructureTest, AHealthyJournalAccountsForEveryPageOfItsFile) {
  auto j = OpenOrDie();
  Fill(*j);
  auto report = j->CheckStructure();
  ASSERT_THAT(report, IsOk());
  EXPECT_GT(report->branch, 0u);
  EXPECT_GT(report->overflow, 0u);
  EXPECT_GT(report->free, 0u);
  // The free list, main; meta, events, runs, blobs, the table; run 0's
  // sub-tree of index entries (too many for a sub-page).
  EXPECT_EQ(report->trees, 2u + 5u + 1u);
  // Every page is a meta page, in a tree, or free: none lost, none twice.
  EXPECT_EQ(report->pages, 2 + report->branch + report->leaf + report->overflow + report->free);
  EXPECT_THAT(Write(*j), IsOk());
  EXPECT_THAT(j->CheckStructure(), IsOk());
}

TEST_F(StructureTest, APageWhoseHeaderNamesAnotherPageIsRefusedBeforeAnyWrite) {
  {
    auto j = OpenOrDie();
    Fill(*j);
  }
  const std::string file = Options().directory + "/data.mdb";
  std::string bytes = ReadFile(file);
  const auto psize = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  // The main database's root, which every write copies: its record is in
  // the newer meta page (MDB_meta after the page header: magic, version,
  // address, map size, the free list's 48-byte record, then main's, whose
  // root is its last 8 bytes; the txn id follows the last page number).
  const auto field = [&](std::size_t at) {
    std::uint64_t v;
    std::memcpy(&v, bytes.data() + at, sizeof v);
    return v;
  };
  constexpr std::size_t kMainRoot = 16 + 24 + 48 + 40, kTxnId = 16 + 128;
  const std::size_t meta = field(psize + kTxnId) > field(kTxnId) ? psize : 0;
  const std::size_t last = field(meta + kMainRoot);
  ASSERT_LT(last, bytes.size() / psize);
  // Bit 3 of its number's fourth byte: the page claims to be 2^27 pages
  // further on, which a write would free and later write to, 512 GiB into
  // the file.
  bytes[last * psize + 3] ^= 0x08;
  WriteFile(file, bytes);

  auto opened = Journal::Open(Options());
  ASSERT_FALSE(opened.has_value()) << "a writer opened a journal whose page " << last << " names another page";
  EXPECT_EQ(opened.error().code(), Code::kCorruption);
  EXPECT_NE(opened.error().message().find("page " + std::to_string(last)), std::string::npos)
      << opened.error().ToString();
  EXPECT_EQ(ReadFile(file), bytes) << "the refused open changed the data file";
  JournalOptions read_only = Options();
  read_only.read_only = true;
  auto reader = Journal::Open(read_only);
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT((*reader)->CheckStructure(), HasCode(Code::kCorruption));
}

// Every header byte of every page, one random bit each: the writer refuses
// the journal when it opens, or the writes that follow leave it sound — its
// events and structure verify, and the file grows by no more than the writes.
TEST_F(StructureTest, AFlippedBitInAnyPageHeaderIsRefusedOrHarmless) {
  {
    auto j = OpenOrDie();
    Fill(*j);
  }
  const std::string dir = Options().directory;
  const std::string pristine = ReadFile(dir + "/data.mdb");
  const auto psize = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t pages = pristine.size() / psize;
  std::mt19937 rng(20261122);
  int refused = 0, harmless = 0;
  for (std::size_t page = 2; page < pages; ++page) {
    for (std::size_t byte = 0; byte < kPageHeaderBytes; ++byte) {
      std::string damaged = pristine;
      const int bit = static_cast<int>(rng() % 8);
      damaged[page * psize + byte] = static_cast<char>(damaged[page * psize + byte] ^ (1 << bit));
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      WriteFile(dir + "/data.mdb", damaged);
      const std::string where = "page " + std::to_string(page) + " byte " + std::to_string(byte) + " bit " +
                                std::to_string(bit);
      JournalOptions read_only = Options();
      read_only.read_only = true;
      // The writer's open checks the structure before LMDB reads anything
      // but its meta pages; any other read (a read-only open reads the main
      // database) could meet the damage first and crash on it.
      auto j = Journal::Open(Options());
      if (!j.has_value()) {
        EXPECT_EQ(j.error().code(), Code::kCorruption) << where << ": " << j.error().ToString();
        ++refused;
        continue;
      }
      // What verification finds before any write: damage to an event's bytes
      // (an overflow page past the first has no header, only event bytes).
      const Status before = StatusOf((*j)->VerifyAll());
      // Damage the check let through may still fail a write (a read that
      // meets it), but must not spread: what was written verifies.
      const Status wrote = Write(**j);
      j->reset();
      const auto size = std::filesystem::file_size(dir + "/data.mdb");
      ASSERT_LT(size, pristine.size() + (8u << 20)) << where << ": the writes grew the file to " << size << " bytes";
      auto reader = Journal::Open(read_only);
      ASSERT_THAT(reader, IsOk()) << where;
      EXPECT_THAT((*reader)->CheckStructure(), IsOk()) << where << " (writes: " << wrote.ToString() << ")";
      const Status after = StatusOf((*reader)->VerifyAll());
      EXPECT_EQ(after.ToString(), before.ToString()) << where << " (writes: " << wrote.ToString() << ")";
      ++harmless;
    }
  }
  std::cout << "page headers with a flipped bit: " << refused << " refused at open, " << harmless
            << " written to and sound\n";
  EXPECT_GT(refused, 0);
}

// A read-only process never checks the whole structure, but each read of a
// run checks the pages LMDB reads to find it in the run index. Damage there
// (an entry fewer in the page holding a run's index entries: a LEAF2 page
// of a long run's sub-tree, or a short run's sub-page) would hide events
// with every checksum intact; the read is the run as written, or Corruption
// (a page no longer in use is harmless) — never fewer events.
TEST_F(StructureTest, AReaderOfARunFindsDamageInTheRunIndexPagesItReads) {
  {
    auto j = OpenOrDie();
    Fill(*j);
    // Run 0's entries over several LEAF2 pages under a branch: a reader
    // checks the path to the last, and that those it reads follow on.
    for (int i = 0; i < 900; ++i) {
      ASSERT_THAT(j->Append(runs_[0], seqs_[0]++, {ToBytes("more")}), IsOk());
    }
  }
  const std::string dir = Options().directory;
  const std::string pristine = ReadFile(dir + "/data.mdb");
  const auto psize = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  JournalOptions read_only = Options();
  read_only.read_only = true;
  const auto read = [&](Journal& j, const RunId& run) -> Result<std::vector<Bytes>> {
    std::vector<Bytes> events;
    REWIND_RETURN_IF_ERROR(j.ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& e) {
      events.emplace_back(e.payload.begin(), e.payload.end());
      return Status::Ok();
    }));
    return events;
  };
  std::vector<std::vector<Bytes>> written;
  {
    auto j = OpenOrDie(read_only);
    for (const RunId& run : runs_) {
      auto events = read(*j, run);
      ASSERT_THAT(events, IsOk());
      written.push_back(*events);
    }
  }
  // Where to take an entry away (the lower bound's offset): LEAF2 pages
  // (flags leaf 0x02 | LEAF2 0x20; only the run index's sub-trees have them),
  // and the sub-pages after a run's index node (flags F_DUPDATA, key size
  // 16, the run id).
  struct Target {
    std::size_t lower;  // offset of the u16
    std::size_t run;    // the run whose entries it holds; runs_.size(): unknown
  };
  std::vector<Target> targets;
  for (std::size_t page = 2; page < pristine.size() / psize; ++page) {
    const std::uint8_t flags = static_cast<std::uint8_t>(pristine[page * psize + 10]);
    if ((flags & ~0x10) == 0x22) targets.push_back({page * psize + 12, runs_.size()});
  }
  for (std::size_t r = 0; r < runs_.size(); ++r) {
    const std::string node = std::string("\x04\0\x10\0", 4) +
                             std::string(reinterpret_cast<const char*>(runs_[r].bytes().data()), RunId::kSize);
    for (std::size_t at = pristine.find(node); at != std::string::npos; at = pristine.find(node, at + 1)) {
      targets.push_back({at + node.size() + 12, r});
    }
  }
  ASSERT_GT(targets.size(), runs_.size());
  int found[2] = {0, 0}, unused[2] = {0, 0};
  for (const Target& target : targets) {
    std::string damaged = pristine;
    std::uint16_t lower;
    std::memcpy(&lower, damaged.data() + target.lower, sizeof lower);
    if (lower <= kPageHeaderBytes) continue;
    lower = static_cast<std::uint16_t>(lower - 2);
    std::memcpy(damaged.data() + target.lower, &lower, sizeof lower);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    WriteFile(dir + "/data.mdb", damaged);
    auto j = OpenOrDie(read_only);
    bool named = false;
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      const auto events = read(*j, runs_[r]);
      const std::string where = "byte " + std::to_string(target.lower) + ", run " + std::to_string(r);
      if (events.has_value()) {
        EXPECT_EQ(*events, written[r]) << where;
        continue;
      }
      EXPECT_EQ(events.error().code(), Code::kCorruption) << where << ": " << events.error().ToString();
      EXPECT_NE(events.error().message().find("database 'runs"), std::string::npos) << events.error().ToString();
      named = true;
    }
    (named ? found : unused)[target.run < runs_.size() ? 0 : 1] += 1;
  }
  std::cout << "run index entries taken away, in sub-pages / sub-tree pages: " << found[0] << " / " << found[1]
            << " named by a read of their run, " << unused[0] << " / " << unused[1]
            << " in pages no longer in use\n";
  // Each run's sub-page in the newest tree, and run 0's sub-tree pages.
  EXPECT_GE(found[0], static_cast<int>(runs_.size()) - 1);
  EXPECT_GE(found[1], 4);
}

// A durable writer that closes leaves a mark naming the data file as it left
// it; the next writer trusts it instead of walking the file, for as long as
// nothing else changed the file: any write (the same bytes written back
// included) or a commit the mark does not know of sends it back to the walk.
TEST_F(StructureTest, TheNextWriterTrustsTheLastOnesMarkOnlyWhileTheFileIsUnchanged) {
  using Check = JournalInfo::StructureCheck;
  JournalOptions durable = Options();
  durable.durability = Durability::kDurable;
  const std::string file = durable.directory + "/data.mdb", mark = durable.directory + "/structure-checked";
  const auto open_check = [&](const JournalOptions& o) {
    auto j = OpenOrDie(o);
    return j ? j->info().structure_check : Check::kNone;
  };
  {
    auto j = OpenOrDie(durable);
    EXPECT_EQ(j->info().structure_check, Check::kWalked);
    Fill(*j);
  }
  ASSERT_TRUE(std::filesystem::exists(mark));
  EXPECT_EQ(open_check(durable), Check::kMarked);
  // Writes by a writer that trusted the mark leave a new one.
  const std::string before = ReadFile(mark);
  {
    auto j = OpenOrDie(durable);
    ASSERT_THAT(Write(*j), IsOk());
  }
  EXPECT_NE(ReadFile(mark), before);
  EXPECT_EQ(open_check(durable), Check::kMarked);
  JournalOptions read_only = durable;
  read_only.read_only = true;
  EXPECT_EQ(open_check(read_only), Check::kNone);

  // A writer killed after its commits leaves the mark of the one before it.
  const std::string older = ReadFile(mark);
  {
    auto j = OpenOrDie(durable);
    const auto head = j->Head(runs_[1]);
    ASSERT_THAT(head, IsOk());
    ASSERT_THAT(j->Append(runs_[1], head->seq, {ToBytes("after the mark")}), IsOk());
  }
  WriteFile(mark, older);
  EXPECT_EQ(open_check(durable), Check::kWalked);
  // The file written in place (its own bytes, at once): no longer what the
  // mark names.
  ASSERT_EQ(open_check(durable), Check::kMarked);
  WriteFile(file, ReadFile(file));
  EXPECT_EQ(open_check(durable), Check::kWalked);
  // The same, its modification time then set back as it was: only the
  // change time tells.
  ASSERT_EQ(open_check(durable), Check::kMarked);
  {
    struct ::stat st;
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    WriteFile(file, ReadFile(file));
    const struct ::timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  }
  EXPECT_EQ(open_check(durable), Check::kWalked);
  // A mark whose walk is a day old: trusted no longer, and the walk renews it.
  {
    std::istringstream fields(ReadFile(mark));
    std::vector<std::string> words{std::istream_iterator<std::string>(fields), {}};
    ASSERT_EQ(words.size(), 10u);
    words[9] = std::to_string(std::stoll(words[9]) - 24 * 3600);
    std::string aged;
    for (const std::string& w : words) aged += w + (&w == &words.back() ? "\n" : " ");
    WriteFile(mark, aged);
  }
  EXPECT_EQ(open_check(durable), Check::kWalked);
  EXPECT_EQ(open_check(durable), Check::kMarked);
  // A mark that is not one.
  WriteFile(mark, "rewind-structure-checked-2 1 2 3\n");
  EXPECT_EQ(open_check(durable), Check::kWalked);
  // A writer that did not check the structure, or one of whose commits
  // failed, leaves no mark.
  std::filesystem::remove(mark);
  JournalOptions unchecked = durable;
  unchecked.check_structure = false;
  {
    auto j = OpenOrDie(unchecked);
    EXPECT_EQ(j->info().structure_check, Check::kNone);
  }
  EXPECT_FALSE(std::filesystem::exists(mark));
  JournalOptions failing = durable;
  failing.fault_hook = [](FaultPoint p) {
    return p == FaultPoint::kBeforeCommit ? Status(Code::kUnavailable, "injected") : Status::Ok();
  };
  {
    auto j = OpenOrDie(failing);
    const auto head = j->Head(runs_[1]);
    ASSERT_THAT(head, IsOk());
    EXPECT_FALSE(j->Append(runs_[1], head->seq, {ToBytes("never committed")}).has_value());
  }
  EXPECT_FALSE(std::filesystem::exists(mark));
  ASSERT_EQ(open_check(durable), Check::kWalked);
  // A writer that does not sync removes the mark before it commits, and
  // leaves none.
  ASSERT_TRUE(std::filesystem::exists(mark));
  {
    auto j = OpenOrDie(Options());
    EXPECT_FALSE(std::filesystem::exists(mark));
  }
  EXPECT_FALSE(std::filesystem::exists(mark));
  EXPECT_EQ(open_check(durable), Check::kWalked);
}

}  // namespace
}  // namespace rwd::test
