#include "journal/src/mirror.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "journal/src/key_codec.h"
#include "journal/src/read.h"
#include "journal/src/record.h"

namespace rwd::journal_internal {
namespace {

// How long the publisher asks a log that does not answer again, and the
// follower follows one that stopped answering, before giving up.
constexpr auto kUpstreamPatience = std::chrono::seconds(60);
constexpr auto kRetryPause = std::chrono::milliseconds(100);
constexpr auto kFollowWait = std::chrono::milliseconds(100);
// Messages handed to the writer and not yet stored, at most.
constexpr std::uint64_t kMaxUnmirrored = 4096;

}  // namespace

Result<std::unique_ptr<Mirror>> Mirror::Start(Store& store, Writer& writer, std::shared_ptr<Upstream> upstream) {
  std::unique_ptr<Mirror> m(new Mirror(store, writer, std::move(upstream)));
  {
    REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store.BeginRead());
    REWIND_ASSIGN_OR_RETURN(std::uint64_t last, ReadLogSeq(store, g.txn, AsBytes(key::kLogLastKey)));
    MutexLock lock(m->mu_);
    m->mirrored_ = last;
  }
  REWIND_ASSIGN_OR_RETURN(const std::uint64_t log_last, m->upstream_->LastSeq());
  {
    MutexLock lock(m->mu_);
    if (log_last < m->mirrored_) {
      return Err(Code::kCorruption, "the log " + m->upstream_->identity() + " holds " + std::to_string(log_last) +
                                        " messages, fewer than the " + std::to_string(m->mirrored_) +
                                        " journal '" + store.dir() + "' mirrors: it lost some");
    }
    m->caught_up_at_ = log_last;
  }
  m->follower_ = std::thread([p = m.get()] { p->FollowLoop(); });
  m->publisher_ = std::thread([p = m.get()] { p->PublishLoop(); });
  return m;
}

Status Mirror::AwaitCatchUp() {
  MutexLock lock(mu_);
  while (mirrored_ < caught_up_at_ && failed_.ok()) lock.Wait(wake_);
  return failed_;
}

Mirror::~Mirror() {
  Stop();
  // After the writer stopped (Journal closes it between Stop and here), with
  // every record the follower handed it stored: whoever still waits was not.
  Fail(Status(Code::kUnavailable, "journal '" + store_.dir() + "' closed before the append was mirrored"));
}

void Mirror::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  if (publisher_.joinable()) publisher_.join();
  if (follower_.joinable()) follower_.join();
}

void Mirror::Append(const RunId& run, std::uint64_t expected_seq, std::vector<Bytes> payloads,
                    Journal::AppendCallback done) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      queue_.push_back(Request{run, expected_seq, std::move(payloads), std::move(done)});
      wake_.NotifyAll();
      return;
    }
  }
  done(Err(Code::kUnavailable, "journal '" + store_.dir() + "' is closing"));
}

Result<Hash> Mirror::PutBlob(ByteView bytes) {
  const Hash hash = Sha256(bytes);
  const Result<std::uint64_t> seq = Persist([&] { return upstream_->PutBlob(hash, bytes); });
  if (!seq.has_value()) return Err(seq.error().WithContext("storing a blob in the log " + upstream_->identity()));
  MutexLock lock(mu_);
  while (mirrored_ < *seq && failed_.ok() && !stopping_) lock.Wait(wake_);
  if (mirrored_ >= *seq) return hash;
  return Err(!failed_.ok() ? failed_ : Status(Code::kUnavailable, "journal '" + store_.dir() + "' is closing"));
}

Result<std::uint64_t> Mirror::Persist(const std::function<Result<std::uint64_t>()>& call) {
  const auto give_up = std::chrono::steady_clock::now() + kUpstreamPatience;
  for (;;) {
    Result<std::uint64_t> seq = call();
    if (seq.has_value() || seq.error().code() != Code::kUnavailable || std::chrono::steady_clock::now() > give_up) {
      return seq;
    }
    MutexLock lock(mu_);
    if (stopping_) return seq;
    lock.WaitUntil(wake_, std::chrono::steady_clock::now() + kRetryPause);
  }
}

