// Feed: the journal's events as they are committed, for the event streams.
//
// One thread tails the journal (Journal::WaitForPosition, then ReadAll from
// the last position it saw), renders each new event's SSE text once, and
// keeps the newest events in a window shared by every stream. A
// Subscription is one stream client's cursor: the position it needs next,
// of one tenant and optionally one run. Its Next reads from that position
// on: from the window while the position is in it, and from the journal, a
// batch at a time, while it is older (as the client would after a
// reconnect from there). So a client gets each event it wants exactly once,
// in journal order, without a gap, across reconnects and server restarts
// (its position is its Last-Event-ID).
//
// Nothing is held per client but its cursor. The feed's thread touches a
// subscription only when a batch of commits has an event it wants, and
// then only to mark it and wake it once; the io thread reads its events
// when it can write them. A slow client falls behind the window and reads
// from the journal at its own pace; it slows nobody and is never cut off.
//
// Thread-safety: Subscribe and a Subscription's methods from any thread; a
// subscription's Next from one thread at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "rewind/base/mutex.h"
#include "rewind/base/run_id.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"

namespace rwd::server_internal {

// One event as a stream sends it, made once and shared by every stream.
struct FeedEvent {
  std::uint64_t position = 0;
  RunId run;
  std::string tenant;
  std::string sse;  // "id: <position>\ndata: <inspect::RecordJson, one line>\n\n"
};
using FeedEvents = std::vector<std::shared_ptr<const FeedEvent>>;

struct FeedOptions {
  std::size_t window = 16384;        // newest events kept for the streams
  std::size_t max_per_tenant = 256;  // stream clients of one tenant at once
  std::size_t batch = 1024;          // events one Next returns at most
};

class Feed;

class Subscription {
 public:
  // The next events to send, at most FeedOptions::batch (empty: none now),
  // or nullopt when the stream must end: the feed stopped, or the journal
  // could not be read. Reads the journal while the position is older than
  // the window.
  std::optional<FeedEvents> Next() REWIND_EXCLUDES(mu_);
  // `wake` is called (from the feed's thread) when Next, having returned
  // empty, has something new; once until Next is called again. Also called
  // by Next itself when it stops reading the journal early (empty, with
  // more to read). Set it before the first Next.
  void OnReady(std::function<void()> wake) REWIND_EXCLUDES(mu_);
  // Stops delivering: the client went away.
  void Close() REWIND_EXCLUDES(mu_);

 private:
  friend class Feed;
  Subscription(Feed& feed, std::string tenant, std::optional<RunId> run, std::uint64_t next)
      : feed_(feed), tenant_(std::move(tenant)), run_(run), next_(next) {}
  bool Wants(const FeedEvent& e) const { return (!run_ || e.run == *run_) && e.tenant == tenant_; }

  Feed& feed_;
  const std::string tenant_;
  const std::optional<RunId> run_;
  Mutex mu_;
  std::uint64_t next_ REWIND_GUARDED_BY(mu_);  // the position the client needs next
  // False once Next has read everything the feed had seen and found nothing
  // more. Invariant: while false, no event it wants lies at or after next_
  // in the window, so the feed's next batch with one for it may move next_
  // to that batch's start, set this true again and wake it. True: nobody
  // waits for a wake (Next will be called, or is running).
  bool unread_ REWIND_GUARDED_BY(mu_) = true;
  bool ended_ REWIND_GUARDED_BY(mu_) = false;
  std::shared_ptr<const std::function<void()>> wake_ REWIND_GUARDED_BY(mu_);
};

class Feed {
 public:
  // Starts tailing `journal` from its last position. The journal must
  // outlive the feed.
  Feed(const Journal& journal, FeedOptions options);
  ~Feed();  // ends every subscription
  Feed(const Feed&) = delete;
  Feed& operator=(const Feed&) = delete;

  // A stream of `tenant`'s events (of `run` only, when given) after
  // position `after` (nullopt: after the newest; past the journal's end: its
  // end). ResourceExhausted when the tenant has max_per_tenant streams
  // already; an error of the journal's when it cannot be read.
  Result<std::shared_ptr<Subscription>> Subscribe(std::string tenant, std::optional<RunId> run,
                                                  std::optional<std::uint64_t> after) REWIND_EXCLUDES(mu_);

  std::size_t subscribers() const REWIND_EXCLUDES(mu_);

 private:
  friend class Subscription;
  void Tail();
  // Marks and wakes the subscriptions that want some of `batch`.
  void Notify(const FeedEvents& batch) REWIND_EXCLUDES(mu_);
  // The tenant of `record`'s run (named by its first event; remembered).
  Result<std::string> TenantOf(const EventRecord& record, const Event& event) REWIND_EXCLUDES(tenants_mu_);
  // Events from `from` up to `to` that `sub` wants, from the journal: at
  // most `limit` of them, and (for a tenant's stream) among at most `limit`
  // positions; the position after the last one read.
  Result<std::uint64_t> ReadBacklog(const Subscription& sub, std::uint64_t from, std::uint64_t to, std::size_t limit,
                                    FeedEvents* out);
  void Drop(Subscription* sub) REWIND_EXCLUDES(mu_);

  const Journal& journal_;
  const FeedOptions options_;
  Mutex tenants_mu_;
  std::unordered_map<RunId, std::string> tenants_ REWIND_GUARDED_BY(tenants_mu_);  // run → tenant (bounded)
  // Lock order: mu_, then a subscription's mu_, then window_mu_.
  mutable Mutex mu_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<Subscription>>> by_tenant_ REWIND_GUARDED_BY(mu_);
  bool stopping_ REWIND_GUARDED_BY(mu_) = false;
  Mutex window_mu_;
  std::deque<std::shared_ptr<const FeedEvent>> window_ REWIND_GUARDED_BY(window_mu_);  // dense positions
  std::uint64_t window_first_ REWIND_GUARDED_BY(window_mu_) = 1;  // the position of window_.front()
  std::thread thread_;
};

}  // namespace rwd::server_internal
