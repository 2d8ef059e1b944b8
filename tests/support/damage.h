// Damaged journals for the tools' damage tests (tests/tools/*_damage_test.cc):
// random damage of a journal's data file (bits flipped at random offsets, the
// file cut short at a random length) and fixed cases (a format version this
// build does not know, a missing or garbage lock file, an empty data file, a
// directory that holds no journal), and running a tool on them under a time
// limit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace rwd::test {

// How many rounds of random damage, from which seed: REWIND_DAMAGE_ROUNDS
// (default `default_rounds`) and REWIND_DAMAGE_SEED (default: a fresh seed).
// Prints both, so a failure can be replayed; REWIND_DAMAGE_FIRST=N replays
// from round N on (the damage of the rounds before is drawn, not tried).
struct DamageRounds {
  std::uint64_t rounds = 0;
  std::uint64_t seed = 0;
  std::uint64_t first = 0;
};
DamageRounds DamageRoundsFromEnv(std::uint64_t default_rounds);

// Under a sanitizer, a tool that crashes would exit with the sanitizer's
// report instead of meeting the tool's own crash handling (exit 21): lets
// SIGSEGV and SIGBUS through, as in a build without one. Call before running
// a tool.
void LetCrashSignalsThrough();

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& bytes);

// A journal directory to lay down, and what the tools must answer on it.
struct DamagedJournal {
  std::string what;                 // for messages: "flipped bit 3 of byte 4711", ...
  std::optional<std::string> data;  // data.mdb's bytes; nullopt: no data.mdb
  std::optional<std::string> lock;  // lock.mdb's bytes; nullopt: no lock.mdb
  // Fixed cases: the exit status of every command (0: the damage is harmless
  // and every answer is the undamaged journal's), and a part of the error
  // message. Random damage: -1, any documented status.
  int expected_status = -1;
  std::string expected_message;
};

// Round `round` of random damage to `pristine` (a data file's bytes): every
// eighth round cuts the file short at a random length, the others flip 1 to 8
// bits at random offsets.
DamagedJournal RandomDamage(const std::string& pristine, std::uint64_t round, std::mt19937_64& rng);

// The fixed cases, made from `pristine` (the fixture journal's data file,
// with format version 1): a format version this build does not know (12); no
// lock.mdb, and a lock.mdb of garbage (both harmless: LMDB makes a lock file
// no process holds anew); an empty data.mdb (15); a data.mdb that is no LMDB
// file (15); another program's LMDB environment (12); a meta page whose
// transaction id is not one of the last two (15).
std::vector<DamagedJournal> FixedDamage(const std::string& pristine);

// Damage that crashes LMDB: the size in the node of the event at position 1
// grows by 2 MiB, past the end of the file, which LMDB trusts and reads
// (SIGBUS). Commands that read that event end with exit 21; the projection
// queries do not read it; journal-inspect verify and rewind's commands that
// write check LMDB's structure first, which finds the node too large. REQUIRES: `pristine` holds one such node.
DamagedJournal CrashingDamage(const std::string& pristine);

// Damage that hides a run's last two events from LMDB: in the run index,
// the sub-page holding the duplicates of run `run_hex` (its index entries)
// has its lower bound moved down by two entries. Every event still verifies
// and the run's chain still links up; only a check of LMDB's own structure
// on the run's path finds it. REQUIRES: `pristine` holds that run's entries
// in one sub-page (a short run of a format-1 journal).
DamagedJournal HiddenRunEntriesDamage(const std::string& pristine, const std::string& run_hex);

// Makes directory `dir` hold `journal`, replacing whatever was there.
void Lay(const DamagedJournal& journal, const std::string& dir);

// How a tool run under a time limit ended.
struct ToolRun {
  int status = -1;  // exit status; -1 when a signal ended it; 124 (or 137) past the limit
  std::string out, err;
};

// Runs `program args` killed after `seconds`; output files go to `scratch_dir`.
ToolRun RunTool(const std::string& program, const std::vector<std::string>& args, const std::string& scratch_dir,
                int seconds);

// "0×12 15×3": how often each exit status occurred.
std::string Tally(const std::map<int, int>& statuses);

}  // namespace rwd::test
