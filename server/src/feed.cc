#include "server/src/feed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "rewind/base/log.h"
#include "rewind/inspect/event_json.h"
#include "rewind/projections/history.h"
#include "rewind/server/api_json.h"
#include "rewind/schemas/events.h"

namespace rwd::server_internal {
namespace {

constexpr std::size_t kMaxCachedTenants = 100'000;
constexpr auto kTailWait = std::chrono::milliseconds(50);  // also how long a stopping feed waits
constexpr std::uint64_t kTailBatch = 4096;                  // events read per wake
constexpr std::uint64_t kScanBatches = 4;  // a Next reads at most this many batches of positions from the journal

// The tenant a run's first event names; null for any other event.
const std::string* FirstEventTenant(const Event& e) {
  if (const auto* started = std::get_if<RunStarted>(&e.body)) return &started->tenant;
  if (const auto* forked = std::get_if<RunForked>(&e.body)) return &forked->start.tenant;
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- Subscription

std::optional<FeedEvents> Subscription::Next() {
  FeedEvents out;
  const std::size_t limit = feed_.options_.batch;
  // Positions read from the journal in this call: a stream far behind reads
  // a bounded stretch, then lets the io thread serve others and comes back.
  std::uint64_t scanned = 0;
  for (;;) {
    std::uint64_t from = 0, behind_until = 0;
    {
      MutexLock lock(mu_);
      if (ended_) return std::nullopt;
      from = next_;
      MutexLock window(feed_.window_mu_);
      const std::uint64_t end = feed_.window_first_ + feed_.window_.size();  // after the newest seen
      if (from >= feed_.window_first_) {
        std::uint64_t at = from;
        for (; at < end && out.size() < limit; ++at) {
          const auto& e = feed_.window_[at - feed_.window_first_];
          if (Wants(*e)) out.push_back(e);
        }
        next_ = std::max(from, at);
        if (at >= end) unread_ = false;  // read all the feed has seen: its next batch wakes it
        return out;
      }
      behind_until = feed_.window_first_ - 1;
    }
    // Behind the window: what lies before it comes from the journal.
    auto read = feed_.ReadBacklog(*this, from, behind_until, limit - out.size(), &out);
    std::shared_ptr<const std::function<void()>> wake;
    {
      MutexLock lock(mu_);
      if (!read.has_value()) {
        spdlog::warn("a stream could not read the journal after position {}: {}", from - 1, read.error().ToString());
        ended_ = true;
        return std::nullopt;
      }
      next_ = *read;
      scanned += *read - from;
      if (out.size() >= limit) return out;
      if (scanned < feed_.options_.batch * kScanBatches) continue;
      wake = wake_;  // nothing yet, and more to read: come back at the next sweep
    }
    if (wake) (*wake)();
    return out;
  }
}

void Subscription::OnReady(std::function<void()> wake) {
  MutexLock lock(mu_);
  wake_ = std::make_shared<const std::function<void()>>(std::move(wake));
}

void Subscription::Close() {
  {
    MutexLock lock(mu_);
    ended_ = true;
    wake_ = nullptr;
  }
  feed_.Drop(this);
}

// ---------------------------------------------------------------- Feed

Feed::Feed(const Journal& journal, FeedOptions options)
    : journal_(journal),
      options_{.window = std::max<std::size_t>(options.window, 1),
               .max_per_tenant = options.max_per_tenant,
               .batch = std::max<std::size_t>(options.batch, 1)} {
  auto last = journal_.LastPosition();
  {
    MutexLock lock(window_mu_);
    window_first_ = (last.has_value() ? *last : 0) + 1;
  }
  PrepareLogging();
  thread_ = std::thread([this] { Tail(); });
}

Feed::~Feed() {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    for (const auto& [tenant, list] : by_tenant_) {
      for (const auto& weak : list) {
        if (auto s = weak.lock()) subs.push_back(std::move(s));
      }
    }
  }
  thread_.join();
  for (const auto& s : subs) {
    std::shared_ptr<const std::function<void()>> wake;
    {
      MutexLock lock(s->mu_);
      s->ended_ = true;
      wake = s->wake_;
    }
    if (wake) (*wake)();
  }
}

Result<std::shared_ptr<Subscription>> Feed::Subscribe(std::string tenant, std::optional<RunId> run,
                                                      std::optional<std::uint64_t> after) {
  // A position past the journal's end (an id from another journal, or a
  // restored one) is taken as its end: what comes next is sent. Read before
  // the lock, which the feed's thread takes for every batch.
  if (after.has_value()) {
    REWIND_ASSIGN_OR_RETURN(const std::uint64_t last, journal_.LastPosition());
    after = std::min(*after, last);
  }
  MutexLock lock(mu_);
  auto& list = by_tenant_[tenant];
  std::erase_if(list, [](const std::weak_ptr<Subscription>& w) { return w.expired(); });
  if (list.size() >= options_.max_per_tenant) {
    return Err(Code::kResourceExhausted, "tenant '" + tenant + "' has " + std::to_string(list.size()) +
                                             " streams open, the most this server keeps");
  }
  std::uint64_t next = 0;
  if (after.has_value()) {
    next = *after + 1;
  } else {
    MutexLock window(window_mu_);
    next = window_first_ + window_.size();
  }
  auto sub = std::shared_ptr<Subscription>(new Subscription(*this, std::move(tenant), run, next));
  list.push_back(sub);
  return sub;
}

std::size_t Feed::subscribers() const {
  MutexLock lock(mu_);
  std::size_t n = 0;
  for (const auto& [tenant, list] : by_tenant_) {
    n += static_cast<std::size_t>(std::count_if(list.begin(), list.end(), [](const auto& w) { return !w.expired(); }));
  }
  return n;
}

void Feed::Drop(Subscription* sub) {
  MutexLock lock(mu_);
  auto it = by_tenant_.find(sub->tenant_);
  if (it == by_tenant_.end()) return;
  std::erase_if(it->second, [sub](const std::weak_ptr<Subscription>& w) {
    auto s = w.lock();
    return !s || s.get() == sub;
  });
  if (it->second.empty()) by_tenant_.erase(it);
}

Result<std::string> Feed::TenantOf(const EventRecord& record, const Event& event) {
  const std::string* named = FirstEventTenant(event);
  MutexLock lock(tenants_mu_);
  if (tenants_.size() > kMaxCachedTenants) tenants_.clear();
  if (named != nullptr) return tenants_[record.run] = *named;
  if (auto it = tenants_.find(record.run); it != tenants_.end()) return it->second;
  std::string tenant;
  REWIND_RETURN_IF_ERROR(journal_.ReadRun(record.run, 1, 1, [&](const EventRecord& first) -> Status {
    REWIND_ASSIGN_OR_RETURN(const Event e, DecodeRecord(first));
    const std::string* t = FirstEventTenant(e);
    if (t == nullptr) return Status(Code::kCorruption, "run " + record.run.ToString() + " starts with no RunStarted");
    tenant = *t;
    return Status::Ok();
  }));
  return tenants_[record.run] = tenant;
}

namespace {

// The event as streams send it.
std::shared_ptr<const FeedEvent> Render(const EventRecord& record, const Event& event, std::string tenant) {
  return std::make_shared<const FeedEvent>(FeedEvent{
      record.position, record.run, std::move(tenant),
      "id: " + std::to_string(record.position) + "\ndata: " + server::JsonText(inspect::RecordJson(record, event)) +
          "\n\n"});
}

}  // namespace

Result<std::uint64_t> Feed::ReadBacklog(const Subscription& sub, std::uint64_t from, std::uint64_t to,
                                        std::size_t limit, FeedEvents* out) {
  std::uint64_t taken = 0, last = 0;
  // Only the events the stream wants are rendered.
  auto take = [&](const EventRecord& r) -> Status {
    if (r.position < from || r.position > to || taken >= limit) return Status::Ok();
    if (sub.run_ && r.run != *sub.run_) return Status::Ok();
    REWIND_ASSIGN_OR_RETURN(const Event event, DecodeRecord(r));
    REWIND_ASSIGN_OR_RETURN(std::string tenant, TenantOf(r, event));
    if (tenant != sub.tenant_) return Status::Ok();
    out->push_back(Render(r, event, std::move(tenant)));
    ++taken;
    last = r.position;
    return Status::Ok();
  };
  if (sub.run_) {
    // A run's stream reads the run (its positions are sparse in the journal).
    const Status read = journal_.ReadRun(*sub.run_, 1, Journal::kEnd, take);
    if (!read.ok() && read.code() != Code::kNotFound) return Err(read);
    return taken >= limit ? last + 1 : to + 1;
  }
  const std::uint64_t until = std::min(to, from + std::max<std::size_t>(limit, 1) - 1);
  REWIND_RETURN_IF_ERROR(journal_.ReadAll(from, until, take));
  return taken >= limit ? last + 1 : until + 1;
}

void Feed::Tail() {
  std::uint64_t last = 0;
  {
    MutexLock lock(window_mu_);
    last = window_first_ - 1;
  }
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    auto committed = journal_.WaitForPosition(last, std::chrono::steady_clock::now() + kTailWait);
    if (!committed.has_value() || *committed <= last) continue;
    const std::uint64_t until = std::min(*committed, last + kTailBatch);
    FeedEvents batch;
    const Status read = journal_.ReadAll(last + 1, until, [&](const EventRecord& r) -> Status {
      REWIND_ASSIGN_OR_RETURN(const Event event, DecodeRecord(r));
      REWIND_ASSIGN_OR_RETURN(std::string tenant, TenantOf(r, event));
      batch.push_back(Render(r, event, std::move(tenant)));
      return Status::Ok();
    });
    if (!read.ok() || batch.size() != until - last) {
      spdlog::error("the event streams cannot read the journal after position {}: {}", last,
                    read.ok() ? "positions are missing" : read.ToString());
      std::this_thread::sleep_for(std::chrono::seconds(1));  // then try again; the streams wait meanwhile
      continue;
    }
    {
      MutexLock lock(window_mu_);
      window_.insert(window_.end(), batch.begin(), batch.end());
      while (window_.size() > options_.window) {
        window_.pop_front();
        ++window_first_;
      }
    }
    last = until;
    Notify(batch);
  }
}

void Feed::Notify(const FeedEvents& batch) {
  // The tenants and runs the batch has events of (few: one commit group).
  std::set<std::string_view> tenants;
  std::set<RunId> runs;
  for (const auto& e : batch) {
    tenants.insert(e->tenant);
    runs.insert(e->run);
  }
  const std::uint64_t first = batch.front()->position;
  std::vector<std::shared_ptr<const std::function<void()>>> wakes;
  {
    MutexLock lock(mu_);
    for (const std::string_view tenant : tenants) {
      auto it = by_tenant_.find(std::string(tenant));
      if (it == by_tenant_.end()) continue;
      for (const auto& weak : it->second) {
        auto s = weak.lock();
        if (!s || (s->run_ && !runs.contains(*s->run_))) continue;
        MutexLock sub(s->mu_);
        if (s->ended_ || s->unread_) continue;  // already marked: its Next reads this batch too
        // Next read everything before this batch, and nothing since was
        // for it: it needs this batch next.
        s->unread_ = true;
        s->next_ = std::max(s->next_, first);
        if (s->wake_) wakes.push_back(s->wake_);
      }
    }
  }
  for (const auto& wake : wakes) (*wake)();
}

}  // namespace rwd::server_internal
