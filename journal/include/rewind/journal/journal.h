// Journal: the append-only, hash-chained event log every run is stored in.
//
// One Journal owns one LMDB environment (a directory). It stores opaque event
// payloads (the journal never decodes them) in global order, in records that
// name their run, seqs and the chain hash of the run's event before them
// (FORMAT.md: one record per event in format 1, per append in format 2). Nothing is ever deleted or overwritten: there is no API
// for it, and every write uses MDB_APPEND-style ordered inserts.
//
// Writes: any number of threads call Append/AppendAsync. A single writer
// thread drains all queued requests into one write transaction and one commit
// (group commit); every request completes only after the transaction holding
// it is durable (in Durability::kDurable). An append names the seq it expects
// its run to be at; a mismatch is a Conflict and writes nothing of that
// request. A failed commit poisons the journal: every later append fails with
// Unavailable carrying the original cause, until the journal is reopened.
//
// Reads never block the writer, nor the writer them (LMDB MVCC): each read
// call runs in its own read-only snapshot. A second process can open the same
// directory with read_only = true while a writer runs; a second writer process
// is refused. Within one process a directory is open at most once (LMDB's
// rule): share the Journal object.
//
// The LMDB map is reserved at max_map_bytes when the journal opens; that is
// address space only, the file grows as events arrive. Appends past the limit
// fail with ResourceExhausted and write nothing; a larger limit at the next
// open makes room.
//
// Thread-safety: all methods are safe to call concurrently. Append callbacks
// run on the journal's own threads, in commit order: the writer thread, or,
// for a group commit of many appends, a second thread that wakes their callers
// while the writer commits the next group — or, for a request refused before
// it is queued (read-only, invalid, closing), on the calling thread before
// AppendAsync returns. They must be short and must not wait on this journal
// (AppendAsync from a callback is fine; a blocking Append deadlocks). Visitors of the read
// calls must not wait for appends either. Destroying the Journal completes
// queued appends first.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/hash.h"
#include "rewind/journal/upstream.h"

namespace rwd {

class Table;
class ReadView;
class WriteView;
struct CommitHook;

// The on-disk format versions (FORMAT.md): a new journal is made in the
// newest; a journal keeps the version it was made in (appends to a format-1
// journal write format 1) until `rewind migrate` rewrites it. This build
// reads and writes both.
inline constexpr std::uint32_t kJournalFormatVersion = 2;
inline constexpr std::uint32_t kOldestJournalFormatVersion = 1;

// No payload may be larger, whatever the options (the event decoder's limit).
inline constexpr std::size_t kMaxPayloadBytesLimit = 64u << 20;

enum class Durability {
  kDurable,  // each group commit is synced to disk before it is acknowledged
  kNoSync,   // no sync: survives a process crash, NOT a power loss (tests, benchmarks)
};

// Named points on the write path where a test can inject a failure.
enum class FaultPoint {
  kBeforeCommit,  // an append batch is written but not committed: fails as an aborted commit
  kAfterCommit,   // the batch is durable, yet the commit is reported as failed
  kBeforeUpdateCommit,  // the same two points of a table update (Update, UpdateAsync)
  kAfterUpdateCommit,
};

struct JournalOptions {
  std::string directory;  // created (with parents) by a writer when missing
  Durability durability = Durability::kDurable;
  bool read_only = false;
  // The most the journal's data file may hold (reserved as address space at
  // open; at least 1 MiB). Past it appends fail with ResourceExhausted.
  std::uint64_t max_map_bytes = 256ull << 30;
  unsigned max_readers = 256;
  // Larger payloads are InvalidArgument; at most kMaxPayloadBytesLimit.
  std::size_t max_payload_bytes = 16u << 20;
  // A group commit takes queued requests while they fit in this many record
  // bytes; a single larger request is committed on its own.
  std::size_t max_batch_bytes = 64u << 20;
  // A writer checks LMDB's own structure when it opens (CheckStructure):
  // one read of every page in use, so O(file). A damaged journal is refused
  // with Corruption instead of being written into, which would spread the
  // damage. A writer that closes leaves a mark naming the file as it left
  // it; the next writer skips the walk while the file is unchanged since
  // (JournalInfo::structure_check). Read-only opens never check the whole
  // file; they check, on each read of a run, the pages LMDB reads to find it
  // in the run index (a few pages: damage there could hide the run's last
  // events), and report damage there as Corruption.
  bool check_structure = true;
  // The format a new journal is made in (an existing one keeps its own):
  // kOldestJournalFormatVersion..kJournalFormatVersion. Older formats are
  // for tests of what older builds wrote.
  std::uint32_t new_format_version = kJournalFormatVersion;
  // Test seam: called at each FaultPoint; a non-ok status is injected there.
  std::function<Status(FaultPoint)> fault_hook;
  // The replicated log the journal mirrors (upstream.h), or null: the
  // journal's own file orders and keeps its appends. A journal is a mirror
  // from its creation (format 2) and only of the log it was made from: a
  // writer opening a mirror without that log, or a journal that is not a
  // mirror with one, is refused (FailedPrecondition). Read-only opens read
  // a mirror as it stands, without the log.
  std::shared_ptr<Upstream> upstream;
};

// Where a run stands: its last seq and that record's chain hash.
// A run with no events has seq 0 and an all-zero hash.
struct RunHead {
  std::uint64_t seq = 0;
  Hash hash{};
  friend bool operator==(const RunHead&, const RunHead&) = default;
};

struct AppendResult {
  std::uint64_t first_seq = 0;       // seq of the first appended event
  std::uint64_t first_position = 0;  // its global position; the rest follow densely
  RunHead head;                      // the run after the append
};

class EventBatch;  // the stored record an event is in (journal/src/record.h)

// One stored event as seen by a reader. The payload, the batch and the view
// are valid only during the visitor call that receives them (they point into
// LMDB's map).
struct EventRecord {
  RunId run;
  std::uint64_t seq = 0;
  std::uint64_t position = 0;
  ByteView payload;  // the encoded event
  const EventBatch* batch = nullptr;
  std::size_t index = 0;  // its place in the batch
  // The snapshot it was read in, for reading what the event refers to: a
  // blob (ReadView::Blob). A commit hook's records have the snapshot of what
  // was committed before their batch (which holds every blob they name).
  const ReadView* view = nullptr;

