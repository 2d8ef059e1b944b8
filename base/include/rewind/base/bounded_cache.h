// BoundedCache: a thread-safe map of values that can be recomputed at will,
// kept within a budget by forgetting everything when an insert would go
// over it.
//
// For keys that say exactly what their value is (a run's state at a seq, a
// token that verified), so a value found is never stale and a value lost
// costs one recomputation: any eviction policy would cost more bookkeeping
// than it saves. A value larger than the whole budget is not kept.
//
// Thread-safety: every method may be called from any thread concurrently.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "rewind/base/mutex.h"

namespace rwd {

template <typename K, typename V, typename Hash = std::hash<K>>
class BoundedCache {
 public:
  // `budget`: the most the values' costs (as given to Put) add up to.
  explicit BoundedCache(std::size_t budget) : budget_(budget) {}

  // A copy of the value kept for `key` (keep large values behind a
  // shared_ptr), or nullopt.
  std::optional<V> Find(const K& key) const REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second.value;
  }

  // Keeps `value` for `key`, replacing what was kept, at `cost` of the budget.
  void Put(const K& key, V value, std::size_t cost) REWIND_EXCLUDES(mu_) {
    if (cost > budget_) return;
    MutexLock lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      used_ -= it->second.cost;
      entries_.erase(it);
    }
    if (used_ + cost > budget_) {
      entries_.clear();
      used_ = 0;
    }
    entries_.emplace(key, Entry{std::move(value), cost});
    used_ += cost;
  }

 private:
  struct Entry {
    V value;
    std::size_t cost = 0;
  };
  const std::size_t budget_;
  mutable Mutex mu_;
  std::unordered_map<K, Entry, Hash> entries_ REWIND_GUARDED_BY(mu_);
  std::size_t used_ REWIND_GUARDED_BY(mu_) = 0;
};

}  // namespace rwd
