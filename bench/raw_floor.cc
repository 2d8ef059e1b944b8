#include "bench/raw_floor.h"

#include <lmdb.h>

#include <algorithm>
#include <string>

#include "bench/bench_util.h"
#include "bench/histories.h"
#include "journal/src/key_codec.h"
#include "journal/src/mdb.h"
#include "journal/src/record.h"

namespace rwd::bench {

namespace {

Status LmdbStatus(int rc, const std::string& what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  return Status(Code::kInternal, "raw floor: " + what + ": " + mdb_strerror(rc));
}

}  // namespace

RawFloor::RawFloor(unsigned runs, std::size_t record_bytes)
    : seqs_(runs, 0), record_(record_bytes, std::uint8_t{0x5a}) {
  for (unsigned i = 0; i < runs; ++i) run_ids_.push_back(RunId::New());
}

RawFloor::~RawFloor() {
  if (env_ != nullptr) mdb_env_close(env_);
}

Result<std::unique_ptr<RawFloor>> RawFloor::Open(const std::filesystem::path& dir, Durability durability,
                                                 unsigned runs, std::size_t record_bytes) {
  std::unique_ptr<RawFloor> floor(new RawFloor(std::max(runs, 1u), record_bytes));
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_create(&floor->env_), "mdb_env_create"));
  MDB_env* env = floor->env_;
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_set_maxdbs(env, 2), "mdb_env_set_maxdbs"));
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_set_mapsize(env, kMapBytes), "mdb_env_set_mapsize"));
  const unsigned flags = MDB_NOTLS | (durability == Durability::kNoSync ? MDB_NOSYNC : 0u);
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_env_open(env, dir.c_str(), flags, 0644), "mdb_env_open"));
  MDB_txn* txn = nullptr;
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin"));
  int rc = mdb_dbi_open(txn, "events", MDB_CREATE, &floor->events_);
  if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn, "runs", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &floor->runs_);
  if (rc != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    return Err(LmdbStatus(rc, "mdb_dbi_open"));
  }
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_txn_commit(txn), "creating the databases"));
  return floor;
}

Status RawFloor::CommitBatch(std::size_t group) {
  MDB_txn* txn = nullptr;
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin"));
  for (std::size_t i = 0; i < group; ++i) {
    if (Status s = Put(txn); !s.ok()) {
      mdb_txn_abort(txn);
      return s;
    }
  }
  return LmdbStatus(mdb_txn_commit(txn), "mdb_txn_commit");
}

Result<double> RawFloor::TimedCommit() {
  const Clock::time_point t0 = Clock::now();
  REWIND_RETURN_IF_ERROR(CommitBatch(1));
  return Millis(Clock::now() - t0);
}

// LMDB never looks into values, so one constant record stands for all.
Status RawFloor::Put(MDB_txn* txn) {
  const std::size_t run = next_run_;
  next_run_ = (next_run_ + 1) % run_ids_.size();
  const std::uint64_t seq = ++seqs_[run];
  const key::Position position = key::EncodePosition(position_);
  const key::RunEntry entry = key::EncodeRunEntry(seq, position_);
  MDB_val k = mdb::Val(position), v = mdb::Val(record_);
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_put(txn, events_, &k, &v, MDB_APPEND), "put events"));
  MDB_val rk = mdb::Val(run_ids_[run].bytes()), rv = mdb::Val(entry);
  REWIND_RETURN_IF_ERROR(LmdbStatus(mdb_put(txn, runs_, &rk, &rv, MDB_APPENDDUP), "put runs"));
  ++position_;
  return Status::Ok();
}

std::size_t RecordBytes(std::size_t payload_bytes) {
  const Bytes payload(payload_bytes, std::uint8_t{0x5a});
  const ByteView one[] = {payload};
  Bytes stored;
  record::Encode(kJournalFormatVersion, RunId::New(), 1, Hash{}, one, &stored);
  return stored.size();
}

}  // namespace rwd::bench
