// Writes the fuzz seed corpora from SampleEvents(), so they are reproducible:
//   make_corpus fuzz/corpus
// decode_fuzzer/: every sample's encoding, a few truncated and damaged ones and
// an empty input. record_fuzzer/: every encoding as a stored record of one run
// (seq from 1, each linked to the previous record's chain hash), a few with a
// damaged byte, one cut short and one with an empty payload.
// event_json_fuzzer/: every sample as inspect's JSON, a few with a field
// removed or of the wrong type, and one that is not JSON.
// heads_fuzzer/: a heads file of two runs and a few damaged ones.
// replay_check_fuzzer/: each run of the fixture journal (tests/tools/fixtures)
// with the workflow file of its workflow, with the next version of it, and
// with another workflow's file.
// Overwrites these files by name and removes nothing, so a reproducer that was
// added to the corpus by hand stays.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "journal/src/record.h"
#include "rewind/inspect/event_json.h"
#include "rewind/inspect/heads.h"
#include "rewind/journal/hash.h"
#include "rewind/journal/journal.h"
#include "rewind/schemas/events.h"
#include "tests/support/sample_events.h"

namespace {

namespace fs = std::filesystem;

bool Write(const fs::path& file, rwd::ByteView bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) std::fprintf(stderr, "cannot write %s\n", file.c_str());
  return out.good();
}

// "07_RunPaused": sorts in sample order and says what is inside.
std::string Name(std::size_t i, const rwd::Event& event) {
  char index[8];
  std::snprintf(index, sizeof index, "%02zu_", i);
  return index + std::string(rwd::EventTypeName(event.body));
}