  // The chain hash of the run's event before this one (zero for seq 1), and
  // this event's own (FORMAT.md), computed when first asked for: SHA-256 of
  // the run id, seq, previous hash and payload, the same in every format.
  Hash prev_hash() const;
  Hash hash() const;
  // A 64-bit fingerprint of the stored event (FORMAT.md), for noticing that
  // a position holds another event than it did.
  std::uint64_t sum() const;
  // The stored record holding this event, exactly as stored: in format 2
  // one record holds the events of one append (index 0 is its first).
  ByteView record() const;
};

// Follows one run's chain event by event, as VerifyRun does: seqs dense
// from 1, each prev_hash() equal to the hash() of the event before. For a
// reader that checks a run while it reads it for another purpose.
struct ChainCheck {
  RunHead head;  // the last record accepted (seq 0 before the first)
  // Accepts `rec` as the run's next record, or returns Corruption naming its
  // run, seq and position and what is wrong (head unchanged).
  Status Next(const EventRecord& rec);
};

// Called per event in order; a non-ok status stops the read and is returned.
using EventVisitor = std::function<Status(const EventRecord&)>;
// Called per run with its last seq; a non-ok status stops the scan and is returned.
using RunVisitor = std::function<Status(const RunId&, std::uint64_t last_seq)>;

// Counters of this Journal object's writer since Open (not persisted).
struct JournalStats {
  std::uint64_t commits = 0;  // durable group commits
  std::uint64_t appends = 0;  // append requests in them
  std::uint64_t events = 0;   // events in them
  // How long the commits of events took (the LMDB commit, its sync
  // included): commit_latency[i] counts those that took at most
  // kCommitLatencyBounds[i] seconds (cumulative, the last bound infinite).
  static constexpr std::array<double, 12> kCommitLatencyBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1e300};
  std::array<std::uint64_t, 12> commit_latency{};
  double commit_seconds = 0;  // their sum
};

// What Journal::CheckStructure walked: the pages of the data file in use
// in one snapshot, each reached exactly once or listed free.
struct StructureReport {
  std::uint64_t pages = 0;  // in the snapshot's file, the two meta pages included
  std::uint64_t branch = 0;  // pages of every tree
  std::uint64_t leaf = 0;
  std::uint64_t overflow = 0;
  std::uint64_t free = 0;   // pages the free list holds
  std::uint64_t trees = 0;  // databases walked: the free list, the main one, each named one
};

