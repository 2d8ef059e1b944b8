// Shared setup of the journal tests: a temporary directory and helpers to open,
// append and read back payloads as text.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "rewind/journal/journal.h"
#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {

inline std::vector<Bytes> Payloads(std::initializer_list<std::string_view> texts) {
  std::vector<Bytes> out;
  for (std::string_view t : texts) out.push_back(ToBytes(t));
  return out;
}

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions Options() const {
    JournalOptions o;
    o.directory = dir_.Sub("journal");
    o.durability = Durability::kNoSync;
    return o;
  }
  std::unique_ptr<Journal> OpenOrDie(JournalOptions o) {
    auto j = Journal::Open(o);
    EXPECT_TRUE(j.has_value()) << j.error().ToString();
    return j.has_value() ? std::move(*j) : nullptr;
  }
  std::unique_ptr<Journal> OpenOrDie() { return OpenOrDie(Options()); }

  // Payloads of the run's events, as text, in seq order.
  static std::vector<std::string> RunTexts(const Journal& j, const RunId& run,
                                           std::uint64_t from = 1, std::uint64_t to = Journal::kEnd) {
    std::vector<std::string> out;
    const Status s = j.ReadRun(run, from, to, [&](const EventRecord& r) {
      out.emplace_back(AsChars(r.payload));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  TempDir dir_;
  const RunId a_ = RunId::New();
  const RunId b_ = RunId::New();
};

}  // namespace rwd::test
