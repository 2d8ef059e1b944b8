// SIGKILL a process (rebuild_crash_child) that rebuilds every projection over
// and over while it appends runs, many times; after each kill reopen the
// journal in this process and check what a rebuild promises:
//   * every acknowledged event is there, and the journal verifies;
//   * each projection has exactly one active slot, whose checkpoint names the
//     journal's last event; the other slot is empty or being built;
//   * the active slot is a complete projection: byte for byte what the
//     interrupted rebuild swaps in once CatchUp resumes it (or a requested
//     Rebuild takes it over), and what a fresh Rebuild gives;
//   * queries answer: Summary counts a run's events, StateAt equals a fold.
// Kills land anywhere in a rebuild, near its final swap, right after one, or
// while the child starts. The random schedule comes from a printed seed
// (REWIND_REBUILD_CRASH_SEED reproduces it; REWIND_REBUILD_CRASH_ROUNDS sets
// the number of kills).
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "projections/src/slot.h"
#include "rewind/projections/projections.h"
#include "tests/projections/projections_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/kill_schedule.h"
#include "tests/support/matchers.h"
#include "tests/support/temp_dir.h"
#include "rewind/projections/history.h"

namespace rwd::test {
namespace {

using namespace projections_internal;
using Clock = std::chrono::steady_clock;

// Events written before the first kill: enough that one rebuild takes dozens
// of updates of the child's 64 events.
constexpr std::uint64_t kSetupEvents = 2000;
// The child's and this process's events per update.
constexpr std::uint64_t kBatchEvents = 64;

enum class KillAt { kAnyPoint, kNearTheSwap, kRightAfterASwap, kDuringStartUp };

// What the child said: acknowledged appends and rebuild progress.
struct ChildLog {
  std::map<std::string, std::uint64_t> acked;  // run hex -> highest acknowledged seq
  std::string last_acked_run;
  std::uint64_t appends = 0;
  std::uint64_t done = 0, total = 0;  // of the newest rebuild update
  std::uint64_t rebuilt = 0;          // rebuilds completed in this child

  void Add(const std::string& line) {
    std::istringstream in(line);
    std::string word;
    in >> word;
    if (word == "ack") {
      std::string run;
      std::uint64_t seq = 0;
      in >> run >> seq;
      auto& last = acked[run];
      last = std::max(last, seq);
      last_acked_run = run;
      ++appends;
    } else if (word == "progress") {
      in >> done >> total;
    } else if (word == "rebuilt") {
      ++rebuilt;
    } else if (word != "ready") {
      ADD_FAILURE() << "unexpected child output: " << line;
    }
  }
};

struct Tally {
  std::uint64_t kills = 0;
  std::uint64_t mid_rebuild = 0;  // kills that left a slot being built
  std::uint64_t past_half = 0;    // ... more than half built
  std::uint64_t resumed = 0;      // interrupted rebuilds finished by CatchUp
  std::uint64_t restarted = 0;    // ... started over by a requested Rebuild
  std::uint64_t requested_but_resumed = 0;
  std::uint64_t swaps = 0;    // rebuilds the children completed
  std::uint64_t appends = 0;  // acknowledged by the children
  std::uint64_t events = 0;   // in the journal at the end
  double rebuild_ms_max = 0;  // of a fresh Rebuild in this process
  double rebuild_ms_sum = 0;
  // Per kill point: kills, and how many of them left a slot being built.
  std::map<KillAt, std::pair<std::uint64_t, std::uint64_t>> by_point;
};

std::string HowItEnded(int wait_status) {
  if (WIFSIGNALED(wait_status)) return std::string("killed by signal ") + strsignal(WTERMSIG(wait_status));
  return "exit status " + std::to_string(WEXITSTATUS(wait_status));
}

std::string Describe(const SlotHeader& h) {
  static constexpr const char* kRoles[] = {"empty", "active", "building"};
  return std::string(kRoles[static_cast<int>(h.role)]) + " v" + std::to_string(h.version) + " config " +
         std::to_string(h.config) + " checkpoint " + std::to_string(h.checkpoint);
}

// Where two dumps of the projections first differ, or empty when equal.
std::string FirstDifference(const ProjectionTables& want, const ProjectionTables& got) {
  for (const auto& [name, entries] : want) {
    const auto it = got.find(name);
    if (it == got.end()) return name + ": missing";
    if (it->second == entries) continue;
    auto a = entries.begin();
    auto b = it->second.begin();
    for (; a != entries.end() && b != it->second.end() && *a == *b; ++a, ++b) {
    }
    const std::string where =
        name + " (" + std::to_string(entries.size()) + " vs " + std::to_string(it->second.size()) + " entries): ";
    if (a == entries.end()) return where + "extra entries";
    if (b == it->second.end()) return where + "missing entries";
    return where + (a->first == b->first ? "a value differs" : "a key differs") + " at entry " +
           std::to_string(std::distance(entries.begin(), a));
  }
  return want.size() == got.size() ? "" : "another set of projections";
}

// The headers of a projection's two slots, read raw in one snapshot, each
// with whether its checkpoint names an event of the journal (the position
// exists and its stored record has the recorded sum).
struct RawSlots {
  SlotHeader headers[2];
  bool names_event[2] = {false, false};
  std::uint64_t last = 0;
};

RawSlots ReadRawSlots(Journal& journal, const std::string& name) {
  RawSlots out;
  Table tables[2];
  for (int i = 0; i < 2; ++i) {
    auto table = journal.OpenTable(SlotTableName(name, i));
    EXPECT_THAT(table, IsOk());
    if (table.has_value()) tables[i] = *table;
  }
  EXPECT_THAT(journal.View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(out.last, view.LastPosition());
    for (int i = 0; i < 2; ++i) {
      REWIND_ASSIGN_OR_RETURN(out.headers[i], ReadSlotHeader(view, tables[i]));
      const SlotHeader& h = out.headers[i];
      if (h.checkpoint == 0 || h.checkpoint > out.last) {
        out.names_event[i] = h.checkpoint == 0 && h.checkpoint_sum == 0;
        continue;
      }
      REWIND_RETURN_IF_ERROR(view.ReadAll(h.checkpoint, h.checkpoint, [&](const EventRecord& r) {
        out.names_event[i] = r.sum() == h.checkpoint_sum;
        return Status::Ok();
      }));
    }
    return Status::Ok();
  }),
              IsOk());
  return out;
}