// Format and identity, from the journal's meta database.
struct JournalInfo {
  std::uint32_t format_version = 0;
  std::string engine_id;  // 32 hex digits, chosen when the journal was created
  std::int64_t created_unix_us = 0;
  // How this process's open knew LMDB's structure sound (a writer's only):
  // it walked the file, or trusted the mark the last writer left when it
  // closed the file that is still there unchanged (the same inode, size,
  // change time and LMDB transaction).
  enum class StructureCheck { kNone, kWalked, kMarked };
  StructureCheck structure_check = StructureCheck::kNone;
  // The identity of the log a mirror follows (Upstream::identity); empty
  // for a journal that is not one.
  std::string upstream;
};

class Journal {
 public:
  static constexpr std::uint64_t kEnd = std::numeric_limits<std::uint64_t>::max();

  // Opens (a writer creates when missing) the journal in options.directory.
  // Errors:
  //   InvalidArgument     empty directory or options out of range
  //   NotFound            read_only and no journal there (or one whose creation
  //                       is not committed yet: an empty LMDB environment)
  //   FailedPrecondition  an LMDB environment that is not a Rewind journal, a
  //                       format version this build does not know, or the
  //                       directory already open in this process
  //   Unavailable         another process holds the journal open for writing,
  //                       or the directory cannot be created
  //   PermissionDenied    the files cannot be opened for this user
  //   ResourceExhausted   the map cannot be reserved (lower max_map_bytes)
  //   Corruption          LMDB rejects the data file; the data file is cut
  //                       short; its two meta pages do not hold its last two
  //                       transactions; or (a writer with check_structure)
  //                       LMDB's own structure is damaged; or (a mirror) its
  //                       log holds a message that is not the next record of
  //                       its run, or fewer messages than the mirror
  // A mirror's writer returns once it holds every message its log held when
  // it was called (Unavailable when the log did not answer for a minute).
  // Clears stale reader slots (mdb_reader_check). Starts the writer thread
  // unless read_only.
  static Result<std::unique_ptr<Journal>> Open(const JournalOptions& options);

  // The process holding the journal in `directory` open for writing, if any:
  // its pid as the kernel's table of file locks shows it (Linux /proc/locks;
  // a process in another pid namespace shows as seen from this one), or
  // nullopt when none does. Takes no lock and writes nothing. NotFound for a
  // missing directory; Unavailable when the table cannot be read.
  static Result<std::optional<int>> WriterProcess(const std::string& directory);

  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends `payloads` (at least one) to `run`, whose last seq must be
  // `expected_seq` (0: the run must not exist yet). Blocks until durable.
  // Returns the seqs/positions given. Errors:
  //   Conflict            the run is not at expected_seq (nothing written)
  //   InvalidArgument     no payloads, a zero run id, or a payload over the limit
  //   FailedPrecondition  the journal is read-only
  //   ResourceExhausted   the map reached max_map_bytes or the disk is full
  //                       (nothing written; appends work again once there is room)
  //   Unavailable         poisoned by an earlier failed commit, or closing
  //   Corruption          the run's last stored record fails its checks (when
  //                       the writer reads it: the head of a recently written
  //                       run is remembered, not re-read)
  // A mirror (JournalOptions::upstream) acknowledges an append once its log
  // holds it and the mirror has stored it; besides: Conflict when another
  // process extended the run in the log first, Unavailable when the log did
  // not answer for a minute (the append may be in it: reading the run once
  // the mirror has caught up tells), ResourceExhausted when the log takes no
  // message that large; a mirror that met a log message it cannot store
  // fails every append with that Corruption.
  Result<AppendResult> Append(const RunId& run, std::uint64_t expected_seq,
                              std::vector<Bytes> payloads);

  using AppendCallback = std::function<void(Result<AppendResult>)>;
  // As Append, but returns at once; `done` runs on one of the journal's
  // threads once the outcome is durable (or failed), after the callbacks of
  // every append committed before. `done` is called exactly once.
  void AppendAsync(const RunId& run, std::uint64_t expected_seq, std::vector<Bytes> payloads,
                   AppendCallback done);

  // The run's head; NotFound for a run with no events.
  Result<RunHead> Head(const RunId& run) const;

  // Visits the run's events with from_seq <= seq <= to_seq in seq order.
  // NotFound when the run has no events. Corruption when a record fails its
  // checksum or does not match the run index.
  Status ReadRun(const RunId& run, std::uint64_t from_seq, std::uint64_t to_seq,
                 const EventVisitor& visit) const;

