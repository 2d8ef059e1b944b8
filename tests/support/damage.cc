#include "tests/support/damage.h"

#include <lmdb.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

namespace fs = std::filesystem;

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The data file of an LMDB environment holding one key in its main database:
// an LMDB file, but no Rewind journal.
std::string ForeignEnvironment() {
  TempDir dir;
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  MDB_val key{5, const_cast<char*>("hello")}, value{5, const_cast<char*>("world")};
  if (mdb_env_create(&env) != 0 || mdb_env_open(env, dir.path().c_str(), 0, 0644) != 0 ||
      mdb_txn_begin(env, nullptr, 0, &txn) != 0 || mdb_dbi_open(txn, nullptr, 0, &dbi) != 0 ||
      mdb_put(txn, dbi, &key, &value, 0) != 0 || mdb_txn_commit(txn) != 0) {
    throw std::runtime_error("cannot write an LMDB environment in " + dir.path());
  }
  mdb_env_close(env);
  return ReadFile(dir.Sub("data.mdb"));
}

}  // namespace

DamageRounds DamageRoundsFromEnv(std::uint64_t default_rounds) {
  const DamageRounds r{EnvOr("REWIND_DAMAGE_ROUNDS", default_rounds),
                       EnvOr("REWIND_DAMAGE_SEED", std::random_device{}()), EnvOr("REWIND_DAMAGE_FIRST", 0)};
  std::cout << "damage seed " << r.seed << " (REWIND_DAMAGE_SEED), " << r.rounds << " rounds (REWIND_DAMAGE_ROUNDS)"
            << std::endl;
  return r;
}

void LetCrashSignalsThrough() {
  for (const char* name : {"ASAN_OPTIONS", "TSAN_OPTIONS"}) {
    const char* set = std::getenv(name);
    const std::string options = std::string(set != nullptr ? set : "") + ":handle_segv=0:handle_sigbus=0";
    setenv(name, options.c_str(), 1);
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

DamagedJournal RandomDamage(const std::string& pristine, std::uint64_t round, std::mt19937_64& rng) {
  DamagedJournal d;
  std::string bytes = pristine;
  if (round % 8 == 7) {
    const std::size_t keep = std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng);
    bytes.resize(keep);
    d.what = "cut to " + std::to_string(keep) + " bytes";
  } else {
    const int flips = std::uniform_int_distribution<int>(1, 8)(rng);
    for (int i = 0; i < flips; ++i) {
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng);
      const int bit = std::uniform_int_distribution<int>(0, 7)(rng);
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
      d.what += (d.what.empty() ? "flipped bit " : ", bit ") + std::to_string(bit) + " of byte " + std::to_string(at);
    }
  }
  d.data = std::move(bytes);
  return d;
}

std::vector<DamagedJournal> FixedDamage(const std::string& pristine) {
  std::vector<DamagedJournal> cases;
  // The meta database's node: the key "format_version", then its value "1".
  const std::string version_node = "format_version1";
  const std::size_t at = pristine.find(version_node);
  if (at == std::string::npos || pristine.find(version_node, at + 1) != std::string::npos) {
    throw std::runtime_error("the fixture's data file does not hold its format version exactly once");
  }
  std::string newer = pristine;
  newer[at + version_node.size() - 1] = '9';
  cases.push_back({"format version 9", newer, std::nullopt, 12, "has format version 9"});
  cases.push_back({"no lock.mdb", pristine, std::nullopt, 0, ""});
  cases.push_back({"a lock.mdb of garbage", pristine, std::string(8192, '\xa5'), 0, ""});
  cases.push_back({"an empty data.mdb", std::string(), std::nullopt, 15, "is empty"});
  cases.push_back({"a data.mdb that is no LMDB file", std::string("not a journal\n"), std::nullopt, 15,
                   "is not a valid LMDB file"});
  cases.push_back({"another program's LMDB environment", ForeignEnvironment(), std::nullopt, 12,
                   "without a Rewind journal's databases"});
  // Meta page 0's transaction id (MDB_meta after the 16-byte page header;
  // the id at its byte 128) with bit 18 set: LMDB would take that page,
  // which describes an older snapshot (the fixture's: the empty one), and
  // a writer would write over the pages the other names.
  constexpr std::size_t kMetaTxnId = 16 + 128;
  std::string meta = pristine;
  meta[kMetaTxnId + 2] = static_cast<char>(meta[kMetaTxnId + 2] ^ 0x04);
  cases.push_back({"meta page 0's transaction id 262,144 higher", meta, std::nullopt, 15,
                   "meta pages record transactions"});
  return cases;
}

