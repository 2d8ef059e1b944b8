#include "journal/src/mdb.h"

#include <cerrno>

namespace rwd::mdb {

Status Error(int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += mdb_strerror(rc);
  if (rc == MDB_BAD_TXN) message += " (a page LMDB read is damaged)";
  switch (rc) {
    case MDB_SUCCESS: return Status::Ok();
    case MDB_NOTFOUND: return Status(Code::kNotFound, std::move(message));
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
      return Status(Code::kResourceExhausted, std::move(message));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    // Every transaction that returned an error is aborted, never used again;
    // one LMDB marks bad met a damaged page it did not report (a duplicate
    // key's sub-database, for one).
    case MDB_BAD_TXN:
    // A tree deeper than LMDB allows, or a database whose stored flags are
    // not the ones it was created with: damaged pages.
    case MDB_CURSOR_FULL:
    case MDB_INCOMPATIBLE:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status(Code::kCorruption, std::move(message));
    case EIO:
    case MDB_PANIC:
    case EROFS:
      return Status(Code::kUnavailable, std::move(message));
    default: return Status(Code::kInternal, std::move(message));
  }
}

Result<Env> Env::Create() {
  Env env;
  if (int rc = mdb_env_create(&env.env_); rc != MDB_SUCCESS) return Err(Error(rc, "mdb_env_create"));
  return env;
}

void Env::Close() {
  if (env_ != nullptr) mdb_env_close(env_);
  env_ = nullptr;
}

int Txn::Begin(MDB_env* env, unsigned flags, Txn* out) {
  out->Abort();
  return mdb_txn_begin(env, nullptr, flags, &out->txn_);
}

int Txn::BeginNested(const Txn& parent, Txn* out) {
  out->Abort();
  return mdb_txn_begin(mdb_txn_env(parent.txn_), parent.txn_, 0, &out->txn_);
}

Status Txn::Commit() {
  MDB_txn* txn = txn_;
  txn_ = nullptr;  // mdb_txn_commit frees the txn whatever it returns
  if (int rc = mdb_txn_commit(txn); rc != MDB_SUCCESS) return Error(rc, "commit");
  return Status::Ok();
}

void Txn::Abort() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

Result<ByteView> Txn::Get(MDB_dbi dbi, ByteView key) const {
  MDB_val k = Val(key);
  MDB_val v;
  if (int rc = mdb_get(txn_, dbi, &k, &v); rc != MDB_SUCCESS) return Err(Error(rc, "get"));
  return View(v);
}

Status Txn::Put(MDB_dbi dbi, ByteView key, ByteView value, unsigned flags, std::string_view what) {
  MDB_val k = Val(key);
  MDB_val v = Val(value);
  if (int rc = mdb_put(txn_, dbi, &k, &v, flags); rc != MDB_SUCCESS) return Error(rc, what);
  return Status::Ok();
}

Result<Cursor> Cursor::Open(const Txn& txn, MDB_dbi dbi) {
  MDB_cursor* c = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), dbi, &c); rc != MDB_SUCCESS) {
    return Err(Error(rc, "mdb_cursor_open"));
  }
  return Cursor(c);
}

}  // namespace rwd::mdb
