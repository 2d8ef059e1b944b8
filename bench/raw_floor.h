// The raw LMDB floor: the journal's events and runs databases written straight
// into LMDB — same flags, put flags, sync mode and record size — with no
// checksum, hash, queue, hook or thread hand-off. What a journal commit could
// cost at least on the same disk at the same moment.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/journal.h"

struct MDB_env;
struct MDB_txn;

namespace rwd::bench {

class RawFloor {
 public:
  // A fresh LMDB environment in `dir` (an empty directory). `runs` runs are
  // written round-robin, so a batch of g records touches g different runs, as
  // a group commit of g single-event appends from g appenders does.
  static Result<std::unique_ptr<RawFloor>> Open(const std::filesystem::path& dir, Durability durability,
                                                unsigned runs, std::size_t record_bytes);
  ~RawFloor();

  // Writes `group` records in one transaction and commits it.
  Status CommitBatch(std::size_t group);
  // CommitBatch(1), timed: how long the commit took in ms.
  Result<double> TimedCommit();

 private:
  RawFloor(unsigned runs, std::size_t record_bytes);
  Status Put(MDB_txn* txn);

  MDB_env* env_ = nullptr;
  unsigned events_ = 0;
  unsigned runs_ = 0;
  std::vector<RunId> run_ids_;
  std::vector<std::uint64_t> seqs_;
  std::size_t next_run_ = 0;
  std::uint64_t position_ = 1;
  Bytes record_;
};

// The bytes the journal stores for one event of `payload_bytes` appended alone.
std::size_t RecordBytes(std::size_t payload_bytes);

}  // namespace rwd::bench