DamagedJournal CrashingDamage(const std::string& pristine) {
  // A leaf node: data size (u16 low, u16 high), flags 0, key size 8, then
  // the key, position 1 (u64 big-endian).
  const std::string key_of_first_event = std::string("\0\0\x08\0", 4) + std::string(7, '\0') + "\x01";
  const std::size_t at = pristine.find(key_of_first_event);
  if (at < 4 || pristine.find(key_of_first_event, at + 1) != std::string::npos) {
    throw std::runtime_error("the fixture's data file does not hold the first event's node exactly once");
  }
  std::string bytes = pristine;
  bytes[at - 2] = static_cast<char>(bytes[at - 2] + 0x20);  // the size's high half: +2 MiB
  return {"the first event's size 2 MiB past the end of the file", std::move(bytes), std::nullopt, 21,
          "crashed the process"};
}

DamagedJournal HiddenRunEntriesDamage(const std::string& pristine, const std::string& run_hex) {
  // A leaf node: data size (u16 low, u16 high), flags F_DUPDATA (4), key
  // size 16, then the run id; its data is the sub-page: page number (u64),
  // key size (u16), flags (u16: leaf, sub-page, LEAF2), lower, upper.
  std::string key = std::string("\x04\0\x10\0", 4);
  for (std::size_t i = 0; i + 1 < run_hex.size(); i += 2) {
    key += static_cast<char>(std::stoi(run_hex.substr(i, 2), nullptr, 16));
  }
  const std::size_t at = pristine.find(key);
  if (at == std::string::npos || pristine.find(key, at + 1) != std::string::npos) {
    throw std::runtime_error("the fixture's data file does not hold run " + run_hex + "'s index sub-page exactly once");
  }
  const std::size_t sub_page = at + key.size();
  // (LMDB leaves the dirty flag, 0x10, in sub-pages it wrote.)
  if ((pristine[sub_page + 10] & ~0x10) != 0x62 || pristine[sub_page + 11] != 0) {
    throw std::runtime_error("run " + run_hex + "'s index entry holds no sub-page");
  }
  std::string bytes = pristine;
  bytes[sub_page + 12] = static_cast<char>(bytes[sub_page + 12] - 4);  // lower: two entries of 2 bytes fewer
  return {"run " + run_hex + "'s last two index entries hidden", std::move(bytes), std::nullopt, 15,
          "LMDB's own structure"};
}

void Lay(const DamagedJournal& journal, const std::string& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (journal.data) WriteFile(dir + "/data.mdb", *journal.data);
  if (journal.lock) WriteFile(dir + "/lock.mdb", *journal.lock);
}

ToolRun RunTool(const std::string& program, const std::vector<std::string>& args, const std::string& scratch_dir,
                int seconds) {
  std::vector<std::string> argv = {"-s", "KILL", std::to_string(seconds), program};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProgramOutput o = RunProgram("/usr/bin/timeout", argv, scratch_dir);
  return ToolRun{o.exit_code, o.out, o.err};
}

std::string Tally(const std::map<int, int>& statuses) {
  std::string out;
  for (const auto& [status, n] : statuses) {
    out += (out.empty() ? "" : " ") + std::to_string(status) + "×" + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

}  // namespace rwd::test