void Mirror::PublishLoop() {
  for (;;) {
    Request request;
    Status refused;
    {
      MutexLock lock(mu_);
      while (!stopping_ && queue_.empty()) lock.Wait(wake_);
      if (queue_.empty()) return;  // stopping
      request = std::move(queue_.front());
      queue_.pop_front();
      if (!failed_.ok()) refused = failed_;
      if (stopping_) refused = Status(Code::kUnavailable, "journal '" + store_.dir() + "' is closing");
    }
    if (!refused.ok()) {
      request.done(Err(std::move(refused)));
      continue;
    }
    Publish(request);
  }
}

Result<Mirror::Pending> Mirror::HeadOf(const RunId& run) {
  {
    MutexLock lock(mu_);
    if (auto it = pending_.find(run); it != pending_.end()) return it->second;
  }
  REWIND_ASSIGN_OR_RETURN(GuardedTxn g, store_.BeginRead());
  Pending p;
  REWIND_ASSIGN_OR_RETURN(p.head, ReadHead(store_, g.txn, run));
  REWIND_ASSIGN_OR_RETURN(p.log_seq, ReadLogSeq(store_, g.txn, run.bytes()));
  // Mirrored meanwhile by the follower: then the pending head is newer.
  MutexLock lock(mu_);
  if (auto it = pending_.find(run); it != pending_.end() && it->second.head.seq > p.head.seq) return it->second;
  return p;
}

void Mirror::Publish(Request& request) {
  const RunId& run = request.run;
  Result<Pending> at = HeadOf(run);
  if (!at.has_value()) return request.done(Err(at.error()));
  if (at->head.seq != request.expected_seq) {
    return request.done(Err(Code::kConflict, "run " + run.ToString() + ": expected seq " +
                                                 std::to_string(request.expected_seq) + " but the run is at seq " +
                                                 std::to_string(at->head.seq)));
  }
  std::vector<ByteView> payloads(request.payloads.begin(), request.payloads.end());
  Hash hash = at->head.hash;
  for (std::size_t i = 0; i < payloads.size(); ++i) hash = record::ChainHash(run, at->head.seq + i + 1, hash, payloads[i]);
  Bytes stored;
  record::Encode(2, run, at->head.seq + 1, at->head.hash, payloads, &stored);
  const RunHead after{at->head.seq + payloads.size(), hash};
  const auto key = std::make_pair(run, at->head.seq + 1);
  // This append's own id: the publisher's repeats of it are stored once, and
  // nobody else's append (identical or not) is taken for it.
  const std::string id = HexEncode(after.hash) + "-" + RunId::New().ToString();
  Status refused;
  {
    // Waiting before the append: the follower may mirror it before the log answers.
    MutexLock lock(mu_);
    if (!failed_.ok()) {
      refused = failed_;
    } else {
      waiters_[key] = Waiter{after, std::move(request.done), std::nullopt, std::nullopt};
    }
  }
  if (!refused.ok()) return request.done(Err(std::move(refused)));
  const Result<std::uint64_t> seq = Persist([&] { return upstream_->Append(run, id, at->log_seq, stored); });
  Journal::AppendCallback done;
  Result<AppendResult> outcome = Err(Code::kInternal, "unset");
  {
    MutexLock lock(mu_);
    auto it = waiters_.find(key);
    if (seq.has_value() && *seq > mirrored_) pending_[run] = Pending{after, *seq};  // later appends follow on
    if (it == waiters_.end()) return;  // answered meanwhile: the mirror failed or closed
    Waiter& w = it->second;
    if (seq.has_value()) {
      if (!w.arrived || w.arrived->first != *seq) {
        if (*seq > mirrored_) {
          w.log_seq = *seq;  // Mirrored answers it
          return;
        }
        // Registered before the append, so it arrived after: never here.
        outcome = Err(Code::kInternal, "run " + run.ToString() + ": log message " + std::to_string(*seq) +
                                           " was mirrored without being recognised as this append");
      } else {
        outcome = w.arrived->second;
      }
    } else {
      Status why = seq.error();
      if (why.code() == Code::kConflict) {
        why = Status(Code::kConflict, "run " + run.ToString() + " was extended past seq " +
                                          std::to_string(at->head.seq) + " by another process first: " + why.message());
      } else if (why.code() == Code::kUnavailable) {
        why = Status(Code::kUnavailable, "run " + run.ToString() + ": the log " + upstream_->identity() +
                                             " did not take the append (it may hold it: reading the run tells): " +
                                             why.message());
      }
      outcome = Err(std::move(why));
    }
    done = std::move(w.done);
    waiters_.erase(it);
  }
  done(std::move(outcome));
}

