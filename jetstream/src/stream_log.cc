#include "rewind/jetstream/stream_log.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "jetstream/src/nats.h"

namespace rwd::jetstream {

using namespace jetstream_internal;

namespace {

constexpr auto kFollowerHeartbeat = std::chrono::seconds(1);

bool IsStreamNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// The first of the settings a log needs that `c` lacks, or "" when it has
// them all.
std::string Mismatch(const jsStreamConfig& c, const StreamOptions& options) {
  const std::string subjects = SubjectPrefix(options.stream) + ">";
  if (c.SubjectsLen != 1 || subjects != c.Subjects[0]) return "subjects (a journal's stream has '" + subjects + "' only)";
  if (c.Replicas != options.replicas) {
    return "replicas (" + std::to_string(c.Replicas) + ", not " + std::to_string(options.replicas) + ")";
  }
  if (c.Storage != js_FileStorage) return "storage (memory, not file)";
  if (c.Retention != js_LimitsPolicy) return "retention (a journal keeps every message)";
  if (c.MaxMsgs > 0 || c.MaxBytes > 0 || c.MaxAge > 0 || c.MaxMsgsPerSubject > 0) {
    return "limits (a journal's stream has no message, byte, age or per-subject limit)";
  }
  if (!c.DenyDelete || !c.DenyPurge) return "deletes and purges (a journal's stream denies both)";
  const auto window = std::chrono::duration_cast<std::chrono::nanoseconds>(options.dedup_window).count();
  if (c.Duplicates < window) {
    return "duplicate window (" + std::to_string(c.Duplicates / 1'000'000'000) + " s, less than the " +
           std::to_string(options.dedup_window.count()) + " s a repeated append may come within)";
  }
  return "";
}

}  // namespace

Result<StreamOptions> ParseStreamUrl(std::string_view url) {
  constexpr std::string_view kScheme = "nats://";
  const auto bad = [&](const std::string& why) {
    return Err(Code::kInvalidArgument, "journal URL '" + std::string(url) + "' " + why +
                                           " (expected nats://HOST:PORT[,HOST:PORT...]/STREAM)");
  };
  if (!url.starts_with(kScheme)) return bad("does not start with nats://");
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("names no stream");
  StreamOptions options;
  options.stream = std::string(rest.substr(slash + 1));
  if (options.stream.empty() || !std::ranges::all_of(options.stream, IsStreamNameChar)) {
    return bad("has a stream name that is not letters, digits, '-' and '_'");
  }
  const std::string_view hosts = rest.substr(0, slash);
  for (std::size_t at = 0; at <= hosts.size();) {
    const std::size_t comma = std::min(hosts.find(',', at), hosts.size());
    const std::string server(hosts.substr(at, comma - at));
    at = comma + 1;
    const std::size_t colon = server.rfind(':');
    if (colon == std::string::npos || colon == 0) return bad("has a server without HOST:PORT");
    unsigned port = 0;
    const char* first = server.data() + colon + 1;
    const char* last = server.data() + server.size();
    if (auto [end, ec] = std::from_chars(first, last, port); ec != std::errc() || end != last || port == 0 || port > 65535) {
      return bad("has a port that is not a number from 1 to 65535");
    }
    options.servers.push_back(std::string(kScheme) + server);
  }
  return options;
}

std::string SubjectPrefix(std::string_view stream) { return "rewind." + std::string(stream) + "."; }

struct StreamLog::Impl {
  StreamOptions options;
  Options nats_options;
  Connection connection;
  Context js;
  std::string what;  // "stream 'S'", for messages
  std::string identity;

  jsOptions RequestOptions() const {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = options.timeout.count();
    return o;
  }

  Result<StreamInfo> Info() {
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    jsOptions o = RequestOptions();
    const natsStatus s = js_GetStreamInfo(&info, js.get(), options.stream.c_str(), &o, &code);
    StreamInfo owned(info);
    if (s != NATS_OK) return Err(Error(s, code, "reading " + what));
    return owned;
  }

