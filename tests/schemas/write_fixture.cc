// Writes the schema fixture of the current schema version:
//   write_fixture tests/schemas/fixtures
// creates events_v<kSchemaVersion>.bin holding SampleEvents(), framed as
// [u32 little-endian length][encoded event], repeated. Run it once, after
// bumping kSchemaVersion, and commit the file with the schema change. It
// refuses to overwrite: a fixture stands for journals already on disk.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "rewind/schemas/events.h"
#include "tests/support/sample_events.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path file =
      std::filesystem::path(argv[1]) / ("events_v" + std::to_string(rwd::kSchemaVersion) + ".bin");
  if (std::filesystem::exists(file)) {
    std::fprintf(stderr, "%s exists; fixtures are never rewritten\n", file.c_str());
    return 1;
  }
  std::ofstream out(file, std::ios::binary);
  for (const rwd::Event& event : rwd::test::SampleEvents()) {
    const rwd::Bytes bytes = rwd::Encode(event);
    const auto n = static_cast<std::uint32_t>(bytes.size());
    const char length[4] = {static_cast<char>(n), static_cast<char>(n >> 8), static_cast<char>(n >> 16),
                            static_cast<char>(n >> 24)};
    out.write(length, 4);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
  }
  if (!out.good()) {
    std::fprintf(stderr, "cannot write %s\n", file.c_str());
    return 1;
  }
  std::printf("wrote %s\n", file.c_str());
  return 0;
}