// Exactly one slot active, at the journal's last event; the other empty or
// being built, behind or at the end. Returns the building slot's header.
std::optional<SlotHeader> CheckSlots(Journal& journal, const std::string& name) {
  const RawSlots s = ReadRawSlots(journal, name);
  const std::string both = name + ": " + Describe(s.headers[0]) + " | " + Describe(s.headers[1]);
  int active = -1, actives = 0;
  std::optional<SlotHeader> building;
  for (int i = 0; i < 2; ++i) {
    if (s.headers[i].role == SlotRole::kActive) {
      active = i;
      ++actives;
    } else if (s.headers[i].role == SlotRole::kBuilding) {
      building = s.headers[i];
      EXPECT_LE(s.headers[i].checkpoint, s.last) << both;
      EXPECT_TRUE(s.names_event[i]) << "the building slot's checkpoint names no event: " << both;
    }
  }
  EXPECT_EQ(actives, 1) << "not exactly one active slot: " << both;
  if (active < 0) return building;
  EXPECT_TRUE(s.names_event[active]) << "the active checkpoint names no event of the journal: " << both;
  // Appends apply to the active slot in their own transaction: it is never behind.
  EXPECT_EQ(s.headers[active].checkpoint, s.last) << both;
  return building;
}

// Every acknowledged event is there, and the journal verifies.
void CheckEvents(Journal& journal, const ChildLog& log) {
  ASSERT_THAT(journal.VerifyAll(), IsOk());
  for (const auto& [hex, last] : log.acked) {
    std::uint64_t seq = 0;
    ASSERT_THAT(journal.ReadRun(*RunId::Parse(hex), 1, Journal::kEnd, [&](const EventRecord&) {
      ++seq;
      return Status::Ok();
    }),
                IsOk());
    EXPECT_GE(seq, last) << "run " << hex << " lost acknowledged events";
  }
}

// Summary and StateAt of `run` agree with its events.
void CheckQueries(Journal& journal, const Projections& projections, const RunId& run, std::mt19937_64& rng) {
  std::vector<Event> events;
  ASSERT_THAT(journal.ReadRun(run, 1, Journal::kEnd, [&](const EventRecord& r) -> Status {
    REWIND_ASSIGN_OR_RETURN(Event e, DecodeRecord(r));
    events.push_back(std::move(e));
    return Status::Ok();
  }),
              IsOk());
  const auto summary = projections.Summary(run);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->events, events.size()) << run.ToString();
  const std::uint64_t seq = 1 + rng() % events.size();
  for (const std::uint64_t at : {seq, Journal::kEnd}) {
    const auto state = projections.StateAt(run, at);
    ASSERT_THAT(state, IsOk());
    const auto fold = Fold(run, std::span(events).first(at == Journal::kEnd ? events.size() : at));
    ASSERT_THAT(fold, IsOk());
    EXPECT_EQ(*state, *fold) << run.ToString() << " at seq " << at;
  }
}

