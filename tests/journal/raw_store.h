// RawStore: direct LMDB access to a closed journal's files, for tests that
// damage or inspect what the Journal wrote (tampering, format versions).
// Opens its own environment: never use it while a Journal has the directory open.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <string>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/journal/hash.h"

namespace rwd::test {

class RawStore {
 public:
  explicit RawStore(const std::string& dir);
  ~RawStore();
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  // The stored bytes at a global position, or nullopt.
  std::optional<Bytes> GetEvent(std::uint64_t position);
  // Overwrites the value at a position (which must exist).
  void PutEvent(std::uint64_t position, const Bytes& stored);
  void DeleteEvent(std::uint64_t position);
  // Removes run `run`'s index entry for `seq` (at `position`).
  void DeleteRunEntry(const RunId& run, std::uint64_t seq, std::uint64_t position);
  void PutMeta(const std::string& key, const std::string& value);
  // Overwrites (or adds) the blob stored under `hash`.
  void PutBlob(const Hash& hash, const Bytes& value);

 private:
  MDB_dbi Open(MDB_txn* txn, const char* name);
  MDB_env* env_ = nullptr;
};

// Rewrites the record checksum after a deliberate edit, as a forger would.
void ResealRecord(Bytes* stored);

// A forger's edit of a record of one event in the newest format: its
// payload and/or the hash it names as its run's previous one replaced (null:
// kept), the checksum made valid again. With the event's new chain hash.
struct Forged {
  Bytes stored;
  Hash hash{};
};
Forged Forge(const Bytes& stored, const Bytes* payload, const Hash* prev_hash);

}  // namespace rwd::test
