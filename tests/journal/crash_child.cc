// Child process of journal_crash_test: appends to a fixed set of runs from
// several threads, durably (or without syncs, given "nosync"), forever, and writes one line per acknowledged
// append to stdout: "ack <run hex> <first seq> <count>". The parent kills it
// with SIGKILL at a random moment and checks that every acknowledged event
// survived. Payloads are "<run hex>:<seq>", so the parent can check contents.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "rewind/journal/journal.h"

namespace {

constexpr int kThreads = 4;
constexpr int kRunsPerThread = 2;

rwd::RunId RunNumber(int i) {
  rwd::RunId::Bytes b{};
  b.fill(static_cast<std::uint8_t>(0x10 + i));
  return rwd::RunId(b);
}

void WriteLine(const std::string& line) {
  // One write() of less than PIPE_BUF bytes: lines from threads never interleave.
  if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) _exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::string(argv[2]) != "nosync")) {
    std::fprintf(stderr, "usage: %s JOURNAL_DIR [nosync]\n", argv[0]);
    return 2;
  }
  rwd::JournalOptions options;
  options.directory = argv[1];
  if (argc == 3) options.durability = rwd::Durability::kNoSync;  // many more commits a second
  auto journal = rwd::Journal::Open(options);
  if (!journal.has_value()) {
    std::fprintf(stderr, "open: %s\n", journal.error().ToString().c_str());
    return 1;
  }
  rwd::Journal& j = **journal;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&j, t] {
      for (unsigned round = 0;; ++round) {
        const rwd::RunId run = RunNumber(t * kRunsPerThread + static_cast<int>(round % kRunsPerThread));
        const std::string hex = run.ToString();
        const auto head = j.Head(run);
        const std::uint64_t at = head.has_value() ? head->seq : 0;
        const std::uint64_t count = 1 + round % 3;
        std::vector<rwd::Bytes> payloads;
        for (std::uint64_t s = at + 1; s <= at + count; ++s) payloads.push_back(rwd::ToBytes(hex + ":" + std::to_string(s)));
        const auto r = j.Append(run, at, std::move(payloads));
        if (!r.has_value()) {
          std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
          _exit(1);
        }
        WriteLine("ack " + hex + " " + std::to_string(r->first_seq) + " " + std::to_string(count) + "\n");
      }
    });
  }
  for (auto& th : threads) th.join();
}
