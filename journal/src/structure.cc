#include "journal/src/structure.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <memory>
#include <vector>

#include "journal/src/mdb.h"

namespace rwd::journal_internal {
namespace {

// LMDB 0.9's layout (mdb.c) on a 64-bit build.
using Pgno = std::uint64_t;
constexpr Pgno kNoPage = ~Pgno{0};        // P_INVALID: the root of an empty tree
constexpr std::size_t kPageHeader = 16;   // PAGEHDRSZ: pgno u64, pad u16, flags u16, lower u16, upper u16
constexpr std::size_t kNodeHeader = 8;    // NODESIZE: lo u16, hi u16, flags u16, ksize u16
constexpr std::size_t kDbRecord = 48;     // sizeof(MDB_db)
constexpr std::size_t kMetaOffset = kPageHeader;  // MDB_meta follows a meta page's header
constexpr std::uint32_t kMetaMagic = 0xBEEFC0DE;  // MDB_MAGIC
// Reads of the meta pages before a writer committing all the while is given up on.
constexpr int kMaxMetaReads = 1000;
constexpr unsigned kMaxDepth = 32;        // CURSOR_STACK: LMDB cannot descend further
constexpr std::size_t kMetaTxnId = 128;   // MDB_meta's mm_txnid
// Reads of the meta pages before two that do not follow on are damage: a
// writer may commit between the reads of a read-only process (and writes
// one page while the other stays).
constexpr int kMetaPagesReads = 3;

// Page flags (mp_flags) and node flags (mn_flags).
constexpr std::uint16_t kBranch = 0x01, kLeaf = 0x02, kOverflow = 0x04, kMetaPage = 0x08, kDirty = 0x10,
                        kLeaf2 = 0x20, kSubPage = 0x40;
constexpr std::uint16_t kBigData = 0x01, kSubData = 0x02, kDupData = 0x04;

// StructureDamage, for the data file's path.
Status Damaged(const std::string& file, const std::string& what) {
  return Status(Code::kCorruption, "'" + file + "' is damaged (LMDB's own structure): " + what);
}

template <typename T>
T Load(const std::uint8_t* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

using Key = std::span<const std::uint8_t>;

// The two orders of keys (and duplicates) the journal's databases use:
// LMDB's default (mdb_cmp_memn: bytes compared, then the shorter first), and
// native unsigned integers of equal size (MDB_INTEGERKEY: the free list's
// transaction ids).
bool Less(Key a, Key b, bool integer) {
  if (a.size() == b.size()) {
    if (integer && (a.size() == 4 || a.size() == 8)) {
      return a.size() == 4 ? Load<std::uint32_t>(a.data()) < Load<std::uint32_t>(b.data())
                           : Load<std::uint64_t>(a.data()) < Load<std::uint64_t>(b.data());
    }
    // The journal's own keys (positions, run ids, run index entries): bytes
    // compared as big-endian words, without a call to memcmp.
    if (a.size() == 8 || a.size() == 16) {
      for (std::size_t at = 0; at < a.size(); at += 8) {
        const std::uint64_t x = __builtin_bswap64(Load<std::uint64_t>(a.data() + at));
        const std::uint64_t y = __builtin_bswap64(Load<std::uint64_t>(b.data() + at));
        if (x != y) return x < y;
      }
      return false;
    }
  }
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

// The keys a page may hold, from its parents' separators: lo <= key < hi
// (null: unbounded).
struct KeyRange {
  const Key* lo = nullptr;
  const Key* hi = nullptr;
  bool Holds(Key k, bool integer) const {
    return (lo == nullptr || !Less(k, *lo, integer)) && (hi == nullptr || Less(k, *hi, integer));
  }
};

// MDB_db: a database's record, in a meta page or in the main database.
struct DbRecord {
  std::uint32_t pad = 0;  // key size of LEAF2 pages
  std::uint16_t flags = 0;
  std::uint16_t depth = 0;
  std::uint64_t branch = 0, leaf = 0, overflow = 0, entries = 0;
  Pgno root = kNoPage;

  static DbRecord From(const std::uint8_t* at) {
    DbRecord d;
    d.pad = Load<std::uint32_t>(at);
    d.flags = Load<std::uint16_t>(at + 4);
    d.depth = Load<std::uint16_t>(at + 6);
    d.branch = Load<std::uint64_t>(at + 8);
    d.leaf = Load<std::uint64_t>(at + 16);
    d.overflow = Load<std::uint64_t>(at + 24);
    d.entries = Load<std::uint64_t>(at + 32);
    d.root = Load<Pgno>(at + 40);
    return d;
  }
};

// What a tree's leaves hold, which decides how each entry is checked.
enum class TreeKind {
  kFree,       // the free list: txn id -> list of free page numbers
  kMain,       // named databases' records, and plain entries
  kNamed,      // a named database (DUPSORT ones hold sub-pages and sub-trees)
  kDuplicates  // the sub-tree of one key's duplicates: keys only
};

struct Tree {
  std::string name;
  DbRecord record;
  TreeKind kind;
  bool leaf2 = false;  // leaves are LEAF2 pages (a DUPFIXED sub-tree)
  // Set: only the path to this key is walked (CheckKeyPath), so the tree's
  // counts are not compared with its record.
  const Key* only = nullptr;
  // Only the path to the last key is walked (a key's duplicates in a
  // sub-tree, on CheckKeyPath's path): the counts are not compared either.
  bool last_only = false;
  std::uint64_t branch = 0, leaf = 0, overflow = 0, entries = 0;
};

// The data file's pages, read with pread and kept in a small cache. Reading
// through a map of the file cost a TLB and cache miss for every page touched
// (in a VM, ten times a read() of the whole file). The walk meets the pages
// of the journal's append-built trees mostly in file order: a page that
// follows the last chunk read brings in a chunk of kChunkPages, and any other
// page (the run index's leaves, in run id order, lie all over the file) is
// read alone.
class Pages {
  struct Slot {
    std::uint64_t key = kEmpty;  // Chunk(c) or Single(p)
    std::uint64_t used = 0;
    int pins = 0;
    std::unique_ptr<std::uint8_t[]> data;  // kChunkPages pages, uninitialized
  };
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t Chunk(std::uint64_t c) { return c << 1; }
  static std::uint64_t Single(Pgno p) { return p << 1 | 1; }

 public:
  static constexpr std::size_t kChunkPages = 16;  // 64 KiB of 4 KiB pages
  static constexpr std::size_t kSlots = 64;       // at most 4 MiB; far more than pages pinned at once

  // `chunk_pages`: the most pages one read brings in (1: every page alone,
  // for a walk of a few pages).
  Pages(int fd, std::size_t psize, Pgno pages, std::string file, std::size_t chunk_pages = kChunkPages)
      : fd_(fd), psize_(psize), pages_(pages), file_(std::move(file)), chunk_pages_(chunk_pages), slots_(kSlots) {}

  // A page, valid while the Pin lives.
  class Pin {
   public:
    Pin(Pin&& o) noexcept : slot_(std::exchange(o.slot_, nullptr)), at_(o.at_) {}
    Pin& operator=(Pin&&) = delete;
    ~Pin() {
      if (slot_ != nullptr) --slot_->pins;
    }
    const std::uint8_t* data() const { return at_; }

   private:
    friend class Pages;
    Pin(Slot* slot, const std::uint8_t* at) : slot_(slot), at_(at) { ++slot_->pins; }
    Slot* slot_;
    const std::uint8_t* at_;
  };

  // REQUIRES: pgno < pages. Unavailable when the file cannot be read.
  Result<Pin> Get(Pgno pgno) {
    const std::uint64_t chunk = pgno / chunk_pages_;
    if (auto it = where_.find(Chunk(chunk)); it != where_.end()) {
      return Use(slots_[it->second], (pgno % chunk_pages_) * psize_);
    }
    if (auto it = where_.find(Single(pgno)); it != where_.end()) return Use(slots_[it->second], 0);
    const bool sequential = last_chunk_ != kEmpty && chunk >= last_chunk_ && chunk <= last_chunk_ + 2;
    if (sequential || last_chunk_ == kEmpty) {
      last_chunk_ = chunk;
      const std::uint64_t first = chunk * chunk_pages_;
      REWIND_ASSIGN_OR_RETURN(Slot * slot, Load(Chunk(chunk), first, std::min<std::uint64_t>(chunk_pages_, pages_ - first)));
      return Use(*slot, (pgno % chunk_pages_) * psize_);
    }
    last_chunk_ = chunk;  // the next page of this chunk is read with it
    REWIND_ASSIGN_OR_RETURN(Slot * slot, Load(Single(pgno), pgno, 1));
    return Use(*slot, 0);
  }

  // `bytes` from the start of page `first` (an overflow value), in a buffer
  // valid until the next call.
  Result<std::span<const std::uint8_t>> Read(Pgno first, std::size_t bytes) {
    big_.resize(bytes);
    REWIND_RETURN_IF_ERROR(ReadAt(big_.data(), bytes, first * psize_));
    return std::span<const std::uint8_t>(big_);
  }

 private:
  Pin Use(Slot& slot, std::size_t offset) {
    slot.used = ++clock_;
    return Pin(&slot, slot.data.get() + offset);
  }

  Status ReadAt(std::uint8_t* at, std::size_t bytes, std::uint64_t offset) {
    for (std::size_t done = 0; done < bytes;) {
      const ssize_t n = ::pread(fd_, at + done, bytes - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return Status(Code::kUnavailable, "cannot read '" + file_ + "' at byte " + std::to_string(offset + done) +
                                              ": " + (n < 0 ? std::strerror(errno) : "the file ends there"));
      }
      done += static_cast<std::size_t>(n);
    }
    return Status::Ok();
  }

  // Reads `pages` pages from `first` into the least recently used slot that
  // no page of the walk's path pins.
  Result<Slot*> Load(std::uint64_t key, Pgno first, std::uint64_t pages) {
    Slot* victim = nullptr;
    for (Slot& slot : slots_) {
      if (slot.pins == 0 && (victim == nullptr || slot.used < victim->used)) victim = &slot;
    }
    if (victim == nullptr) return Err(Code::kInternal, "every page cache slot is pinned: trees deeper than expected");
    if (victim->key != kEmpty) where_.erase(victim->key);
    victim->key = kEmpty;
    if (!victim->data) victim->data.reset(new std::uint8_t[chunk_pages_ * psize_]);
    REWIND_RETURN_IF_ERROR(ReadAt(victim->data.get(), static_cast<std::size_t>(pages) * psize_, first * psize_));
    victim->key = key;
    where_.emplace(key, static_cast<std::size_t>(victim - slots_.data()));
    return victim;
  }

  int fd_;
  std::size_t psize_;
  Pgno pages_;
  std::string file_;
  std::size_t chunk_pages_;
  std::vector<Slot> slots_;
  std::unordered_map<std::uint64_t, std::size_t> where_;
  std::uint64_t clock_ = 0;
  std::uint64_t last_chunk_ = kEmpty;
  std::vector<std::uint8_t> big_;
};

class Walker {
 public:
  // `whole`: the walk is of every page (Walk), else of a few (WalkPath).
  Walker(Pages& source, std::size_t psize, Pgno pages, std::string file, bool whole = true)
      : source_(source), psize_(psize), pages_(pages), file_(std::move(file)), seen_(whole ? pages : 0, false) {}

  Status Walk(const DbRecord& free_list, const DbRecord& main) {
    seen_[0] = seen_[1] = true;  // the meta pages
    REWIND_RETURN_IF_ERROR(WalkTree(Tree{"(free list)", free_list, TreeKind::kFree}));
    REWIND_RETURN_IF_ERROR(WalkTree(Tree{"(main)", main, TreeKind::kMain}));
    for (Pgno p : free_) {
      if (p >= pages_ || p < 2) {
        return Bad("the free list names page " + std::to_string(p) + ", outside the file's " +
                   std::to_string(pages_) + " pages");
      }
      if (seen_[p]) return Bad("the free list names page " + std::to_string(p) + ", which is in use or listed twice");
      seen_[p] = true;
    }
    counts_.free = free_.size();
    counts_.pages = pages_;
    return Status::Ok();
  }

  // The pages LMDB reads to find `key` in the named database `name` whose
  // record is `record`: each page from its root to the leaf that holds (or
  // would hold) the key, and the key's duplicates, its sub-page or every page
  // of its sub-tree. Each page is checked as in Walk.
  Status WalkPath(std::string name, const DbRecord& record, const Key& key) {
    return WalkTree(Tree{std::move(name), record, TreeKind::kNamed, false, &key});
  }
  // After WalkPath: the key's duplicates are in a sub-tree, checked only on
  // the path to the last.
  bool duplicates_in_sub_tree() const { return duplicates_in_sub_tree_; }

  const StructureReport& counts() const { return counts_; }

 private:
  Status Bad(const std::string& what) const {
    return Damaged(file_, what);
  }
  Status Bad(const Tree& t, Pgno pgno, const std::string& what) const {
    return Bad("database '" + t.name + "', page " + std::to_string(pgno) + ": " + what);
  }


  Status Claim(const Tree& t, Pgno pgno) {
    if (pgno >= pages_) {
      return Bad(t, pgno, "named by its parent, but the file has " + std::to_string(pages_) + " pages");
    }
    const bool again = seen_.empty() ? !seen_on_path_.insert(pgno).second : seen_[pgno];
    if (again) return Bad(t, pgno, "reached a second time");
    if (!seen_.empty()) seen_[pgno] = true;
    return Status::Ok();
  }

  Status WalkTree(Tree t) {
    ++counts_.trees;
    const DbRecord& r = t.record;
    if (r.root == kNoPage) {
      if (r.depth != 0 || r.branch != 0 || r.leaf != 0 || r.overflow != 0 || r.entries != 0) {
        return Bad("database '" + t.name + "' is empty, yet its record counts pages or entries");
      }
      return Status::Ok();
    }
    if (r.depth == 0 || r.depth > kMaxDepth) {
      return Bad("database '" + t.name + "' records a depth of " + std::to_string(r.depth));
    }
    REWIND_RETURN_IF_ERROR(WalkPage(t, r.root, 1, KeyRange{}));
    if (t.only != nullptr || t.last_only) return Status::Ok();  // a path: the counts are of part of the tree
    const auto differs = [&](const char* what, std::uint64_t recorded, std::uint64_t found) {
      return Bad("database '" + t.name + "' records " + std::to_string(recorded) + " " + what + ", its tree has " +
                 std::to_string(found));
    };
    if (t.branch != r.branch) return differs("branch pages", r.branch, t.branch);
    if (t.leaf != r.leaf) return differs("leaf pages", r.leaf, t.leaf);
    if (t.overflow != r.overflow) return differs("overflow pages", r.overflow, t.overflow);
    if (t.entries != r.entries) return differs("entries", r.entries, t.entries);
    counts_.branch += t.branch;
    counts_.leaf += t.leaf;
    counts_.overflow += t.overflow;
    return Status::Ok();
  }

  Status WalkPage(Tree& t, Pgno pgno, unsigned level, KeyRange range) {
    REWIND_RETURN_IF_ERROR(Claim(t, pgno));
    REWIND_ASSIGN_OR_RETURN(const Pages::Pin page, source_.Get(pgno));  // held while its children are walked
    const std::uint8_t* p = page.data();
    if (const Pgno own = Load<Pgno>(p); own != pgno) {
      return Bad(t, pgno, "its header records page " + std::to_string(own));
    }
    const bool leaf = level == t.record.depth;
    const bool integer = t.record.flags & MDB_INTEGERKEY;
    const std::uint16_t flags = Load<std::uint16_t>(p + 10);
    const std::uint16_t expected = leaf ? (t.leaf2 ? kLeaf | kLeaf2 : kLeaf) : kBranch;
    if (flags != expected) {
      return Bad(t, pgno, "flags 0x" + Hex(flags) + " at level " + std::to_string(level) + " of " +
                              std::to_string(t.record.depth) + ", where a " + (leaf ? "leaf" : "branch") +
                              " page (0x" + Hex(expected) + ") belongs");
    }
    const std::size_t lower = Load<std::uint16_t>(p + 12);
    const std::size_t upper = Load<std::uint16_t>(p + 14);
    if (lower < kPageHeader || lower > upper || upper > psize_ || (lower - kPageHeader) % 2 != 0) {
      return Bad(t, pgno, "free-space bounds " + std::to_string(lower) + ".." + std::to_string(upper));
    }
    const std::size_t n = (lower - kPageHeader) / 2;
    if (n == 0) return Bad(t, pgno, "holds no entries");
    ++(leaf ? t.leaf : t.branch);
    if (flags & kLeaf2) {  // fixed-size keys packed after the header, no nodes
      const std::size_t ksize = Load<std::uint16_t>(p + 8);
      if (ksize < 2 || ksize != t.record.pad || kPageHeader + n * ksize > psize_) {
        return Bad(t, pgno, std::to_string(n) + " keys of " + std::to_string(ksize) + " bytes");
      }
      // Each key moves the lower bound up by 2 and the upper one down by
      // its size less 2 (mdb_node_add): LMDB writes the next key at that.
      if (upper != psize_ - n * (ksize - 2)) {
        return Bad(t, pgno, "free-space bounds " + std::to_string(lower) + ".." + std::to_string(upper) + " for " +
                                std::to_string(n) + " keys of " + std::to_string(ksize) + " bytes");
      }
      // Ascending keys are all in the range when the first and last are.
      for (std::size_t i = 0; i < n; ++i) {
        const Key key(p + kPageHeader + i * ksize, ksize);
        if (((i == 0 || i + 1 == n) && !range.Holds(key, integer)) ||
            (i > 0 && !Less(Key(key.data() - ksize, ksize), key, integer))) {
          return Bad(t, pgno, "key " + std::to_string(i) + " out of order");
        }
      }
      t.entries += n;
      return Status::Ok();
    }
    // Node i's key, its bounds checked.
    const auto key_at = [&](std::size_t i) -> Result<Key> {
      const std::size_t at = Load<std::uint16_t>(p + kPageHeader + 2 * i);
      if (at < upper || at % 2 != 0 || at + kNodeHeader > psize_) {
        return Err(Bad(t, pgno, "entry " + std::to_string(i) + " at offset " + std::to_string(at) +
                                    " lies outside the page's entries"));
      }
      const std::size_t ksize = Load<std::uint16_t>(p + at + 6);
      if (at + kNodeHeader + ksize > psize_) {
        return Err(Bad(t, pgno, "entry " + std::to_string(i) + "'s key of " + std::to_string(ksize) +
                                    " bytes runs past the page"));
      }
      return Key(p + at + kNodeHeader, ksize);
    };
    // Nodes fill the page from its upper bound to its end, with no gap
    // (LMDB moves them together on every change): LMDB adds the next one
    // below the upper bound.
    // Keys ascend within the page and stay within the range its parents
    // give it; a branch's first key is not used (LMDB leaves it empty).
    std::size_t used = 0;
    REWIND_ASSIGN_OR_RETURN(Key key, key_at(0));
    for (std::size_t i = 0; i < n; ++i) {
      std::optional<Key> next;
      if (i + 1 < n) {
        REWIND_ASSIGN_OR_RETURN(next, key_at(i + 1));
        if (!Less(key, *next, integer) && (leaf || i > 0)) {
          return Bad(t, pgno, "entry " + std::to_string(i + 1) + "'s key out of order");
        }
      }
      // Keys ascend (checked above), so the first and last in use are
      // enough to keep them all in the range.
      const bool bound = i == (leaf ? 0 : 1) || i + 1 == n;
      if (bound && (leaf || i > 0) && !range.Holds(key, integer)) {
        return Bad(t, pgno, "entry " + std::to_string(i) + "'s key outside the range its parent gives the page");
      }
      const std::uint8_t* node = key.data() - kNodeHeader;
      const std::size_t at = static_cast<std::size_t>(node - p);
      const std::uint64_t lo = Load<std::uint16_t>(node), hi = Load<std::uint16_t>(node + 2);
      const std::uint16_t node_flags = Load<std::uint16_t>(node + 4);
      const std::size_t ksize = key.size();
      const std::size_t dsize = lo | hi << 16;
      used += Even(kNodeHeader + ksize + (!leaf ? 0 : (node_flags & kBigData) ? sizeof(Pgno) : dsize));
      if (!leaf) {  // a branch node's page number spans lo, hi and flags
        const KeyRange child{i == 0 ? range.lo : &key, next ? &*next : range.hi};
        if ((t.only == nullptr || child.Holds(*t.only, integer)) && (!t.last_only || !next)) {
          REWIND_RETURN_IF_ERROR(WalkPage(t, lo | hi << 16 | std::uint64_t{node_flags} << 32, level + 1, child));
        }
        if (next) key = *next;
        continue;
      }
      const bool wanted = t.only == nullptr || Same(key, *t.only);
      std::span<const std::uint8_t> value;
      if (node_flags & kBigData) {
        if (at + kNodeHeader + ksize + sizeof(Pgno) > psize_) {
          return Bad(t, pgno, "entry " + std::to_string(i) + "'s overflow page number runs past the page");
        }
        if (wanted) {
          REWIND_ASSIGN_OR_RETURN(value, Overflow(t, Load<Pgno>(node + kNodeHeader + ksize), dsize));
        }
      } else {
        if (at + kNodeHeader + ksize + dsize > psize_) {
          return Bad(t, pgno, "entry " + std::to_string(i) + "'s value of " + std::to_string(dsize) +
                                  " bytes runs past the page");
        }
        value = std::span<const std::uint8_t>(node + kNodeHeader + ksize, dsize);
      }
      if (wanted) REWIND_RETURN_IF_ERROR(Entry(t, pgno, i, key, value, node_flags));
      if (next) key = *next;
    }
    if (used != psize_ - upper) {
      return Bad(t, pgno, "its entries take " + std::to_string(used) + " bytes, its free-space bound " +
                              std::to_string(upper) + " leaves " + std::to_string(psize_ - upper));
    }
    return Status::Ok();
  }

  Result<std::span<const std::uint8_t>> Overflow(Tree& t, Pgno first, std::size_t dsize) {
    const std::uint64_t count = (kPageHeader - 1 + dsize) / psize_ + 1;  // OVPAGES
    if (first >= pages_ || count > pages_ - first) {
      return Err(Bad(t, first, "an overflow run of " + std::to_string(count) + " pages past the file's " +
                               std::to_string(pages_) + " pages"));
    }
    for (Pgno p = first; p < first + count; ++p) REWIND_RETURN_IF_ERROR(Claim(t, p));
    REWIND_ASSIGN_OR_RETURN(const Pages::Pin pin, source_.Get(first));
    const std::uint8_t* page = pin.data();
    if (const Pgno own = Load<Pgno>(page); own != first) {
      return Err(Bad(t, first, "its header records page " + std::to_string(own)));
    }
    if (const std::uint16_t flags = Load<std::uint16_t>(page + 10); flags != kOverflow) {
      return Err(Bad(t, first, "flags 0x" + Hex(flags) + " where an overflow page (0x4) belongs"));
    }
    if (const std::uint32_t recorded = Load<std::uint32_t>(page + 12); recorded != count) {
      return Err(Bad(t, first, "an overflow run of " + std::to_string(recorded) + " pages for a value that needs " +
                               std::to_string(count)));
    }
    t.overflow += count;
    // Only the free list's values are read; the others are the journal's
    // events and records, which their own checksums cover.
    if (t.kind != TreeKind::kFree) return std::span<const std::uint8_t>();
    REWIND_ASSIGN_OR_RETURN(const auto run, source_.Read(first, kPageHeader + dsize));
    return run.subspan(kPageHeader);
  }

  Status Entry(Tree& t, Pgno pgno, std::size_t i, std::span<const std::uint8_t> key,
               std::span<const std::uint8_t> value, std::uint16_t flags) {
    const auto bad = [&](const std::string& what) {
      return Bad(t, pgno, "entry " + std::to_string(i) + " (flags 0x" + Hex(flags) + "): " + what);
    };
    if (flags & ~(kBigData | kSubData | kDupData)) return bad("unknown flags");
    const bool dupsort = t.kind == TreeKind::kNamed && (t.record.flags & MDB_DUPSORT);
    const bool sub_record = flags & kSubData;
    if ((flags & kDupData) && !dupsort) return bad("duplicates in a database without them");
    if (sub_record && ((flags & kBigData) || value.size() != kDbRecord)) return bad("a database record of the wrong size");
    switch (t.kind) {
      case TreeKind::kFree: {
        if (flags & ~kBigData) return bad("not a free-list entry");
        if (value.size() < sizeof(Pgno)) return bad("a free list of " + std::to_string(value.size()) + " bytes");
        const std::uint64_t n = Load<std::uint64_t>(value.data());
        if (n > value.size() / sizeof(Pgno) - 1 || value.size() != (n + 1) * sizeof(Pgno)) {
          return bad("a free list of " + std::to_string(n) + " pages in " + std::to_string(value.size()) + " bytes");
        }
        for (std::uint64_t k = 1; k <= n; ++k) free_.push_back(Load<Pgno>(value.data() + k * sizeof(Pgno)));
        ++t.entries;
        return Status::Ok();
      }
      case TreeKind::kMain:
        ++t.entries;
        if (!sub_record) return Status::Ok();
        return WalkTree(Tree{std::string(reinterpret_cast<const char*>(key.data()), key.size()),
                             DbRecord::From(value.data()), TreeKind::kNamed});
      case TreeKind::kDuplicates:
        if (flags != 0 || !value.empty()) return bad("a duplicate with a value");
        ++t.entries;
        return Status::Ok();
      case TreeKind::kNamed:
        break;
    }
    if (!(flags & kDupData)) {
      if (sub_record) return bad("a database record in a named database");
      ++t.entries;
      return Status::Ok();
    }
    const bool fixed = t.record.flags & MDB_DUPFIXED;
    if (sub_record) {  // the key's duplicates in a sub-tree of their own
      const DbRecord dups = DbRecord::From(value.data());
      // On a key's path, the path to its last duplicate: what says where its
      // duplicates end (the rest are read in order, which their reader checks).
      duplicates_in_sub_tree_ = duplicates_in_sub_tree_ || t.only != nullptr;
      REWIND_RETURN_IF_ERROR(
          WalkTree(Tree{t.name + " (duplicates)", dups, TreeKind::kDuplicates, fixed, nullptr, t.only != nullptr}));
      t.entries += dups.entries;
      return Status::Ok();
    }
    // The key's duplicates in a sub-page inside the node.
    if (flags & kBigData) return bad("duplicates on an overflow page");
    if (value.size() < kPageHeader) return bad("a sub-page of " + std::to_string(value.size()) + " bytes");
    const std::uint16_t sub_flags = Load<std::uint16_t>(value.data() + 10) & ~kDirty;
    if (sub_flags != (kLeaf | kSubPage | (fixed ? kLeaf2 : 0))) return bad("a sub-page with flags 0x" + Hex(sub_flags));
    const std::size_t lower = Load<std::uint16_t>(value.data() + 12);
    const std::size_t upper = Load<std::uint16_t>(value.data() + 14);
    if (lower < kPageHeader || lower > upper || upper > value.size() || (lower - kPageHeader) % 2 != 0) {
      return bad("a sub-page's free-space bounds " + std::to_string(lower) + ".." + std::to_string(upper) + " in " +
                 std::to_string(value.size()) + " bytes");
    }
    const std::size_t keys = (lower - kPageHeader) / 2;
    if (fixed) {  // as a LEAF2 page, in the node's bytes
      const std::size_t ksize = Load<std::uint16_t>(value.data() + 8);
      if (ksize < 2 || kPageHeader + keys * ksize > value.size() || upper != value.size() - keys * (ksize - 2)) {
        return bad("a sub-page of " + std::to_string(value.size()) + " bytes with bounds " + std::to_string(lower) +
                   ".." + std::to_string(upper) + " for keys of " + std::to_string(ksize) + " bytes");
      }
      for (std::size_t k = 1; k < keys; ++k) {
        const std::uint8_t* at = value.data() + kPageHeader + k * ksize;
        if (!Less(Key(at - ksize, ksize), Key(at, ksize), t.record.flags & MDB_INTEGERDUP)) {
          return bad("a sub-page's duplicates out of order");
        }
      }
    }
    t.entries += keys;
    return Status::Ok();
  }

  static std::size_t Even(std::size_t n) { return n + (n & 1); }
  static bool Same(Key a, Key b) { return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0; }

  static std::string Hex(unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%x", v);
    return buf;
  }

  Pages& source_;
  std::size_t psize_;
  Pgno pages_;
  std::string file_;
  std::vector<bool> seen_;                   // a whole walk's, by page number
  std::unordered_set<Pgno> seen_on_path_;  // a path's
  bool duplicates_in_sub_tree_ = false;
  std::vector<Pgno> free_;
  StructureReport counts_;
};

}  // namespace

Status StructureDamage(const std::string& dir, const std::string& what) { return Damaged(dir + "/data.mdb", what); }

Result<StructureReport> CheckStructure(MDB_env* env, MDB_txn* txn, const std::string& dir) {
  const std::string file = dir + "/data.mdb";
  MDB_stat stat;
  mdb_filehandle_t fd;
  if (int rc = mdb_env_stat(env, &stat); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_env_stat"));
  if (int rc = mdb_env_get_fd(env, &fd); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_env_get_fd"));
  const std::size_t psize = stat.ms_psize;
  const auto damaged = [&](const std::string& what) { return Damaged(file, what); };

  // The meta page of this snapshot, which names the roots of its trees. LMDB
  // reads snapshot T through meta page T & 1, which records T (a read-only
  // environment whose lock table says 0 picks the newer page, which records
  // T too). Commits rewrite meta pages in place, so a read here can meet a
  // later commit's page, or half of one: T + 2 rewrites page T & 1. But
  // T + 2 only begins once T + 1 is done and has become the snapshot new
  // readers get. So the read is renewed after the pages are read: still at
  // T, no commit rewrote page T & 1 meanwhile, and what was read is what
  // the snapshot used (a damaged one is damage); at a newer snapshot, the
  // pages are read again for it.
  std::vector<std::uint8_t> metas(2 * psize);
  std::uint64_t txn_id = mdb_txn_id(txn);
  for (int reads = 1;; ++reads) {
    const ssize_t got = ::pread(fd, metas.data(), metas.size(), 0);
    if (got < 0) {
      return Err(Code::kUnavailable, "cannot read the meta pages of '" + file + "': " + std::strerror(errno));
    }
    if (static_cast<std::size_t>(got) < metas.size()) return Err(damaged("shorter than its two meta pages"));
    mdb_txn_reset(txn);
    if (int rc = mdb_txn_renew(txn); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_txn_renew"));
    const std::uint64_t renewed = mdb_txn_id(txn);
    if (renewed == txn_id) break;
    if (reads == kMaxMetaReads) {
      return Err(Code::kUnavailable, "'" + file + "' kept changing while its meta pages were read (" +
                                         std::to_string(reads) + " commits in a row); check it again");
    }
    txn_id = renewed;
  }
  const std::uint8_t* fields[2];
  for (unsigned m = 0; m < 2; ++m) {
    const std::uint8_t* page = metas.data() + m * psize;
    fields[m] = page + kMetaOffset;
    if (Load<Pgno>(page) != m || Load<std::uint16_t>(page + 10) != kMetaPage ||
        Load<std::uint32_t>(fields[m]) != kMetaMagic) {
      return Err(damaged("meta page " + std::to_string(m) + " is not one"));
    }
  }
  const auto txn_of = [](const std::uint8_t* meta) { return Load<std::uint64_t>(meta + kMetaTxnId); };
  const unsigned used = txn_of(fields[txn_id & 1]) == txn_id || txn_of(fields[~txn_id & 1]) != txn_id
                            ? static_cast<unsigned>(txn_id & 1)
                            : static_cast<unsigned>(~txn_id & 1);
  const std::uint8_t* meta = fields[used];
  if (txn_of(meta) != txn_id) {
    return Err(damaged("meta page " + std::to_string(used) + " records transaction " +
                       std::to_string(txn_of(meta)) + ", the snapshot read is of " + std::to_string(txn_id)));
  }
  // The file only grows, and a commit writes its pages before its meta page:
  // its size now covers every page the snapshot's meta page names.
  struct ::stat st;
  if (::fstat(fd, &st) != 0) {
    return Err(Code::kUnavailable, "cannot stat '" + file + "': " + std::strerror(errno));
  }
  const DbRecord free_list = DbRecord::From(meta + 24);
  const DbRecord main = DbRecord::From(meta + 24 + kDbRecord);
  if (free_list.pad != psize) {
    return Err(damaged("its meta page records pages of " + std::to_string(free_list.pad) + " bytes, not " +
                       std::to_string(psize)));
  }
  const Pgno last = Load<Pgno>(meta + 120);
  if (last < 1 || last >= static_cast<std::uint64_t>(st.st_size) / psize) {
    return Err(damaged("its meta page names page " + std::to_string(last) + " the last, and the file has " +
                       std::to_string(st.st_size / psize) + " pages"));
  }

  Pages pages(fd, psize, last + 1, file);
  Walker walker(pages, psize, last + 1, file);
  REWIND_RETURN_IF_ERROR(walker.Walk(free_list, main));
  return walker.counts();
}

Result<bool> CheckKeyPath(MDB_env* env, MDB_txn* txn, MDB_dbi main, const std::string& dir,
                          const std::string& name, ByteView key) {
  const std::string file = dir + "/data.mdb";
  MDB_stat stat;
  mdb_filehandle_t fd;
  if (int rc = mdb_env_stat(env, &stat); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_env_stat"));
  if (int rc = mdb_env_get_fd(env, &fd); rc != MDB_SUCCESS) return Err(mdb::Error(rc, "mdb_env_get_fd"));
  // The database's record as this snapshot has it: the main database's entry.
  MDB_val k{name.size(), const_cast<char*>(name.data())}, v;
  if (int rc = mdb_get(txn, main, &k, &v); rc != MDB_SUCCESS) {
    return Err(mdb::Error(rc, "reading the record of database '" + name + "' in '" + file + "'"));
  }
  if (v.mv_size != kDbRecord) {
    return Err(Damaged(file, "the record of database '" + name + "' is " + std::to_string(v.mv_size) + " bytes"));
  }
  // The file only grows, and holds every page of the snapshot read.
  struct ::stat st;
  if (::fstat(fd, &st) != 0) return Err(Code::kUnavailable, "cannot stat '" + file + "': " + std::strerror(errno));
  const std::size_t psize = stat.ms_psize;
  const Pgno count = static_cast<std::uint64_t>(st.st_size) / psize;
  Pages pages(fd, psize, count, file, /*chunk_pages=*/1);
  Walker walker(pages, psize, count, file, /*whole=*/false);
  REWIND_RETURN_IF_ERROR(
      walker.WalkPath(name, DbRecord::From(static_cast<const std::uint8_t*>(v.mv_data)), Key(key.data(), key.size())));
  return walker.duplicates_in_sub_tree();
}

Status CheckMetaPages(MDB_env* env, const std::string& dir) {
  const std::string file = dir + "/data.mdb";
  MDB_stat stat;
  mdb_filehandle_t fd;
  if (int rc = mdb_env_stat(env, &stat); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_stat");
  if (int rc = mdb_env_get_fd(env, &fd); rc != MDB_SUCCESS) return mdb::Error(rc, "mdb_env_get_fd");
  const std::size_t psize = stat.ms_psize;
  std::vector<std::uint8_t> metas(2 * psize);
  std::string wrong;
  for (int reads = 0; reads < kMetaPagesReads; ++reads) {
    if (reads > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a writer committing
    const ssize_t got = ::pread(fd, metas.data(), metas.size(), 0);
    if (got < 0) return Status(Code::kUnavailable, "cannot read the meta pages of '" + file + "': " + std::strerror(errno));
    if (static_cast<std::size_t>(got) < metas.size()) {
      return Damaged(file, "shorter than its two meta pages");
    }
    std::uint64_t txn[2];
    for (unsigned m = 0; m < 2; ++m) {
      const std::uint8_t* page = metas.data() + m * psize;
      txn[m] = Load<std::uint64_t>(page + kMetaOffset + kMetaTxnId);
    }
    // LMDB writes transaction T's meta into page T % 2, after T - 1's went
    // into the other; a new environment has 0 in both.
    const bool fresh = txn[0] == 0 && txn[1] == 0;
    const bool alternating = txn[0] % 2 == 0 && txn[1] % 2 == 1 && (txn[0] == txn[1] + 1 || txn[1] == txn[0] + 1);
    if (fresh || alternating) return Status::Ok();
    wrong = "its meta pages record transactions " + std::to_string(txn[0]) + " and " + std::to_string(txn[1]) +
            ", not the last two";
  }
  return Damaged(file, wrong);
}

}  // namespace rwd::journal_internal