// After a kill: the checks of the file comment, then every projection current.
void CheckReopened(const std::string& dir, const ChildLog& log, std::mt19937_64& rng, Tally& tally) {
  JournalOptions o;
  o.directory = dir;
  o.durability = Durability::kNoSync;
  auto journal = Journal::Open(o);
  ASSERT_THAT(journal, IsOk());
  Journal& j = **journal;
  CheckEvents(j, log);
  std::map<std::string, SlotHeader> building;
  const std::uint64_t last = *j.LastPosition();
  tally.events = last;
  for (const std::string& name : Projections::Names()) {
    if (auto b = CheckSlots(j, name)) building[name] = *b;
  }
  std::uint64_t resume_from = last;  // the least checkpoint of a slot being built
  for (const auto& [name, header] : building) resume_from = std::min(resume_from, header.checkpoint);
  if (!building.empty()) ++tally.mid_rebuild;
  if (!building.empty() && resume_from > last / 2) ++tally.past_half;
  if (testing::Test::HasFailure()) return;
  const ProjectionTables at_reopen = DumpProjections(j);

  auto projections =
      Projections::Open(j, ProjectionsOptions{.snapshot_every = 4, .batch_events = kBatchEvents, .background = false});
  ASSERT_THAT(projections, IsOk());
  Projections& p = **projections;
  for (const ProjectionStatus& st : p.Health()) {
    EXPECT_EQ(st.health, building.count(st.name) != 0 ? ProjectionHealth::kRebuilding : ProjectionHealth::kCurrent)
        << st.name << ": " << st.error;
    EXPECT_EQ(st.stored_version, st.version) << st.name;
  }
  // The old tables serve reads while the rebuild waits to resume.
  if (!log.last_acked_run.empty()) CheckQueries(j, p, *RunId::Parse(log.last_acked_run), rng);

  // Most rounds let CatchUp resume the interrupted rebuild; some ask for a new
  // rebuild over it, which starts over.
  const bool restart = rng() % 3 == 0;
  std::optional<std::uint64_t> first_done;
  const ProgressFn first = [&](const RebuildProgress& progress) {
    if (!first_done) first_done = progress.done;
  };
  ASSERT_THAT(restart ? p.Rebuild({}, first) : p.CatchUp(first), IsOk());
  if (restart) {
    ASSERT_TRUE(first_done.has_value()) << "Rebuild reported no progress";
    if (!building.empty()) {
      EXPECT_LE(*first_done, kBatchEvents) << "a requested rebuild continued an interrupted one";
      ++(*first_done <= kBatchEvents ? tally.restarted : tally.requested_but_resumed);
    }
  } else if (!building.empty()) {
    ASSERT_TRUE(first_done.has_value()) << "CatchUp did not resume the rebuild";
    EXPECT_GT(*first_done, resume_from) << "the rebuild started over instead of resuming from its checkpoint";
    ++tally.resumed;
  }
  for (const std::string& name : Projections::Names()) {
    EXPECT_FALSE(CheckSlots(j, name).has_value()) << name << ": the interrupted rebuild did not finish";
  }
  EXPECT_EQ(FirstDifference(at_reopen, DumpProjections(j)), "")
      << "the finished rebuild differs from the tables at the kill (" << (restart ? "restarted" : "resumed") << ")";
  const auto start = Clock::now();
  ASSERT_THAT(p.Rebuild({}), IsOk());
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  tally.rebuild_ms_max = std::max(tally.rebuild_ms_max, ms);
  tally.rebuild_ms_sum += ms;
  EXPECT_EQ(FirstDifference(at_reopen, DumpProjections(j)), "") << "a fresh rebuild differs from the tables at the kill";
  for (const ProjectionStatus& st : p.Health()) EXPECT_EQ(st.health, ProjectionHealth::kCurrent) << st.name;

  std::vector<RunId> sample;
  if (!log.last_acked_run.empty()) sample.push_back(*RunId::Parse(log.last_acked_run));
  for (int i = 0; i < 4 && !log.acked.empty(); ++i) {
    auto it = log.acked.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng() % log.acked.size()));
    sample.push_back(*RunId::Parse(it->first));
  }
  for (const RunId& run : sample) CheckQueries(j, p, run, rng);
}