  // Visits events with from_position <= position <= to_position in global order.
  Status ReadAll(std::uint64_t from_position, std::uint64_t to_position,
                 const EventVisitor& visit) const;

  // Visits every run that has events, in run id order, with its last seq.
  Status ForEachRun(const RunVisitor& visit) const;

  // The position of the newest committed event (0 for an empty journal).
  Result<std::uint64_t> LastPosition() const;

  // Waits until an event past `position` is committed, or `deadline`; returns
  // the newest committed position then (no greater than `position` when the
  // deadline passed first). The writer wakes waiters at each commit; a
  // read-only journal (another process writes it) looks every 10 ms. For
  // tailing the journal: read from `position + 1` what this says is there.
  Result<std::uint64_t> WaitForPosition(std::uint64_t position, std::chrono::steady_clock::time_point deadline) const;

  // Checks one run: every record's checksum, seqs dense from 1, each record's
  // prev hash equal to the chain hash of the one before, and the run index
  // pointing at records of that run. Returns the head on success; Corruption
  // naming the run, seq and position of the first problem otherwise.
  Result<RunHead> VerifyRun(const RunId& run) const;

  // Checks the whole journal in one snapshot: positions dense from 1, every
  // record as in VerifyRun, and the run index holding exactly the stored
  // records. Returns the number of events checked.
  Result<std::uint64_t> VerifyAll() const;

  // Checks LMDB's structure under the events and tables, in one snapshot:
  // every tree walked from the meta page, each page's own number, kind and
  // bounds, each tree's depth and counts, the free list (journal/src/
  // structure.h lists the checks). These are what LMDB trusts without
  // checking and no event checksum covers. Corruption naming the database and
  // page of the first problem. O(file).
  Result<StructureReport> CheckStructure() const;

  const JournalInfo& info() const;
  // Writer counters; all zero for a read-only journal. Mean group size is
  // appends / commits.
  JournalStats stats() const;
  const JournalOptions& options() const;

  // The descriptor of this writer's lock on the journal (-1 when read-only).
  // The lock is the open file's, not the process's: it holds while any
  // process keeps a descriptor of that file open. A process forked from the
  // writer that keeps this descriptor (a step's supervisor, shell_step.h)
  // keeps every other writer out until it exits, even after the writer died.
  // Owned by the journal: never close it here.
  int lock_fd() const;

  // Stores `bytes` under their SHA-256 (FORMAT.md, "blobs"), durably, and
  // returns that hash: data events refer to by hash, kept once however many
  // events do (a workflow's definition). Storing the same bytes again
  // changes nothing. A blob is never removed or replaced. Errors as Update.
  Result<Hash> PutBlob(ByteView bytes);

  // --- Tables: derived data beside the events (tables.h) ---

  // Opens table `name` (1..64 characters), creating it unless the journal is
  // read-only; NotFound then when it does not exist. Opening a name again
  // returns the same handle.
  Result<Table> OpenTable(const std::string& name);

  // Calls `read` with one consistent snapshot of events and tables.
  Status View(const std::function<Status(const ReadView&)>& read) const;

  // Runs `write` on the writer thread in a transaction of its own between
  // group commits and commits it when it returns Ok (durably, as appends);
  // otherwise nothing it wrote stays. Appends wait while it runs: keep each
  // update short (a bounded batch). `done` runs on the writer thread with the
  // outcome, exactly once, after the callback of every append committed
  // before it. FailedPrecondition for a read-only journal;
  // Unavailable once poisoned or closing.
  using UpdateFn = std::function<Status(WriteView&)>;
  void UpdateAsync(UpdateFn write, std::function<void(const Status&)> done);
  Status Update(UpdateFn write);  // blocks until done

  // Installs `hook` (an empty hook removes it). Batches committed after this
  // returns use it; the previous hook is no longer called. One hook at a
  // time: FailedPrecondition when one is installed already (remove it
  // first), and when read-only. REQUIRES: not called from an append callback
  // or a hook.
  Status SetCommitHook(CommitHook hook);

  // Writes a compact copy of the journal as it is in one snapshot (events and
  // tables) to data.mdb in `directory`, which must exist and hold no journal.
  // Works on a read-only journal and beside appends. Another Journal can
  // then open the copy (also for writing).
  Status CopyTo(const std::string& directory) const;

  // Flushes buffered data to disk; useful after kNoSync appends.
  // FailedPrecondition for a read-only journal.
  Status Sync();

 private:
  class Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwd
