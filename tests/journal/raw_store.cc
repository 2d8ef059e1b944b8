#include "tests/journal/raw_store.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <stdexcept>

#include "journal/src/key_codec.h"
#include "journal/src/record.h"

namespace rwd::test {
namespace {

void Check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(std::string(what) + ": " + mdb_strerror(rc));
}

}  // namespace

RawStore::RawStore(const std::string& dir) {
  Check(mdb_env_create(&env_), "mdb_env_create");
  Check(mdb_env_set_maxdbs(env_, 64), "set_maxdbs");
  Check(mdb_env_open(env_, dir.c_str(), 0, 0644), "mdb_env_open");
}

RawStore::~RawStore() { mdb_env_close(env_); }

MDB_dbi RawStore::Open(MDB_txn* txn, const char* name) {
  MDB_dbi dbi;
  const unsigned flags = std::string(name) == "runs" ? MDB_DUPSORT | MDB_DUPFIXED : 0;
  Check(mdb_dbi_open(txn, name, flags, &dbi), name);
  return dbi;
}

std::optional<Bytes> RawStore::GetEvent(std::uint64_t position) {
  MDB_txn* txn;
  Check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "begin");
  const key::Position k = key::EncodePosition(position);
  MDB_val kv{k.size(), const_cast<std::uint8_t*>(k.data())}, v;
  std::optional<Bytes> out;
  if (mdb_get(txn, Open(txn, "events"), &kv, &v) == MDB_SUCCESS) {
    const auto* p = static_cast<const std::uint8_t*>(v.mv_data);
    out = Bytes(p, p + v.mv_size);
  }
  mdb_txn_abort(txn);
  return out;
}

void RawStore::PutEvent(std::uint64_t position, const Bytes& stored) {
  MDB_txn* txn;
  Check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin");
  const key::Position k = key::EncodePosition(position);
  MDB_val kv{k.size(), const_cast<std::uint8_t*>(k.data())};
  MDB_val v{stored.size(), const_cast<std::uint8_t*>(stored.data())};
  Check(mdb_put(txn, Open(txn, "events"), &kv, &v, 0), "put event");
  Check(mdb_txn_commit(txn), "commit");
}

void RawStore::DeleteEvent(std::uint64_t position) {
  MDB_txn* txn;
  Check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin");
  const key::Position k = key::EncodePosition(position);
  MDB_val kv{k.size(), const_cast<std::uint8_t*>(k.data())};
  Check(mdb_del(txn, Open(txn, "events"), &kv, nullptr), "delete event");
  Check(mdb_txn_commit(txn), "commit");
}

void RawStore::DeleteRunEntry(const RunId& run, std::uint64_t seq, std::uint64_t position) {
  MDB_txn* txn;
  Check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin");
  const key::RunEntry entry = key::EncodeRunEntry(seq, position);
  MDB_val kv{RunId::kSize, const_cast<std::uint8_t*>(run.bytes().data())};
  MDB_val v{entry.size(), const_cast<std::uint8_t*>(entry.data())};
  Check(mdb_del(txn, Open(txn, "runs"), &kv, &v), "delete run entry");
  Check(mdb_txn_commit(txn), "commit");
}

void RawStore::PutMeta(const std::string& key, const std::string& value) {
  MDB_txn* txn;
  Check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin");
  MDB_val kv{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  Check(mdb_put(txn, Open(txn, "meta"), &kv, &v, 0), "put meta");
  Check(mdb_txn_commit(txn), "commit");
}

void RawStore::PutBlob(const Hash& hash, const Bytes& value) {
  MDB_txn* txn;
  Check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin");
  MDB_val k{hash.size(), const_cast<std::uint8_t*>(hash.data())};
  MDB_val v{value.size(), const_cast<std::uint8_t*>(value.data())};
  Check(mdb_put(txn, Open(txn, "blobs"), &k, &v, 0), "put blob");
  Check(mdb_txn_commit(txn), "commit");
}

void ResealRecord(Bytes* stored) {
  key::PutLe64(stored->data(), XXH3_64bits(stored->data() + 8, stored->size() - 8));
}

Forged Forge(const Bytes& stored, const Bytes* payload, const Hash* prev_hash) {
  EventBatch batch;
  if (Status s = batch.Parse(kJournalFormatVersion, stored, 1); !s.ok() || batch.size() != 1) {
    throw std::runtime_error("Forge: not a record of one event: " + s.ToString());
  }
  const ByteView event = payload != nullptr ? ByteView(*payload) : batch.At(0).payload;
  const Hash prev = prev_hash != nullptr ? *prev_hash : batch.prev_hash();
  Forged out;
  record::Encode(kJournalFormatVersion, batch.run(), batch.first_seq(), prev, std::span(&event, 1), &out.stored);
  out.hash = record::ChainHash(batch.run(), batch.first_seq(), prev, event);
  return out;
}

}  // namespace rwd::test
