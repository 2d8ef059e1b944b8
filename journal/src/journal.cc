#include "rewind/journal/journal.h"

#include <lmdb.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>
#include <future>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>

#include "journal/src/checked_mark.h"
#include "journal/src/key_codec.h"
#include "journal/src/mirror.h"
#include "journal/src/read.h"
#include "journal/src/record.h"
#include "journal/src/store.h"
#include "journal/src/structure.h"
#include "journal/src/writer.h"
#include "journal/src/writer_lock.h"
#include "rewind/base/mutex.h"
#include "rewind/journal/tables.h"

namespace rwd {

using namespace journal_internal;

namespace {

// LMDB allows one environment per file per process (a second one's close
// drops the first one's locks on lock.mdb). Open directories are registered by
// device and inode, so a second Journal on the same directory is refused.
class OpenJournals {
 public:
  static Result<std::pair<dev_t, ino_t>> Claim(const std::string& dir) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) {
      const int err = errno;
      if (err == EACCES) {
        return Err(Code::kPermissionDenied, "cannot open journal '" + dir + "': " + std::strerror(err));
      }
      return Err(Code::kNotFound, "no Rewind journal at '" + dir + "': " + std::strerror(err));
    }
    const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
    Registry& r = registry();
    MutexLock lock(r.mu);
    if (!r.open.insert(id).second) {
      return Err(Code::kFailedPrecondition,
                 "journal '" + dir + "' is already open in this process; share that Journal");
    }
    return id;
  }
  static void Release(const std::pair<dev_t, ino_t>& id) {
    Registry& r = registry();
    MutexLock lock(r.mu);
    r.open.erase(id);
  }

 private:
  struct Registry {
    Mutex mu;
    std::set<std::pair<dev_t, ino_t>> open REWIND_GUARDED_BY(mu);
  };
  static Registry& registry() {
    static Registry r;
    return r;
  }
};

}  // namespace

class Journal::Impl {
 public:
  ~Impl() {
    // The mirror's threads first; the writer's callbacks of the records they
    // handed it still call the mirror.
    if (mirror) mirror->Stop();
    if (writer) {
      writer->Stop();  // completes queued appends while everything is alive
      // Nothing but LMDB wrote the file since its structure was known sound:
      // the next writer need not walk it (checked_mark.h). A cache, so a
      // failure to write the mark changes nothing.
      if (!writer->WriteFailed() && store->structure_sound() && options.durability == Durability::kDurable) {
        (void)WriteCheckedMark(store->env(), store->dir(), store->structure_walked_unix_s());
      }
    }
    mirror.reset();
    writer.reset();
    store.reset();
    lock = WriterLock();
    if (claimed) OpenJournals::Release(*claimed);
  }
  JournalOptions options;
  std::optional<std::pair<dev_t, ino_t>> claimed;
  WriterLock lock;
  std::unique_ptr<Store> store;
  std::unique_ptr<Writer> writer;
  std::unique_ptr<Mirror> mirror;  // with an upstream (a writer's only)
  Mutex tables_mu;  // LMDB: one mdb_dbi_open at a time per process
  std::unordered_map<std::string, unsigned> tables REWIND_GUARDED_BY(tables_mu);
};

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() = default;