void PutLe(rwd::Bytes& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool WriteReplaySeeds(const fs::path& dir) {
  const fs::path fixtures = REWIND_FIXTURES;
  const fs::path copy = fs::temp_directory_path() / "make_corpus_journal";
  fs::remove_all(copy);
  fs::copy(fixtures / "journal", copy);
  rwd::JournalOptions o;
  o.directory = copy.string();
  o.read_only = true;
  auto journal = rwd::Journal::Open(o);
  if (!journal.has_value()) {
    std::fprintf(stderr, "cannot open the fixture journal: %s\n", journal.error().ToString().c_str());
    return false;
  }
  const std::map<std::string, std::vector<std::string>> files = {
      {"order", {"order.json", "order_v2.json", "signal.json"}},
      {"nightly-batch", {"signal.json", "order.json"}}};
  bool ok = true;
  int index = 0;
  const rwd::Status read = (*journal)->ForEachRun([&](const rwd::RunId& run, std::uint64_t) -> rwd::Status {
    rwd::Bytes frames;
    std::string workflow;
    REWIND_RETURN_IF_ERROR((*journal)->ReadRun(run, 1, rwd::Journal::kEnd, [&](const rwd::EventRecord& r) {
      if (r.seq == 1) {
        auto first = rwd::Decode(r.payload);
        if (first.has_value()) {
          if (const auto* start = std::get_if<rwd::RunStarted>(&first->body)) workflow = start->workflow;
          if (const auto* fork = std::get_if<rwd::RunForked>(&first->body)) workflow = fork->start.workflow;
        }
      }
      PutLe(frames, r.payload.size(), 4);
      frames.insert(frames.end(), r.payload.begin(), r.payload.end());
      return rwd::Status::Ok();
    }));
    ++index;
    for (const std::string& file : files.at(workflow)) {
      const std::string text = ReadText(fixtures / file);
      rwd::Bytes seed;
      PutLe(seed, text.size(), 2);
      seed.insert(seed.end(), text.begin(), text.end());
      seed.insert(seed.end(), frames.begin(), frames.end());
      ok &= Write(dir / ("run" + std::to_string(index) + "_" + workflow + "_" + file), seed);
    }
    return rwd::Status::Ok();
  });
  fs::remove_all(copy);
  if (!read.ok()) std::fprintf(stderr, "cannot read the fixture journal: %s\n", read.ToString().c_str());
  return ok && read.ok();
}

rwd::Bytes Flipped(rwd::Bytes bytes, std::size_t at) {
  bytes[at] ^= 0xff;
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path decode_dir = fs::path(argv[1]) / "decode_fuzzer";
  const fs::path record_dir = fs::path(argv[1]) / "record_fuzzer";
  const fs::path json_dir = fs::path(argv[1]) / "event_json_fuzzer";
  fs::create_directories(decode_dir);
  fs::create_directories(record_dir);
  fs::create_directories(json_dir);

  const std::vector<rwd::Event> samples = rwd::test::SampleEvents();
  // Damaged copies of a few: the first definition, a failure, the fork.
  const std::vector<std::size_t> damaged = {0, 3, 17};
  const rwd::RunId run(rwd::RunId::Bytes{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                                         0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01});
  rwd::Hash prev{};
  rwd::Bytes record;
  bool ok = Write(decode_dir / "empty", rwd::Bytes{});
  // Each sample alone in a record of each format, and all of them in one
  // format-2 record (one append).
  std::vector<rwd::Bytes> all;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const rwd::Bytes encoded = rwd::Encode(samples[i]);
    const std::string name = Name(i, samples[i]);
    ok &= Write(decode_dir / ("sample_" + name), encoded);
    const rwd::ByteView one[] = {encoded};
    for (std::uint32_t format : {1u, 2u}) {
      rwd::record::Encode(format, run, i + 1, prev, one, &record);
      ok &= Write(record_dir / ("format" + std::to_string(format) + "_" + name), record);
    }
    prev = rwd::record::ChainHash(run, i + 1, prev, encoded);
    ok &= Write(json_dir / ("sample_" + name), rwd::AsBytes(rwd::inspect::EventJson(samples[i]).dump()));
    all.push_back(encoded);
  }
  const std::vector<rwd::ByteView> views(all.begin(), all.end());
  rwd::record::Encode(2, run, 1, rwd::Hash{}, views, &record);
  ok &= Write(record_dir / "format2_all_samples", record);
  ok &= Write(record_dir / "format2_all_samples_cut", rwd::ByteView(record).first(record.size() / 2));
  for (std::size_t i : damaged) {
    const rwd::Bytes encoded = rwd::Encode(samples[i]);
    const std::string name = Name(i, samples[i]);
    const rwd::ByteView view(encoded);
    ok &= Write(decode_dir / ("truncated_" + name), view.first(encoded.size() / 2));
    ok &= Write(decode_dir / ("flipped_" + name), Flipped(encoded, encoded.size() / 3));
    const rwd::ByteView one[] = {encoded};
    for (std::uint32_t format : {1u, 2u}) {
      rwd::record::Encode(format, run, i + 1, rwd::Hash{}, one, &record);
      ok &= Write(record_dir / ("bad_checksum_format" + std::to_string(format) + "_" + name),
                  Flipped(record, record.size() - encoded.size() / 2));
    }
  }
  for (std::size_t i : damaged) {
    nlohmann::json j = rwd::inspect::EventJson(samples[i]);
    const std::string name = Name(i, samples[i]);
    nlohmann::json missing = j;
    missing["body"].erase(missing["body"].begin());
    ok &= Write(json_dir / ("missing_field_" + name), rwd::AsBytes(missing.dump()));
    j["unix_us"] = "yesterday";
    ok &= Write(json_dir / ("wrong_type_" + name), rwd::AsBytes(j.dump()));
  }
  ok &= Write(json_dir / "not_json", rwd::AsBytes("{\"type\": \"RunStarted\","));
  // heads_fuzzer/: heads of two runs as `heads --json` writes them, and damaged copies.
  const fs::path heads_dir = fs::path(argv[1]) / "heads_fuzzer";
  fs::create_directories(heads_dir);
  rwd::inspect::Heads heads;
  heads.position = 7;
  heads.runs = {{run, rwd::RunHead{3, rwd::Sha256(rwd::AsBytes("three"))}},
                {rwd::RunId(rwd::RunId::Bytes{0x22}), rwd::RunHead{4, rwd::Sha256(rwd::AsBytes("four"))}}};
  heads.digest = rwd::inspect::HeadsDigest(heads.runs);
  const nlohmann::json good = rwd::inspect::HeadsJson(heads);
  ok &= Write(heads_dir / "two_runs", rwd::AsBytes(good.dump()));
  nlohmann::json bad = good;
  bad["runs"][1]["hash"] = "00";
  ok &= Write(heads_dir / "short_hash", rwd::AsBytes(bad.dump()));
  bad = good;
  bad.erase("digest");
  ok &= Write(heads_dir / "no_digest", rwd::AsBytes(bad.dump()));
  const rwd::ByteView empty[] = {rwd::ByteView()};
  rwd::record::Encode(1, run, 1, rwd::Hash{}, empty, &record);
  ok &= Write(record_dir / "header_only", record);
  ok &= Write(record_dir / "short", rwd::ByteView(record).first(rwd::record::kFormat1HeaderSize - 1));
  const fs::path replay_dir = fs::path(argv[1]) / "replay_check_fuzzer";
  fs::create_directories(replay_dir);
  ok &= WriteReplaySeeds(replay_dir);
  return ok ? 0 : 1;
}
