// Upstream: a replicated log that orders a journal's appends and keeps them,
// for journals shared by several processes on several machines (README
// "Running on several machines"; the JetStream one is rewind/jetstream).
//
// A journal opened with an upstream (JournalOptions::upstream) holds in its
// directory this process's mirror of the log: the log's records, in the
// log's order, with positions counted over their events as in any journal.
// Every read is the mirror's. An append becomes one message of the log
// (one format-2 record, FORMAT.md), fenced by the run's last message there,
// and is acknowledged once the log has it and the mirror has taken it in, so
// the process that appended reads its own write. Every process following
// the same log holds the same records at the same positions, and runs its
// own commit hook (projections) over them as it takes them in.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rewind/base/bytes.h"
#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/journal/hash.h"

namespace rwd {

// Thread-safe: a mirror appends from its publisher thread, stores blobs
// from its callers' threads and follows from a thread of its own, at once.
// A Follower is used by one thread at a time.
class Upstream {
 public:
  virtual ~Upstream() = default;

  // Names the log for people and for the mirror, which keeps it: a mirror
  // is only ever fed from the log it was made from.
  virtual std::string identity() const = 0;

  // Appends `record` (one append of `run`) if the run's last message in the
  // log is at log sequence `expected` (0: the run has none there). `id`
  // names this append, and no other: the call made again with it stores the
  // record at most once and returns its sequence. Returns the record's log
  // sequence. Conflict, storing nothing, when the run has another last
  // message; Unavailable when the log did not answer in time (the record may
  // be stored: the same call again tells); ResourceExhausted when the log
  // takes no message that large.
  virtual Result<std::uint64_t> Append(const RunId& run, std::string_view id, std::uint64_t expected,
                                       ByteView record) = 0;

  // Appends a blob (Journal::PutBlob) named by its SHA-256 `hash`; returns
  // its log sequence. Records naming it are appended after it. Storing one
  // again is harmless. Unavailable as Append.
  virtual Result<std::uint64_t> PutBlob(const Hash& hash, ByteView bytes) = 0;

  struct Message {
    std::uint64_t seq = 0;  // the log's sequence: dense from 1
    Bytes record;           // a record, or a blob's bytes
    bool blob = false;
  };
  class Follower {
   public:
    virtual ~Follower() = default;
    // The next message in log order, or nullopt when none came within
    // `wait`. Unavailable when the log can no longer be followed.
    virtual Result<std::optional<Message>> Next(std::chrono::milliseconds wait) = 0;
  };
  // Follows the log from sequence `from` (at least 1) on.
  virtual Result<std::unique_ptr<Follower>> Follow(std::uint64_t from) = 0;
  // The log's last sequence now (0 when it is empty).
  virtual Result<std::uint64_t> LastSeq() = 0;
};

}  // namespace rwd
