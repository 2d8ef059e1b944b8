#include "rewind/base/bounded_cache.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace rwd {
namespace {

TEST(BoundedCacheTest, KeepsWhatFitsAndForgetsAllWhenFull) {
  BoundedCache<std::string, int> cache(10);
  EXPECT_FALSE(cache.Find("a"));
  cache.Put("a", 1, 4);
  cache.Put("b", 2, 4);
  EXPECT_EQ(cache.Find("a"), 1);
  cache.Put("a", 3, 4);  // replaced: its old cost is given back
  EXPECT_EQ(cache.Find("a"), 3);
  EXPECT_EQ(cache.Find("b"), 2);
  cache.Put("c", 4, 4);  // 12 > 10: everything before is forgotten
  EXPECT_FALSE(cache.Find("a"));
  EXPECT_FALSE(cache.Find("b"));
  EXPECT_EQ(cache.Find("c"), 4);
  cache.Put("huge", 5, 11);  // over the whole budget: not kept, nothing forgotten
  EXPECT_FALSE(cache.Find("huge"));
  EXPECT_EQ(cache.Find("c"), 4);
}

// Whatever the puts, a value found is the last one put for its key.
RC_GTEST_PROP(BoundedCacheTest, AValueFoundIsTheLastPutForItsKey, ()) {
  const auto puts = *rc::gen::container<std::vector<std::tuple<int, int, std::size_t>>>(
      rc::gen::tuple(rc::gen::inRange(0, 8), rc::gen::arbitrary<int>(), rc::gen::inRange<std::size_t>(0, 6)));
  BoundedCache<int, int> cache(16);
  std::map<int, int> last;
  for (const auto& [key, value, cost] : puts) {
    cache.Put(key, value, cost);
    last[key] = value;
    for (int k = 0; k < 8; ++k) {
      if (auto found = cache.Find(k)) {
        RC_ASSERT(*found == last.at(k));
      }
    }
  }
  if (!puts.empty()) RC_ASSERT(cache.Find(std::get<0>(puts.back())) == std::get<1>(puts.back()));
}

TEST(BoundedCacheTest, ConcurrentPutsAndFindsAgree) {
  BoundedCache<int, int> cache(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 20'000; ++i) {
        const int key = (i + t) % 100;
        cache.Put(key, key * 2, 1);
        if (auto v = cache.Find(key)) {
          EXPECT_EQ(*v, key * 2);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
}

}  // namespace
}  // namespace rwd
