// Feed: the journal's events as they are committed, for the event streams.
//
// One thread tails the journal (Journal::WaitForPosition, then ReadAll from
// the last position it saw) and pushes each new event to the subscriptions
// that want it. A Subscription is one stream client's view: the events
// after a position (its Last-Event-ID), of one tenant and optionally one
// run, each exactly once and in journal order. It is registered at the
// feed's position L: what comes after L is pushed to it, what lies between
// its position and L it reads from the journal itself, in batches. So a
// client that reconnects with the id it last saw gets what it missed,
// across server restarts, without a gap or a duplicate.
//
// A client that does not keep up is cut off rather than slowing anyone: its
// undelivered events are bounded (max_pending), and past that its stream
// ends, to be reconnected from its last id.
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

#include "rewind/base/mutex.h"
#include "rewind/base/run_id.h"
#include "rewind/journal/journal.h"

namespace rwd::server_internal {

// One event as a stream sends it.
struct FeedEvent {
  std::uint64_t position = 0;
  RunId run;
  std::string tenant;
  // "id: <position>\ndata: <inspect::RecordJson, one line>\n\n", made once
  // and shared by every subscription it goes to.
  std::shared_ptr<const std::string> sse;
};

struct FeedOptions {
  std::size_t max_pending = 4096;   // undelivered events per client before it is cut off
  std::size_t max_per_tenant = 256;  // stream clients of one tenant at once
  std::size_t backlog_batch = 256;  // events read from the journal per Next while catching up
};

class Feed;

class Subscription {
 public:
  // The next events to send (empty: none now), or nullopt when the stream
  // must end: the client fell too far behind, or the feed stopped. Reads
  // the journal while the subscription catches up.
  std::optional<std::vector<FeedEvent>> Next();
  // `wake` is called (from the feed's thread) when Next has something new.
  void OnReady(std::function<void()> wake);
  // Stops delivering: the client went away.
  void Close();

 private:
  friend class Feed;
  Subscription(Feed& feed, std::string tenant, std::optional<RunId> run, std::uint64_t after)
      : feed_(feed), tenant_(std::move(tenant)), run_(run), next_(after + 1) {}
  bool Wants(const FeedEvent& e) const { return e.tenant == tenant_ && (!run_ || e.run == *run_); }

  Feed& feed_;
  const std::string tenant_;
  const std::optional<RunId> run_;
  Mutex mu_;
  std::uint64_t next_ REWIND_GUARDED_BY(mu_);  // the position the client needs next
  std::uint64_t live_from_ REWIND_GUARDED_BY(mu_) = 0;  // from here on, events arrive by Push
  std::deque<FeedEvent> pending_ REWIND_GUARDED_BY(mu_);
  bool ended_ REWIND_GUARDED_BY(mu_) = false;
  std::function<void()> wake_ REWIND_GUARDED_BY(mu_);
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
  // position `after` (nullopt: after the newest). Its first Next may read
  // the journal. ResourceExhausted when the tenant has max_per_tenant
  // streams already.
  Result<std::shared_ptr<Subscription>> Subscribe(std::string tenant, std::optional<RunId> run,
                                                  std::optional<std::uint64_t> after) REWIND_EXCLUDES(mu_);

  std::size_t subscribers() const REWIND_EXCLUDES(mu_);

 private:
  friend class Subscription;
  void Tail();
  // The event at `record`, for streams; the tenant from the run's first event.
  Result<FeedEvent> Describe(const EventRecord& record);
  // Events after `from` up to `to` that `sub` wants, at most `limit`, from
  // the journal; the position after the last one read.
  Result<std::uint64_t> ReadBacklog(const Subscription& sub, std::uint64_t from, std::uint64_t to, std::size_t limit,
                                    std::vector<FeedEvent>* out);
  void Drop(Subscription* sub) REWIND_EXCLUDES(mu_);

  const Journal& journal_;
  const FeedOptions options_;
  Mutex tenants_mu_;
  std::unordered_map<RunId, std::string> tenants_ REWIND_GUARDED_BY(tenants_mu_);  // run → tenant (bounded)
  mutable Mutex mu_;
  std::uint64_t last_ REWIND_GUARDED_BY(mu_) = 0;  // the newest position the feed has seen
  std::vector<std::weak_ptr<Subscription>> subscribers_ REWIND_GUARDED_BY(mu_);
  bool stopping_ REWIND_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rwd::server_internal
