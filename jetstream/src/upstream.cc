#include "rewind/jetstream/upstream.h"

namespace rwd::jetstream {
namespace {

class JetStreamUpstream final : public Upstream {
 public:
  explicit JetStreamUpstream(std::unique_ptr<StreamLog> log) : log_(std::move(log)) {}

  std::string identity() const override { return log_->identity(); }

  Result<std::uint64_t> Append(const RunId& run, std::string_view id, std::uint64_t expected,
                               ByteView record) override {
    REWIND_ASSIGN_OR_RETURN(Appended a, log_->Append(SubjectOf(run), id, expected, record));
    return a.stream_seq;
  }

  Result<std::uint64_t> PutBlob(const Hash& hash, ByteView bytes) override {
    REWIND_ASSIGN_OR_RETURN(Appended a, log_->Append(BlobSubject(), "blob-" + HexEncode(hash), std::nullopt, bytes));
    return a.stream_seq;
  }

  Result<std::unique_ptr<Follower>> Follow(std::uint64_t from) override {
    REWIND_ASSIGN_OR_RETURN(std::unique_ptr<StreamLog::Follower> f, log_->Follow(from));
    return std::unique_ptr<Follower>(std::make_unique<MessageFollower>(std::move(f), BlobSubject()));
  }

  Result<std::uint64_t> LastSeq() override { return log_->LastSeq(); }

 private:
  class MessageFollower final : public Follower {
   public:
    MessageFollower(std::unique_ptr<StreamLog::Follower> f, std::string blobs) : f_(std::move(f)), blobs_(std::move(blobs)) {}
    Result<std::optional<Message>> Next(std::chrono::milliseconds wait) override {
      REWIND_ASSIGN_OR_RETURN(std::optional<StoredMessage> m, f_->Next(wait));
      if (!m) return std::optional<Message>();
      return std::optional<Message>(Message{m->stream_seq, std::move(m->data), m->subject == blobs_});
    }

   private:
    std::unique_ptr<StreamLog::Follower> f_;
    std::string blobs_;
  };

  // A run's subject; blobs have one of their own, which no run id's text is.
  std::string SubjectOf(const RunId& run) const { return SubjectPrefix(log_->options().stream) + run.ToString(); }
  std::string BlobSubject() const { return SubjectPrefix(log_->options().stream) + "blob"; }

  std::unique_ptr<StreamLog> log_;
};

}  // namespace

Result<std::shared_ptr<Upstream>> OpenUpstream(const StreamOptions& options) {
  REWIND_ASSIGN_OR_RETURN(std::unique_ptr<StreamLog> log, StreamLog::Open(options));
  return std::shared_ptr<Upstream>(std::make_shared<JetStreamUpstream>(std::move(log)));
}

}  // namespace rwd::jetstream
