// Schema-evolution guard: events written by earlier builds must keep decoding.
//
// fixtures/events_vN.bin holds SampleEvents() as encoded by the build whose
// kSchemaVersion was N, framed as
//
//   [u32 little-endian length][length bytes of an encoded event], repeated
//
// Every version from 1 to kSchemaVersion must have its fixture (written once by
// tests/schemas/write_fixture when the version is bumped), and each must
// decode to the first entries of SampleEvents() (which is append-only), with
// schema_version N. Committed fixtures are never rewritten: a test that fails
// here means the change breaks stored journals, not that the fixture is stale.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "rewind/schemas/events.h"
#include "tests/support/matchers.h"
#include "tests/support/sample_events.h"

namespace rwd {
namespace {

using test::IsOk;
using test::SampleEvents;

std::filesystem::path FixturePath(int version) {
  return std::filesystem::path(REWIND_SCHEMA_FIXTURE_DIR) /
         ("events_v" + std::to_string(version) + ".bin");
}

// The framed encodings in `file`; fails the test when it is missing or torn.
std::vector<Bytes> ReadFrames(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  EXPECT_TRUE(in.is_open()) << file << " is missing";
  const Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Bytes> frames;
  for (std::size_t at = 0; at < data.size();) {
    if (data.size() - at < 4) {
      ADD_FAILURE() << file << " ends inside a length at byte " << at;
      return {};
    }
    const std::uint32_t n = data[at] | data[at + 1] << 8 | data[at + 2] << 16 |
                            static_cast<std::uint32_t>(data[at + 3]) << 24;
    at += 4;
    if (data.size() - at < n) {
      ADD_FAILURE() << file << " ends inside the event at byte " << at;
      return {};
    }
    frames.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(at),
                        data.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return frames;
}

TEST(FixtureTest, EveryCommittedFixtureDecodesToTheSampleEvents) {
  const std::vector<Event> samples = SampleEvents();
  for (int version = 1; version <= kSchemaVersion; ++version) {
    const std::vector<Bytes> frames = ReadFrames(FixturePath(version));
    ASSERT_FALSE(frames.empty()) << FixturePath(version) << " holds no event";
    ASSERT_LE(frames.size(), samples.size()) << "SampleEvents() lost entries";
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const Result<Event> decoded = Decode(frames[i]);
      ASSERT_THAT(decoded, IsOk()) << "v" << version << " event " << i;
      Event expected = samples[i];
      expected.schema_version = static_cast<std::uint16_t>(version);
      EXPECT_EQ(*decoded, expected) << "v" << version << " event " << i;
    }
  }
}

}  // namespace
}  // namespace rwd