Result<std::unique_ptr<Journal>> Journal::Open(const JournalOptions& options) {
  if (options.directory.empty()) return Err(Code::kInvalidArgument, "journal directory is empty");
  if (options.max_map_bytes < (1u << 20)) {
    return Err(Code::kInvalidArgument, "max_map_bytes must be at least 1 MiB");
  }
  if (options.new_format_version < kOldestJournalFormatVersion || options.new_format_version > kJournalFormatVersion) {
    return Err(Code::kInvalidArgument, "new_format_version must be in " + std::to_string(kOldestJournalFormatVersion) +
                                           ".." + std::to_string(kJournalFormatVersion));
  }
  if (options.max_payload_bytes == 0 || options.max_payload_bytes > kMaxPayloadBytesLimit) {
    return Err(Code::kInvalidArgument,
               "max_payload_bytes must be in 1.." + std::to_string(kMaxPayloadBytesLimit));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!options.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(options.directory, ec);
    if (ec) {
      return Err(Code::kUnavailable,
                 "cannot create journal directory '" + options.directory + "': " + ec.message());
    }
  }
  REWIND_ASSIGN_OR_RETURN(impl->claimed, OpenJournals::Claim(options.directory));
  if (!options.read_only) {
    REWIND_ASSIGN_OR_RETURN(impl->lock, WriterLock::Acquire(options.directory));
  }
  REWIND_ASSIGN_OR_RETURN(impl->store, Store::Open(options));
  if (!options.read_only) {
    REWIND_ASSIGN_OR_RETURN(impl->writer, Writer::Start(*impl->store));
    if (options.upstream) {
      REWIND_ASSIGN_OR_RETURN(impl->mirror, Mirror::Start(*impl->store, *impl->writer, options.upstream));
      REWIND_RETURN_IF_ERROR(impl->mirror->AwaitCatchUp().WithContext("journal '" + options.directory + "'"));
    }
  }
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

Result<std::optional<int>> Journal::WriterProcess(const std::string& directory) {
  return WriterLock::Holder(directory);
}

void Journal::AppendAsync(const RunId& run, std::uint64_t expected_seq, std::vector<Bytes> payloads,
                          AppendCallback done) {
  if (impl_->options.read_only) {
    return done(Err(Code::kFailedPrecondition,
                    "journal '" + impl_->options.directory + "' is open read-only"));
  }
  if (payloads.empty()) return done(Err(Code::kInvalidArgument, "append of no events"));
  if (run.IsZero()) return done(Err(Code::kInvalidArgument, "append to the zero run id"));
  std::size_t bytes = 0;
  for (const Bytes& p : payloads) {
    if (p.size() > impl_->options.max_payload_bytes) {
      return done(Err(Code::kInvalidArgument,
                      "run " + run.ToString() + ": an event of " + std::to_string(p.size()) +
                          " bytes exceeds the limit of " +
                          std::to_string(impl_->options.max_payload_bytes)));
    }
    bytes += p.size() + record::kFormat1HeaderSize;
  }
  bytes += record::kFormat2MaxOverhead;  // with the line above, at least what either format stores
  if (impl_->mirror) return impl_->mirror->Append(run, expected_seq, std::move(payloads), std::move(done));
  impl_->writer->Enqueue(AppendRequest{run, expected_seq, std::move(payloads), std::move(done), bytes});
}

Result<AppendResult> Journal::Append(const RunId& run, std::uint64_t expected_seq,
                                     std::vector<Bytes> payloads) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(run, expected_seq, std::move(payloads),
              [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Status ChainCheck::Next(const EventRecord& rec) {
  if (rec.seq != head.seq + 1) {
    return Status(Code::kCorruption, At(rec.run, rec.seq, rec.position) + ": expected seq " +
                                         std::to_string(head.seq + 1));
  }
  if (rec.prev_hash() != head.hash) {
    return Status(Code::kCorruption, At(rec.run, rec.seq, rec.position) +
                                         ": its previous hash does not match the chain (an earlier event of "
                                         "the run was changed or removed)");
  }
  head = RunHead{rec.seq, rec.hash()};
  return Status::Ok();
}

Result<RunHead> Journal::Head(const RunId& run) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  REWIND_ASSIGN_OR_RETURN(RunHead head, ReadHead(*impl_->store, g.txn, run));
  if (head.seq == 0) return Err(Code::kNotFound, "run " + run.ToString() + " is unknown");
  return head;
}

Status Journal::ReadRun(const RunId& run, std::uint64_t from_seq, std::uint64_t to_seq,
                        const EventVisitor& visit) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return ReadRunIn(*impl_->store, g.txn, run, from_seq, to_seq, visit);
}

Status Journal::ReadAll(std::uint64_t from_position, std::uint64_t to_position,
                        const EventVisitor& visit) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return ReadAllIn(*impl_->store, g.txn, from_position, to_position, visit);
}

Status Journal::ForEachRun(const RunVisitor& visit) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return ForEachRunIn(*impl_->store, g.txn, visit);
}

Result<std::uint64_t> Journal::LastPosition() const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return ReadLastPosition(*impl_->store, g.txn);
}

Result<std::uint64_t> Journal::WaitForPosition(std::uint64_t position,
                                               std::chrono::steady_clock::time_point deadline) const {
  if (impl_->writer) {
    const std::uint64_t committed = impl_->writer->WaitPast(position, deadline);
    if (committed > position || std::chrono::steady_clock::now() >= deadline) return committed;
    return LastPosition();  // the writer stopped
  }
  constexpr auto kLook = std::chrono::milliseconds(10);
  for (;;) {
    REWIND_ASSIGN_OR_RETURN(const std::uint64_t last, LastPosition());
    const auto now = std::chrono::steady_clock::now();
    if (last > position || now >= deadline) return last;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kLook, deadline - now));
  }
}

Result<RunHead> Journal::VerifyRun(const RunId& run) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return VerifyRunIn(*impl_->store, g.txn, run);
}

Result<StructureReport> Journal::CheckStructure() const {
  const Store& store = *impl_->store;
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store.BeginRead());
  return journal_internal::CheckStructure(store.env(), g.txn.get(), store.dir());
}

