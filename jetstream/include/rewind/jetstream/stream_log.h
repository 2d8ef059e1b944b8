// StreamLog: a NATS JetStream stream used as an append-only, replicated log:
// what orders and keeps the events of a journal on several machines
// (README "Running on several machines").
//
// Each message is one opaque record, published to a subject of the caller's
// choosing (a journal uses one subject per run). The log's guarantees, which
// the JetStream journal builds its contract on:
//   * an append names the stream sequence of its subject's last message (0:
//     the subject has none); when another message came first it is refused
//     with Conflict and stores nothing, so two writers can never both extend
//     a subject from the same point;
//   * an append carries a message id: repeating it (after a timeout, say)
//     stores nothing new and answers the first one's sequence;
//   * an acknowledged append is stored on a majority of the stream's
//     replicas (file storage);
//   * messages are never removed: the stream is made with no limits, and
//     deleting or purging is denied;
//   * stream sequences are dense from 1, and a follower reads every message
//     once, in that order.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rewind/base/bytes.h"
#include "rewind/base/status.h"

namespace rwd::jetstream {

struct StreamOptions {
  std::vector<std::string> servers;  // "nats://host:port", any node of the cluster
  std::string stream;                // the stream's name: letters, digits, '-' and '_'
  // Replicas of a stream Open makes; an existing stream must have as many.
  int replicas = 3;
  // How long one request (an append, a read) may take before it is
  // Unavailable; a cluster electing a new leader takes a few seconds.
  std::chrono::milliseconds timeout{5000};
  // The window in which a repeated message id is recognised.
  std::chrono::seconds dedup_window{120};
};

// Parses "nats://HOST:PORT[,HOST:PORT...]/STREAM". InvalidArgument naming
// what is wrong otherwise.
Result<StreamOptions> ParseStreamUrl(std::string_view url);

// The subjects of stream `stream`: every subject a journal on it uses starts
// with this prefix ("rewind.STREAM.").
std::string SubjectPrefix(std::string_view stream);

struct Appended {
  std::uint64_t stream_seq = 0;
  bool duplicate = false;  // the message id was stored before: nothing new was
};

struct StoredMessage {
  std::uint64_t stream_seq = 0;
  std::string subject;
  std::string msg_id;  // empty when the message has none
  Bytes data;
};

class StreamLog {
 public:
  // Connects to the servers and makes sure the stream exists as a log needs
  // it (file storage, `replicas`, subjects SubjectPrefix(stream) + ">", no
  // limits, no discarding, deletes and purges denied, `dedup_window`).
  // Unavailable when no server answers; FailedPrecondition naming the
  // setting when the stream exists with another one (a stream of other
  // subjects or replicas is not this journal's).
  static Result<std::unique_ptr<StreamLog>> Open(const StreamOptions& options);
  ~StreamLog();
  StreamLog(const StreamLog&) = delete;
  StreamLog& operator=(const StreamLog&) = delete;

  const StreamOptions& options() const;
  // "nats:STREAM@CREATED": the stream's name and when it was made (ns since
  // the epoch), so that a stream made again under the same name is another.
  const std::string& identity() const;

  // Appends `data` to `subject` (which must start with SubjectPrefix) if the
  // subject's last message has sequence `expected_subject_seq` (0: none;
  // nullopt: whatever it has). Conflict, storing nothing, when it has
  // another (the message names it);
  // a repeated `msg_id` answers the first append's sequence whatever the
  // subject holds now. Unavailable when no quorum acknowledged in time: the
  // message may or may not be stored, and repeating the append with the same
  // id tells which.
  Result<Appended> Append(std::string_view subject, std::string_view msg_id,
                          std::optional<std::uint64_t> expected_subject_seq, ByteView data);

  // The sequence of the stream's last message (0 when it has none).
  Result<std::uint64_t> LastSeq();
  // The name of the server leading the stream now (for diagnostics and
  // tests); empty when it has no leader.
  Result<std::string> Leader();

  // Reads the stream's messages in order, each once, from `from_seq` on.
  class Follower {
   public:
    virtual ~Follower() = default;
    // The next message, or nullopt when none came within `wait`.
    // Unavailable when no server is connected (the client reconnects, and
    // the follower then goes on after the last message it gave).
    virtual Result<std::optional<StoredMessage>> Next(std::chrono::milliseconds wait) = 0;
  };
  Result<std::unique_ptr<Follower>> Follow(std::uint64_t from_seq);

 private:
  struct Impl;
  explicit StreamLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwd::jetstream