void Mirror::FollowLoop() {
  std::uint64_t next;
  {
    MutexLock lock(mu_);
    next = mirrored_ + 1;
  }
  std::unique_ptr<Upstream::Follower> follower;
  // The last time the log answered (a message, or word that there was none):
  // a log silent for kUpstreamPatience stops the mirror.
  auto heard = std::chrono::steady_clock::now();
  const auto lost = [&](const Status& why) {
    follower.reset();  // follow again from `next`
    if (why.code() != Code::kUnavailable || std::chrono::steady_clock::now() - heard > kUpstreamPatience) {
      Fail(why.WithContext("following the log " + upstream_->identity()));
      return true;
    }
    std::this_thread::sleep_for(kRetryPause);
    return false;
  };
  for (;;) {
    {
      // At most kMaxUnmirrored messages wait for the writer at once.
      MutexLock lock(mu_);
      while (!stopping_ && failed_.ok() && next - 1 - mirrored_ >= kMaxUnmirrored) {
        lock.WaitUntil(wake_, std::chrono::steady_clock::now() + kFollowWait);
      }
      if (stopping_ || !failed_.ok()) return;
    }
    if (!follower) {
      Result<std::unique_ptr<Upstream::Follower>> f = upstream_->Follow(next);
      if (!f.has_value()) {
        if (lost(f.error())) return;
        continue;
      }
      follower = std::move(*f);
    }
    Result<std::optional<Upstream::Message>> m = follower->Next(kFollowWait);
    if (!m.has_value()) {
      if (lost(m.error())) return;
      continue;
    }
    heard = std::chrono::steady_clock::now();
    if (!*m) continue;
    Upstream::Message& message = **m;
    if (message.seq != next) {
      return Fail(Status(Code::kCorruption, "the log " + upstream_->identity() + " skipped from message " +
                                                std::to_string(next - 1) + " to " + std::to_string(message.seq) +
                                                ": a mirror holds every message"));
    }
    RunId::Bytes id{};
    if (!message.blob && message.record.size() >= 8 + RunId::kSize) {
      std::copy_n(message.record.begin() + 8, RunId::kSize, id.begin());
    }
    const RunId run(id);
    const std::size_t bytes = message.record.size();
    writer_.Enqueue(AppendRequest{run, 0, {}, [this, run, seq = message.seq](Result<AppendResult> r) {
                                    Mirrored(run, seq, std::move(r));
                                  },
                                  bytes, message.seq, std::move(message.record), message.blob});
    ++next;
  }
}

void Mirror::Mirrored(const RunId& run, std::uint64_t seq, Result<AppendResult> result) {
  if (!result.has_value()) return Fail(result.error());
  Journal::AppendCallback done;
  {
    MutexLock lock(mu_);
    mirrored_ = seq;
    if (auto it = pending_.find(run); it != pending_.end() && it->second.log_seq <= seq) pending_.erase(it);
    auto it = result->first_seq == 0 ? waiters_.end() : waiters_.find({run, result->first_seq});  // 0: a blob
    // Only the record the log acknowledged is the waiter's: another
    // process's at the same seq, even one with the same events, is not.
    if (it != waiters_.end() && it->second.head == result->head) {
      if (!it->second.log_seq) {
        it->second.arrived.emplace(seq, *result);  // the publisher learns its seq after
      } else if (*it->second.log_seq == seq) {
        done = std::move(it->second.done);
        waiters_.erase(it);
      }
    }
  }
  wake_.NotifyAll();
  if (done) done(std::move(result));
}

void Mirror::Fail(Status cause) {
  std::map<std::pair<RunId, std::uint64_t>, Waiter> waiters;
  {
    MutexLock lock(mu_);
    if (failed_.ok()) failed_ = cause;
    waiters.swap(waiters_);
    pending_.clear();
  }
  wake_.NotifyAll();
  for (auto& [key, w] : waiters) w.done(Err(cause));
}

}  // namespace rwd::journal_internal