Result<std::uint64_t> Journal::VerifyAll() const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return VerifyAllIn(*impl_->store, g.txn);
}

const JournalInfo& Journal::info() const { return impl_->store->info(); }
const JournalOptions& Journal::options() const { return impl_->options; }

int Journal::lock_fd() const { return impl_->lock.fd(); }

JournalStats Journal::stats() const {
  return impl_->writer ? impl_->writer->stats() : JournalStats{};
}

Result<Table> Journal::OpenTable(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Err(Code::kInvalidArgument, "table name '" + name + "' must have 1..64 characters");
  }
  MutexLock lock(impl_->tables_mu);
  if (auto it = impl_->tables.find(name); it != impl_->tables.end()) return Table(it->second, name);
  // Tables live under their own prefix, apart from the journal's databases.
  const std::string db_name = "table." + name;
  MDB_dbi dbi = 0;
  auto open = [&](mdb::Txn& txn, unsigned flags) -> Status {
    const int rc = mdb_dbi_open(txn.get(), db_name.c_str(), flags, &dbi);
    if (rc == MDB_NOTFOUND) {
      return Status(Code::kNotFound, "journal '" + impl_->options.directory + "' has no table '" + name + "'");
    }
    if (rc != MDB_SUCCESS) return mdb::Error(rc, "opening table '" + name + "'");
    return Status::Ok();
  };
  if (impl_->options.read_only) {
    REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
    REWIND_RETURN_IF_ERROR(open(g.txn, 0));
    // Committing keeps the handle (aborting would close it).
    REWIND_RETURN_IF_ERROR(g.txn.Commit().WithContext("opening table '" + name + "'"));
  } else {
    REWIND_RETURN_IF_ERROR(Update([&](WriteView& view) { return open(view.txn(), MDB_CREATE); }));
  }
  impl_->tables.emplace(name, dbi);
  return Table(dbi, name);
}

Status Journal::View(const std::function<Status(const ReadView&)>& read) const {
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, impl_->store->BeginRead());
  return read(ReadView(*impl_->store, g.txn));
}

void Journal::UpdateAsync(UpdateFn write, std::function<void(const Status&)> done) {
  if (impl_->options.read_only) {
    return done(Status(Code::kFailedPrecondition, "journal '" + impl_->options.directory + "' is open read-only"));
  }
  impl_->writer->Enqueue(WriteJob{std::move(write), std::move(done)});
}

Status Journal::Update(UpdateFn write) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  UpdateAsync(std::move(write), [&promise](const Status& s) { promise.set_value(s); });
  return future.get();
}

Result<Hash> Journal::PutBlob(ByteView bytes) {
  if (impl_->options.read_only) {
    return Err(Code::kFailedPrecondition, "journal '" + impl_->options.directory + "' is open read-only");
  }
  if (impl_->mirror) return impl_->mirror->PutBlob(bytes);
  const Hash hash = Sha256(bytes);
  MDB_dbi blobs = impl_->store->blobs();
  REWIND_RETURN_IF_ERROR(Update([&](WriteView& view) -> Status {
    if (blobs == 0) {  // the first blob of a journal made by an older build
      if (int rc = mdb_dbi_open(view.txn().get(), "blobs", MDB_CREATE, &blobs); rc != MDB_SUCCESS) {
        return mdb::Error(rc, "making the blobs database");
      }
    }
    return StoreBlob(view.txn(), blobs, hash, bytes);
  }).WithContext("storing a blob"));
  impl_->store->SetBlobs(blobs);  // committed: the handle is the process's now
  return hash;
}

Status Journal::SetCommitHook(CommitHook hook) {
  if (impl_->options.read_only) {
    return Status(Code::kFailedPrecondition, "journal '" + impl_->options.directory + "' is open read-only");
  }
  return impl_->writer->SetHook(std::move(hook));
}

Status Journal::CopyTo(const std::string& directory) const {
  if (int rc = mdb_env_copy2(impl_->store->env(), directory.c_str(), MDB_CP_COMPACT); rc != MDB_SUCCESS) {
    return mdb::Error(rc, "copying '" + impl_->options.directory + "' to '" + directory + "'");
  }
  return Status::Ok();
}

Status Journal::Sync() {
  if (impl_->options.read_only) {
    return Status(Code::kFailedPrecondition, "journal '" + impl_->options.directory + "' is open read-only");
  }
  if (int rc = mdb_env_sync(impl_->store->env(), 1); rc != MDB_SUCCESS) {
    return mdb::Error(rc, "syncing '" + impl_->options.directory + "'");
  }
  return Status::Ok();
}

}  // namespace rwd
