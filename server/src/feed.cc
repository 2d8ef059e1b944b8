#include "server/src/feed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "rewind/inspect/event_json.h"
#include "rewind/projections/history.h"
#include "rewind/server/api_json.h"
#include "rewind/schemas/events.h"

namespace rwd::server_internal {
namespace {

constexpr std::size_t kMaxCachedTenants = 100'000;
constexpr auto kTailWait = std::chrono::milliseconds(50);  // also how long a stopping feed waits

constexpr std::uint64_t kTailBatch = 4096;

// The tenant a run's first event names; null for any other event.
const std::string* TenantOf(const Event& e) {
  if (const auto* started = std::get_if<RunStarted>(&e.body)) return &started->tenant;
  if (const auto* forked = std::get_if<RunForked>(&e.body)) return &forked->start.tenant;
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- Subscription

std::optional<std::vector<FeedEvent>> Subscription::Next() {
  std::vector<FeedEvent> out;
  for (;;) {
    std::uint64_t from = 0, to = 0;
    {
      MutexLock lock(mu_);
      if (ended_) return std::nullopt;
      if (next_ >= live_from_) {
        out.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
        pending_.clear();
        if (!out.empty()) next_ = out.back().position + 1;
        return out;
      }
      from = next_;
      to = live_from_ - 1;
    }
    // Catching up: what lies between the client's position and the live
    // events comes from the journal, a batch at a time.
    auto read = feed_.ReadBacklog(*this, from, to, feed_.options_.backlog_batch, &out);
    MutexLock lock(mu_);
    if (!read.has_value()) {
      spdlog::warn("a stream could not read the journal after position {}: {}", from - 1, read.error().ToString());
      ended_ = true;
      return std::nullopt;
    }
    next_ = *read;
    if (!out.empty()) return out;
  }
}

void Subscription::OnReady(std::function<void()> wake) {
  MutexLock lock(mu_);
  wake_ = std::move(wake);
}

void Subscription::Close() {
  {
    MutexLock lock(mu_);
    ended_ = true;
    wake_ = nullptr;
    pending_.clear();
  }
  feed_.Drop(this);
}

// ---------------------------------------------------------------- Feed

Feed::Feed(const Journal& journal, FeedOptions options) : journal_(journal), options_(options) {
  auto last = journal_.LastPosition();
  {
    MutexLock lock(mu_);
    last_ = last.has_value() ? *last : 0;
  }
  thread_ = std::thread([this] { Tail(); });
}

Feed::~Feed() {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    for (const auto& weak : subscribers_) {
      if (auto s = weak.lock()) subs.push_back(std::move(s));
    }
  }
  thread_.join();
  for (const auto& s : subs) {
    std::function<void()> wake;
    {
      MutexLock lock(s->mu_);
      s->ended_ = true;
      wake = s->wake_;
    }
    if (wake) wake();
  }
}

Result<std::shared_ptr<Subscription>> Feed::Subscribe(std::string tenant, std::optional<RunId> run,
                                                      std::optional<std::uint64_t> after) {
  MutexLock lock(mu_);
  std::size_t of_tenant = 0;
  std::erase_if(subscribers_, [](const std::weak_ptr<Subscription>& w) { return w.expired(); });
  for (const auto& weak : subscribers_) {
    if (auto s = weak.lock(); s && s->tenant_ == tenant) ++of_tenant;
  }
  if (of_tenant >= options_.max_per_tenant) {
    return Err(Code::kResourceExhausted, "tenant '" + tenant + "' has " + std::to_string(of_tenant) +
                                             " streams open, the most this server keeps");
  }
  auto sub = std::shared_ptr<Subscription>(new Subscription(*this, std::move(tenant), run, after.value_or(last_)));
  {
    MutexLock sub_lock(sub->mu_);
    sub->live_from_ = std::max(last_ + 1, sub->next_);
  }
  subscribers_.push_back(sub);
  return sub;
}

std::size_t Feed::subscribers() const {
  MutexLock lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(subscribers_.begin(), subscribers_.end(), [](const auto& w) { return !w.expired(); }));
}

void Feed::Drop(Subscription* sub) {
  MutexLock lock(mu_);
  std::erase_if(subscribers_, [sub](const std::weak_ptr<Subscription>& w) {
    auto s = w.lock();
    return !s || s.get() == sub;
  });
}

Result<FeedEvent> Feed::Describe(const EventRecord& record) {
  REWIND_ASSIGN_OR_RETURN(Event event, DecodeRecord(record));
  FeedEvent out{record.position, record.run, {},
                std::make_shared<const std::string>("id: " + std::to_string(record.position) + "\ndata: " +
                                                    server::JsonText(inspect::RecordJson(record, event)) + "\n\n")};
  const std::string* named = TenantOf(event);
  MutexLock lock(tenants_mu_);
  if (tenants_.size() > kMaxCachedTenants) tenants_.clear();
  if (named != nullptr) {
    out.tenant = tenants_[record.run] = *named;
    return out;
  }
  if (auto it = tenants_.find(record.run); it != tenants_.end()) {
    out.tenant = it->second;
    return out;
  }
  REWIND_RETURN_IF_ERROR(journal_.ReadRun(record.run, 1, 1, [&](const EventRecord& first) -> Status {
    REWIND_ASSIGN_OR_RETURN(const Event e, DecodeRecord(first));
    const std::string* tenant = TenantOf(e);
    if (tenant == nullptr) return Status(Code::kCorruption, "run " + record.run.ToString() + " starts with no RunStarted");
    out.tenant = *tenant;
    return Status::Ok();
  }));
  tenants_[record.run] = out.tenant;
  return out;
}

Result<std::uint64_t> Feed::ReadBacklog(const Subscription& sub, std::uint64_t from, std::uint64_t to,
                                        std::size_t limit, std::vector<FeedEvent>* out) {
  std::uint64_t next = from;
  // A run's stream reads the run (its positions are sparse in the journal).
  auto take = [&](const EventRecord& r) -> Status {
    if (r.position < from || r.position > to) return Status::Ok();
    REWIND_ASSIGN_OR_RETURN(FeedEvent e, Describe(r));
    if (sub.Wants(e)) out->push_back(std::move(e));
    next = r.position + 1;
    return Status::Ok();
  };
  if (sub.run_) {
    const Status read = journal_.ReadRun(*sub.run_, 1, Journal::kEnd, take);
    if (!read.ok() && read.code() != Code::kNotFound) return Err(read);
    return to + 1;  // the run's events up to `to` are all read
  }
  const std::uint64_t until = std::min(to, from + limit - 1);
  REWIND_RETURN_IF_ERROR(journal_.ReadAll(from, until, take));
  return until + 1;
}

void Feed::Tail() {
  std::uint64_t last = 0;
  {
    MutexLock lock(mu_);
    last = last_;
  }
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    auto committed = journal_.WaitForPosition(last, std::chrono::steady_clock::now() + kTailWait);
    if (!committed.has_value() || *committed <= last) continue;
    const std::uint64_t until = std::min(*committed, last + kTailBatch);
    std::vector<FeedEvent> events;
    const Status read = journal_.ReadAll(last + 1, until, [&](const EventRecord& r) -> Status {
      REWIND_ASSIGN_OR_RETURN(FeedEvent e, Describe(r));
      events.push_back(std::move(e));
      return Status::Ok();
    });
    if (!read.ok()) {
      spdlog::error("the event streams cannot read the journal after position {}: {}", last, read.ToString());
      std::this_thread::sleep_for(std::chrono::seconds(1));  // then try again; the streams wait meanwhile
      continue;
    }
    std::vector<std::shared_ptr<Subscription>> subs;
    {
      MutexLock lock(mu_);
      last_ = last = until;
      for (const auto& weak : subscribers_) {
        if (auto s = weak.lock()) subs.push_back(std::move(s));
      }
    }
    for (const auto& s : subs) {
      std::function<void()> wake;
      {
        MutexLock lock(s->mu_);
        if (s->ended_) continue;
        const std::size_t before = s->pending_.size();
        for (const FeedEvent& e : events) {
          if (e.position < s->live_from_ || !s->Wants(e)) continue;
          if (s->pending_.size() >= options_.max_pending) {
            s->ended_ = true;  // too far behind: it reconnects from its last id
            break;
          }
          s->pending_.push_back(e);
        }
        if (s->ended_ || s->pending_.size() != before) wake = s->wake_;
      }
      if (wake) wake();
    }
  }
}

}  // namespace rwd::server_internal
