// DescribeEvent prints every field of the schema's one list (event_fields.h):
// a field added there reaches the one-line description without more code.
#include "rewind/schemas/describe.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <type_traits>

#include "rewind/schemas/event_fields.h"
#include "tests/support/sample_events.h"

namespace rwd {
namespace {

using schema_fields::Fields;

// The names DescribeBody must print for a body: each field, but empty
// strings and bytes, with a nested table's fields under its name.
struct Names {
  std::set<std::string>& out;
  std::string prefix;

  template <typename F>
  void operator()(const char* name, const F& f) {
    const std::string key = prefix + name;
    if constexpr (std::is_same_v<F, std::string> || std::is_same_v<F, Bytes>) {
      if (!f.empty()) out.insert(key);
    } else if constexpr (schema_fields::Table<F>) {
      Names nested{out, key + "."};
      Fields(nested, f);
    } else {
      out.insert(key);
    }
  }
};

TEST(DescribeTest, EveryFieldOfEverySampleEventIsNamed) {
  std::size_t checked = 0;
  for (const Event& event : test::SampleEvents()) {
    const std::string line = DescribeBody(event.body);
    EXPECT_EQ(line.rfind(std::string(EventTypeName(event.body)), 0), 0u) << line;
    std::set<std::string> names;
    Names collect{names, ""};
    std::visit([&](const auto& body) { Fields(collect, body); }, event.body);
    for (const std::string& name : names) {
      EXPECT_NE(line.find(" " + name + "="), std::string::npos) << name << " missing in: " << line;
      ++checked;
    }
  }
  EXPECT_GT(checked, 50u);
}

TEST(DescribeTest, BytesShowAsTextWhenPrintableAndAsHexOtherwise) {
  const std::string text = DescribeBody(RunCompleted{.output = ToBytes("{\"ok\":true}")});
  EXPECT_EQ(text, "RunCompleted output=[11B \"{\"ok\":true}\"]");
  const std::string binary = DescribeBody(RunCompleted{.output = Bytes{0x00, 0xff, 0x10, 1, 2, 3, 4, 5, 6, 7}});
  EXPECT_EQ(binary, "RunCompleted output=[10B 0x00ff100102030405…]");
}

TEST(DescribeTest, AnActorPrecedesTheBody) {
  const Event e{.unix_us = 1, .actor = Actor{ActorKind::kUser, "ana", "acme"},
                .body = CancelRequested{.reason = "done"}};
  EXPECT_EQ(DescribeEvent(e), "[user:ana@acme] CancelRequested reason=\"done\"");
}

}  // namespace
}  // namespace rwd
