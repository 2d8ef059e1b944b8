// Replays a fuzz target's corpus without libFuzzer, with any compiler: feeds
// every regular file under the directories given on the command line (sorted,
// recursively) to LLVMFuzzerTestOneInput. A failed check aborts, which fails
// the ctest case. A missing or empty directory fails too: replaying nothing
// proves nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::error_code error;
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(argv[i], error), end; !error && it != end;
         it.increment(error)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
    if (error || files.empty()) {
      std::fprintf(stderr, "%s: no corpus files (%s)\n", argv[i], error.message().c_str());
      return 1;
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in.is_open()) {
        std::fprintf(stderr, "%s: cannot open\n", file.c_str());
        return 1;
      }
      const std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)),
                                           std::istreambuf_iterator<char>());
      std::printf("Running: %s\n", file.c_str());
      std::fflush(stdout);
      LLVMFuzzerTestOneInput(data.data(), data.size());
    }
    std::printf("%s: replayed %zu files\n", argv[i], files.size());
  }
  return 0;
}
