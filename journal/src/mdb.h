// RAII over LMDB's three handles, with its rules encoded in the types:
//   * Env owns MDB_env*. One per process per directory (LMDB's rule).
//   * Txn owns MDB_txn*; aborts in its destructor unless committed. A Txn is
//     used by one thread at a time and never outlives its Env.
//   * Cursor owns MDB_cursor*. A write cursor must not outlive its Txn (commit
//     frees it), so Cursor is only created from a Txn reference and destroyed
//     in the same scope.
// Errors become Status with the failing call and LMDB's text.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "rewind/base/bytes.h"
#include "rewind/base/status.h"

namespace rwd::mdb {

// Maps an LMDB return code to a Status:
//   MDB_NOTFOUND → NotFound
//   MDB_MAP_FULL, ENOSPC, EDQUOT, MDB_READERS_FULL, MDB_TXN_FULL → ResourceExhausted
//   MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH → Corruption
//   EIO, MDB_PANIC, EROFS → Unavailable;  anything else → Internal
Status Error(int rc, std::string_view what);

inline MDB_val Val(ByteView b) {
  return MDB_val{b.size(), const_cast<std::uint8_t*>(b.data())};
}
inline ByteView View(const MDB_val& v) {
  return ByteView(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size);
}

class Env {
 public:
  Env() = default;
  ~Env() { Close(); }
  Env(Env&& o) noexcept : env_(o.env_) { o.env_ = nullptr; }
  Env& operator=(Env&& o) noexcept {
    if (this != &o) {
      Close();
      env_ = o.env_;
      o.env_ = nullptr;
    }
    return *this;
  }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  static Result<Env> Create();
  MDB_env* get() const { return env_; }
  void Close();

 private:
  MDB_env* env_ = nullptr;
};

class Txn {
 public:
  Txn() = default;
  ~Txn() { Abort(); }
  Txn(Txn&& o) noexcept : txn_(o.txn_) { o.txn_ = nullptr; }
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      Abort();
      txn_ = o.txn_;
      o.txn_ = nullptr;
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // Raw begin; callers that may meet MDB_MAP_RESIZED go through the journal's
  // map guard instead of calling this directly.
  static int Begin(MDB_env* env, unsigned flags, Txn* out);
  // A nested write transaction of `parent` (LMDB without MDB_WRITEMAP): its
  // writes join the parent's on Commit and vanish on Abort. The parent must
  // not be used until the child ends.
  static int BeginNested(const Txn& parent, Txn* out);

  MDB_txn* get() const { return txn_; }
  Status Commit();
  void Abort();

  // Get: NotFound when absent. The view is valid until the txn ends or writes.
  Result<ByteView> Get(MDB_dbi dbi, ByteView key) const;
  Status Put(MDB_dbi dbi, ByteView key, ByteView value, unsigned flags, std::string_view what);

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  static Result<Cursor> Open(const Txn& txn, MDB_dbi dbi);
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  Cursor(Cursor&& o) noexcept : cursor_(o.cursor_) { o.cursor_ = nullptr; }
  Cursor& operator=(Cursor&&) = delete;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Positions the cursor with `op`; returns MDB_SUCCESS, MDB_NOTFOUND or an error.
  int Get(MDB_val* key, MDB_val* value, MDB_cursor_op op) {
    return mdb_cursor_get(cursor_, key, value, op);
  }

 private:
  explicit Cursor(MDB_cursor* c) : cursor_(c) {}
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace rwd::mdb
