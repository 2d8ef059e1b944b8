// Schema-evolution guard: events written by earlier builds must keep decoding.
//
// fixtures/events_vN.bin holds SampleEvents() as encoded by the build whose
// kSchemaVersion was N, framed as
//
//   [u32 little-endian length][length bytes of an encoded event], repeated
//
// Every version from 1 to kSchemaVersion must have its fixture, and each must
// decode to the first entries of SampleEvents() (which is append-only), with
// schema_version N. Committed fixtures are never rewritten: a test that fails
// here means the change breaks stored journals, not that the fixture is stale.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
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

void WriteFrames(const std::filesystem::path& file, const std::vector<Event>& events) {
  std::ofstream out(file, std::ios::binary);
  for (const Event& event : events) {
    const Bytes bytes = Encode(event);
    const auto n = static_cast<std::uint32_t>(bytes.size());
    const char length[4] = {static_cast<char>(n), static_cast<char>(n >> 8),
                            static_cast<char>(n >> 16), static_cast<char>(n >> 24)};
    out.write(length, 4);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
  }
  ASSERT_TRUE(out.good()) << "writing " << file;
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

// Writes fixtures/events_v<kSchemaVersion>.bin when REWIND_REGENERATE_FIXTURES=1:
//   REWIND_REGENERATE_FIXTURES=1 schemas_test --gtest_filter='FixtureTest.*'
// Only ever for a NEW file, after bumping kSchemaVersion; an existing fixture is
// never rewritten (this test refuses to), since it stands for journals already
// on disk. Commit the new file with the schema change.
TEST(FixtureTest, WritesTheFixtureOfANewSchemaVersionOnlyWhenAsked) {
  const char* regenerate = std::getenv("REWIND_REGENERATE_FIXTURES");
  if (regenerate == nullptr || std::string(regenerate) != "1") {
    GTEST_SKIP() << "set REWIND_REGENERATE_FIXTURES=1 to write a new fixture";
  }
  const std::filesystem::path file = FixturePath(kSchemaVersion);
  ASSERT_FALSE(std::filesystem::exists(file)) << file << " exists; fixtures are never rewritten";
  WriteFrames(file, SampleEvents());
  EXPECT_EQ(ReadFrames(file).size(), SampleEvents().size());
}

}  // namespace
}  // namespace rwd
