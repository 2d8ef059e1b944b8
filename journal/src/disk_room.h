// DiskRoom: keeps the blocks of a journal's data file allocated ahead of
// LMDB's writes, so that a full disk is met by a call that changes nothing.
//
// Why: LMDB writes a commit's pages with pwrite/writev and treats a short
// write as EIO. On a filling disk the kernel writes part of a request and
// reports a short count, so LMDB answers EIO — an I/O error, which must poison
// the journal (it cannot be told from a failing device) — where the truth is
// "no room". Allocating the blocks first (fallocate with FALLOC_FL_KEEP_SIZE)
// turns a full disk into ENOSPC from a call that wrote nothing: the writer
// answers ResourceExhausted, stays healthy, and tries again at the next
// commit, which succeeds once there is room. KEEP_SIZE leaves the file's size
// alone, so LMDB and its tools see the file exactly as before.
//
// The room reserved is the pages in use, plus twice the commit's record bytes
// and 1 MiB (branch pages, the free list, a commit hook's table writes), plus
// headroom of an eighth of the file (4 MiB to 64 MiB) so that fallocate runs
// once per growth step, not per commit. A commit that outgrows the estimate
// can still meet a short write (and EIO) on a nearly full disk.
//
// On a filesystem that cannot preallocate (EOPNOTSUPP) the journal runs as
// LMDB alone would. Copy-on-write filesystems (btrfs, ZFS) may still fail a
// write into allocated blocks. Writer thread only.
#pragma once

#include <cstdint>

#include "journal/src/store.h"

namespace rwd::journal_internal {

class DiskRoom {
 public:
  explicit DiskRoom(Store& store) : store_(store) {}

  // Makes sure the data file has blocks for a commit of about `record_bytes`.
  // ResourceExhausted naming the directory when the disk (or quota) is full;
  // Unavailable for any other failure of the filesystem. Writes nothing.
  Status Reserve(std::uint64_t record_bytes);

 private:
  Store& store_;
  std::uint64_t reserved_ = 0;  // the data file's blocks are allocated up to here
  bool unsupported_ = false;    // the filesystem cannot preallocate
};

}  // namespace rwd::journal_internal