  Status Ensure() {
    Result<StreamInfo> info = Info();
    if (!info.has_value() && info.error().code() == Code::kFailedPrecondition) {
      const std::string subjects = SubjectPrefix(options.stream) + ">";
      const char* subject_list[] = {subjects.c_str()};
      jsStreamConfig c;
      jsStreamConfig_Init(&c);
      c.Name = options.stream.c_str();
      c.Subjects = subject_list;
      c.SubjectsLen = 1;
      c.Storage = js_FileStorage;
      c.Replicas = options.replicas;
      c.Retention = js_LimitsPolicy;
      c.Discard = js_DiscardNew;  // never reached: there are no limits
      c.DenyDelete = true;
      c.DenyPurge = true;
      c.Duplicates = std::chrono::duration_cast<std::chrono::nanoseconds>(options.dedup_window).count();
      jsStreamInfo* made = nullptr;
      jsErrCode code{};
      jsOptions o = RequestOptions();
      const natsStatus s = js_AddStream(&made, js.get(), &c, &o, &code);
      StreamInfo owned(made);
      // Made meanwhile by another process: judged below like any existing one.
      if (s != NATS_OK && code != JSStreamNameExistErr) return Error(s, code, "making " + what);
      info = Info();
    }
    if (!info.has_value()) return info.error();
    if (std::string why = Mismatch(*(*info)->Config, options); !why.empty()) {
      return Status(Code::kFailedPrecondition, what + " exists with other settings than a journal's: " + why);
    }
    identity = "nats:" + options.stream + "@" + std::to_string((*info)->Created);
    return Status::Ok();
  }
};

namespace {

class OrderedFollower final : public StreamLog::Follower {
 public:
  OrderedFollower(natsConnection* connection, Subscription sub, std::string what)
      : connection_(connection), sub_(std::move(sub)), what_(std::move(what)) {}

  Result<std::optional<StoredMessage>> Next(std::chrono::milliseconds wait) override {
    natsMsg* raw = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&raw, sub_.get(), wait.count());
    Msg msg(raw);
    if (s == NATS_TIMEOUT) {
      // Nothing came: the stream had nothing new, or no server is there to say so.
      if (natsConnection_Status(connection_) != NATS_CONN_STATUS_CONNECTED) {
        return Err(Code::kUnavailable, "following " + what_ + ": not connected to any of its servers");
      }
      return std::optional<StoredMessage>();
    }
    if (s != NATS_OK) return Err(Error(s, {}, "following " + what_));
    jsMsgMetaData* meta = nullptr;
    if (natsStatus m = natsMsg_GetMetaData(&meta, msg.get()); m != NATS_OK) {
      return Err(Error(m, {}, "reading a message's sequence in " + what_));
    }
    MetaData owned_meta(meta);
    StoredMessage out;
    out.stream_seq = meta->Sequence.Stream;
    out.subject = natsMsg_GetSubject(msg.get());
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg.get(), "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) out.msg_id = id;
    const auto* data = reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg.get()));
    out.data.assign(data, data + natsMsg_GetDataLength(msg.get()));
    return std::optional<StoredMessage>(std::move(out));
  }

 private:
  natsConnection* connection_;  // the log's: outlives its followers
  Subscription sub_;
  std::string what_;
};

}  // namespace

Result<std::unique_ptr<StreamLog>> StreamLog::Open(const StreamOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->what = "stream '" + options.stream + "' on " + (options.servers.empty() ? "" : options.servers.front());
  if (options.servers.empty()) return Err(Code::kInvalidArgument, "no NATS server to connect to");
  if (options.replicas < 1 || options.replicas > 5) {
    return Err(Code::kInvalidArgument, "a stream has 1 to 5 replicas, not " + std::to_string(options.replicas));
  }
  natsOptions* o = nullptr;
  if (natsStatus s = natsOptions_Create(&o); s != NATS_OK) return Err(Error(s, {}, "connecting"));
  impl->nats_options.reset(o);
  std::vector<const char*> servers;
  for (const std::string& s : options.servers) servers.push_back(s.c_str());
  natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size()));
  natsOptions_SetName(o, "rewind");
  natsOptions_SetTimeout(o, options.timeout.count());
  // Reconnect for as long as the process lives, to any node: the cluster
  // outlives the loss of one, and requests meanwhile time out as Unavailable.
  natsOptions_SetMaxReconnect(o, -1);
  natsOptions_SetReconnectWait(o, 100);
  natsConnection* c = nullptr;
  if (natsStatus s = natsConnection_Connect(&c, o); s != NATS_OK) {
    return Err(Error(s, {}, "connecting to " + options.servers.front()));
  }
  impl->connection.reset(c);
  jsOptions jo = impl->RequestOptions();
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, c, &jo); s != NATS_OK) {
    return Err(Error(s, {}, "opening JetStream on " + options.servers.front()));
  }
  impl->js.reset(js);
  REWIND_RETURN_IF_ERROR(impl->Ensure());
  return std::unique_ptr<StreamLog>(new StreamLog(std::move(impl)));
}