TEST(RebuildCrashTest, AKilledRebuildLeavesTheOldProjectionOrTheWholeNewOne) {
  KillSchedule schedule("REWIND_REBUILD_CRASH", 24);
  const std::uint64_t rounds = schedule.rounds();
  std::mt19937_64& rng = schedule.rng();
  TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  ChildLog log;
  {
    const auto start = Clock::now();
    ChildProcess populate("rebuild_crash_child", {dir, "populate", std::to_string(kSetupEvents)});
    std::vector<std::string> lines;
    while (populate.ReadLines(-1, &lines)) {
    }
    const int status = populate.Wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "populating: " << HowItEnded(status);
    for (const auto& line : lines) log.Add(line);
    std::printf("populated %llu events in %.0f ms\n", static_cast<unsigned long long>(kSetupEvents),
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  Tally tally;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::uint64_t pick = rng() % 10;
    const KillAt at = pick < 5 ? KillAt::kAnyPoint
                      : pick < 7 ? KillAt::kNearTheSwap
                      : pick < 9 ? KillAt::kRightAfterASwap
                                 : KillAt::kDuringStartUp;
    const double fraction = at == KillAt::kNearTheSwap ? 0.9 + 0.1 * static_cast<double>(rng() % 1000) / 1000
                                                       : static_cast<double>(rng() % 1000) / 1000;
    const auto extra = std::chrono::microseconds(rng() % (at == KillAt::kDuringStartUp ? 20'000 : 3'000));
    ChildLog round_log;
    {
      ChildProcess child("rebuild_crash_child", {dir});
      std::vector<std::string> lines;
      std::size_t seen = 0;
      auto read = [&](int timeout_ms) {
        const bool alive = child.ReadLines(timeout_ms, &lines);
        for (; seen < lines.size(); ++seen) round_log.Add(lines[seen]);
        return alive;
      };
      auto reached = [&] {
        switch (at) {
          case KillAt::kAnyPoint:
          case KillAt::kNearTheSwap:
            return round_log.total > 0 &&
                   static_cast<double>(round_log.done) >= fraction * static_cast<double>(round_log.total);
          case KillAt::kRightAfterASwap: return round_log.rebuilt > 0;
          case KillAt::kDuringStartUp: return true;
        }
        return true;
      };
      bool alive = true;
      const auto give_up = Clock::now() + std::chrono::seconds(20);
      while (alive && !reached() && Clock::now() < give_up) alive = read(50);
      ASSERT_TRUE(alive) << "the child ended by itself: " << HowItEnded(child.Wait());
      ASSERT_TRUE(reached()) << "the child made no rebuild progress in 20 s";
      const auto kill_at = Clock::now() + extra;
      while (alive && Clock::now() < kill_at) alive = read(1);
      ASSERT_TRUE(alive) << "the child ended by itself: " << HowItEnded(child.Wait());
      child.KillAndDrain(&lines);
      for (; seen < lines.size(); ++seen) round_log.Add(lines[seen]);
    }
    for (const auto& [run, seq] : round_log.acked) log.acked[run] = std::max(log.acked[run], seq);
    log.last_acked_run = round_log.last_acked_run;
    const std::uint64_t mid_before = tally.mid_rebuild;
    ++tally.kills;
    tally.swaps += round_log.rebuilt;
    tally.appends += round_log.appends;
    CheckReopened(dir, log, rng, tally);
    ++tally.by_point[at].first;
    tally.by_point[at].second += tally.mid_rebuild - mid_before;
    if (HasFailure()) return;
  }
  auto point = [&](KillAt at) {
    return std::to_string(tally.by_point[at].first) + " (" + std::to_string(tally.by_point[at].second) + ")";
  };
  std::printf(
      "survived %llu kills, %llu of them during a rebuild (%llu past half); by kill point (during a rebuild): "
      "anywhere %s, near a swap %s, right after one %s, at start-up %s; the children completed %llu rebuilds "
      "and %llu appends; interrupted rebuilds: %llu resumed by CatchUp, %llu started over and %llu resumed by a "
      "requested Rebuild; a fresh rebuild of the %llu events took %.0f ms on average, %.0f ms at most\n",
      static_cast<unsigned long long>(tally.kills), static_cast<unsigned long long>(tally.mid_rebuild),
      static_cast<unsigned long long>(tally.past_half), point(KillAt::kAnyPoint).c_str(),
      point(KillAt::kNearTheSwap).c_str(), point(KillAt::kRightAfterASwap).c_str(),
      point(KillAt::kDuringStartUp).c_str(), static_cast<unsigned long long>(tally.swaps),
      static_cast<unsigned long long>(tally.appends), static_cast<unsigned long long>(tally.resumed),
      static_cast<unsigned long long>(tally.restarted), static_cast<unsigned long long>(tally.requested_but_resumed),
      static_cast<unsigned long long>(tally.events), tally.rebuild_ms_sum / static_cast<double>(tally.kills),
      tally.rebuild_ms_max);
  RecordProperty("kills", static_cast<int>(tally.kills));
  RecordProperty("kills_mid_rebuild", static_cast<int>(tally.mid_rebuild));
  EXPECT_GE(tally.mid_rebuild, 1u) << "no kill landed during a rebuild";
}

}  // namespace
}  // namespace rwd::test