StreamLog::StreamLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StreamLog::~StreamLog() = default;

const StreamOptions& StreamLog::options() const { return impl_->options; }
const std::string& StreamLog::identity() const { return impl_->identity; }

Result<Appended> StreamLog::Append(std::string_view subject, std::string_view msg_id,
                                   std::optional<std::uint64_t> expected_subject_seq, ByteView data) {
  const std::string subj(subject);
  if (!subj.starts_with(SubjectPrefix(impl_->options.stream))) {
    return Err(Code::kInvalidArgument, "subject '" + subj + "' is not one of " + impl_->what);
  }
  natsMsg* raw = nullptr;
  if (natsStatus s = natsMsg_Create(&raw, subj.c_str(), nullptr, reinterpret_cast<const char*>(data.data()),
                                    static_cast<int>(data.size()));
      s != NATS_OK) {
    return Err(Error(s, {}, "appending to " + impl_->what));
  }
  Msg msg(raw);
  const std::string id(msg_id), expected = expected_subject_seq ? std::to_string(*expected_subject_seq) : "";
  natsStatus headers = natsMsgHeader_Set(msg.get(), "Nats-Msg-Id", id.c_str());
  // Set by hand: the client's ExpectLastSubjectSeq sends nothing for 0, and
  // 0 is what fences a subject's first message.
  if (headers == NATS_OK && expected_subject_seq) {
    headers = natsMsgHeader_Set(msg.get(), "Nats-Expected-Last-Subject-Sequence", expected.c_str());
  }
  if (headers != NATS_OK) return Err(Error(headers, {}, "appending to " + impl_->what));
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = impl_->options.timeout.count();
  po.ExpectStream = impl_->options.stream.c_str();
  jsPubAck* ack = nullptr;
  jsErrCode code{};
  const natsStatus s = js_PublishMsg(&ack, impl_->js.get(), msg.get(), &po, &code);
  PubAck owned(ack);
  if (s != NATS_OK) {
    Status e = Error(s, code, "appending to '" + subj + "' of " + impl_->what);
    if (e.code() == Code::kConflict) {
      return Err(Code::kConflict, "appending to '" + subj + "' of " + impl_->what + ": its last message is not " +
                                      (expected == "0" ? "none" : "stream seq " + expected) + " (" + e.message() +
                                      ")");
    }
    return Err(std::move(e));
  }
  return Appended{ack->Sequence, ack->Duplicate};
}

Result<std::uint64_t> StreamLog::LastSeq() {
  REWIND_ASSIGN_OR_RETURN(StreamInfo info, impl_->Info());
  return info->State.LastSeq;
}

Result<std::string> StreamLog::Leader() {
  REWIND_ASSIGN_OR_RETURN(StreamInfo info, impl_->Info());
  if (info->Cluster == nullptr || info->Cluster->Leader == nullptr) return std::string();
  return std::string(info->Cluster->Leader);
}

Result<std::unique_ptr<StreamLog::Follower>> StreamLog::Follow(std::uint64_t from_seq) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = impl_->options.stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = std::max<std::uint64_t>(from_seq, 1);
  // The server beats once a second when it has nothing to send; two missed
  // beats (its consumer lost with a node) and the client makes it again
  // from the last message it gave (the default, 5 s, stalled followers 10 s).
  so.Config.Heartbeat = std::chrono::duration_cast<std::chrono::nanoseconds>(kFollowerHeartbeat).count();
  jsOptions jo = impl_->RequestOptions();
  natsSubscription* sub = nullptr;
  jsErrCode code{};
  const std::string subjects = SubjectPrefix(impl_->options.stream) + ">";
  if (natsStatus s = js_SubscribeSync(&sub, impl_->js.get(), subjects.c_str(), &jo, &so, &code); s != NATS_OK) {
    return Err(Error(s, code, "following " + impl_->what));
  }
  return std::unique_ptr<Follower>(
      std::make_unique<OrderedFollower>(impl_->connection.get(), Subscription(sub), impl_->what));
}

}  // namespace rwd::jetstream
