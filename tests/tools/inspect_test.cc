// journal-inspect, end to end: the built binary on journals written here with
// the journal's own API, checked through --json (and the exit statuses).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <map>
#include <string>
#include <vector>

#include "rewind/fold/run_state.h"
#include "rewind/inspect/event_json.h"
#include "rewind/inspect/state_json.h"
#include "rewind/journal/hash.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "rewind/projections/projections.h"
#include "tests/fold/run_builder.h"
#include "tests/journal/raw_store.h"
#include "tests/support/child_process.h"
#include "tests/support/matchers.h"
#include "tests/support/sample_events.h"
#include "tests/support/temp_dir.h"

namespace rwd::test {
namespace {

using nlohmann::json;

class InspectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JournalOptions o;
    o.directory = data_;
    o.durability = Durability::kNoSync;
    auto journal = Journal::Open(o);
    ASSERT_TRUE(journal.has_value()) << journal.error().ToString();
    const std::vector<Event> samples = SampleEvents();
    // The definition two of them name, stored as the engine stores it; they
    // are read with its steps.
    const RunStarted definition = test::SampleDefinition();
    ASSERT_TRUE((*journal)->PutBlob(EncodeDefinition(definition)).has_value());
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const RunId& run = i % 3 == 0 ? b_ : a_;
      auto appended = (*journal)->Append(run, written_[run].size(), {Encode(samples[i])});
      ASSERT_TRUE(appended.has_value()) << appended.error().ToString();
      Event read = samples[i];
      if (auto* start = std::get_if<RunStarted>(&read.body); start && start->definition_stored) {
        start->steps = definition.steps;
      }
      if (auto* fork = std::get_if<RunForked>(&read.body); fork && fork->start.definition_stored) {
        fork->start.steps = definition.steps;
      }
      written_[run].push_back(std::move(read));
    }
    // A run that folds: b fails, is resumed from b, completes.
    RunStarted def = Definition({Def("a"), Def("b", {0})});
    def.workflow = "release";
    def.tenant = "acme";
    const std::vector<EventBody> bodies = {def,
                                           StepStarted{0, 1, 0},
                                           StepCompleted{0, 1, ToBytes("A"), 0},
                                           StepStarted{1, 1, 0},
                                           StepFailed{1, 1, "boom", "it broke", false, 0},
                                           RunFailed{1, "boom", "it broke"},
                                           ResumeRequested{1, "fixed", "req-1", {}},
                                           StepStarted{1, 1, 1},
                                           StepCompleted{1, 1, ToBytes("B"), 1},
                                           RunCompleted{ToBytes("done")}};
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      std::optional<Actor> actor;
      if (std::holds_alternative<ResumeRequested>(bodies[i])) actor = Actor{ActorKind::kUser, "alice", "default"};
      written_[c_].push_back(Event{1'000'000 + static_cast<std::int64_t>(i), actor, kSchemaVersion, bodies[i]});
      ASSERT_TRUE((*journal)->Append(c_, i, {Encode(written_[c_].back())}).has_value());
    }
    ASSERT_TRUE(Fold(c_, written_[c_]).has_value());
  }

  // Run c alone, in a fresh journal `name` that data_ then names, with the
  // projections maintained as it is written (a snapshot every `snapshot_every`).
  void WriteCWithProjections(const std::string& name, std::uint32_t snapshot_every) {
    data_ = dir_.Sub(name);
    JournalOptions o;
    o.directory = data_;
    o.durability = Durability::kNoSync;
    auto journal = Journal::Open(o);
    ASSERT_TRUE(journal.has_value());
    ProjectionsOptions po;
    po.background = false;
    po.snapshot_every = snapshot_every;
    auto projections = Projections::Open(**journal, po);
    ASSERT_TRUE(projections.has_value());
    for (std::size_t i = 0; i < written_[c_].size(); ++i) {
      ASSERT_TRUE((*journal)->Append(c_, i, {Encode(written_[c_][i])}).has_value());
    }
  }

  // Someone puts `key` into projection table `table` (FORMAT.md names them)
  // behind the journal's back.
  void Forge(const std::string& table, const std::string& key) {
    JournalOptions o;
    o.directory = data_;
    auto journal = Journal::Open(o);
    ASSERT_TRUE(journal.has_value());
    auto t = (*journal)->OpenTable(table);
    ASSERT_TRUE(t.has_value());
    ASSERT_THAT((*journal)->Update([&](WriteView& w) { return w.Put(*t, AsBytes(key), {}); }), IsOk());
  }

  // The state of run c after its first `seq` events, as StateJson writes it.
  json StateOfC(std::uint64_t seq) {
    return inspect::StateJson(*Fold(c_, std::span<const Event>(written_[c_].data(), seq)));
  }

  ProgramOutput Inspect(std::vector<std::string> args) {
    if (data_flag_) args.insert(args.end(), {"--data", data_});
    return RunProgram(JOURNAL_INSPECT, args, dir_.path());
  }

  // `journal-inspect ARGS --json` expecting exit status `want`: its JSON lines.
  std::vector<json> JsonLines(std::vector<std::string> args, int want = 0) {
    args.push_back("--json");
    const ProgramOutput o = Inspect(args);
    EXPECT_EQ(o.exit_code, want) << "stdout: " << o.out << "\nstderr: " << o.err;
    std::vector<json> lines;
    std::istringstream in(o.out);
    for (std::string line; std::getline(in, line);) {
      lines.push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
      EXPECT_FALSE(lines.back().is_discarded()) << "not JSON: " << line;
    }
    return lines;
  }
  json Json(std::vector<std::string> args, int want = 0) {
    auto lines = JsonLines(std::move(args), want);
    EXPECT_EQ(lines.size(), 1u);
    return lines.empty() ? json() : lines[0];
  }

  TempDir dir_;
  std::string data_ = dir_.Sub("journal");
  bool data_flag_ = true;
  RunId a_ = *RunId::Parse("0000000000000000000000000000000a");
  RunId b_ = *RunId::Parse("0000000000000000000000000000000b");
  RunId c_ = *RunId::Parse("0000000000000000000000000000000c");
  std::map<RunId, std::vector<Event>> written_;
};

TEST_F(InspectTest, StatCountsRunsEventsAndTypes) {
  const json j = Json({"stat"});
  EXPECT_EQ(j["format_version"], kJournalFormatVersion);
  EXPECT_EQ(j["runs"], 3);
  EXPECT_EQ(j["events"], SampleEvents().size() + written_[c_].size());
  std::map<std::string, std::uint64_t> types;
  for (const Event& e : SampleEvents()) ++types[std::string(EventTypeName(e.body))];
  for (const Event& e : written_[c_]) ++types[std::string(EventTypeName(e.body))];
  EXPECT_EQ(j["events_by_type"].get<decltype(types)>(), types);
  EXPECT_GT(j["file_bytes"].get<std::uint64_t>(), j["record_bytes"].get<std::uint64_t>());
}

TEST_F(InspectTest, EventsAreTheStoredEventsLinkedByTheirHashes) {
  const std::vector<json> lines = JsonLines({"events", a_.ToString()});
  const std::vector<Event>& events = written_[a_];
  ASSERT_EQ(lines.size(), events.size());
  std::string prev(64, '0');
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json e = lines[i];
    EXPECT_EQ(e["run_id"], a_.ToString());
    EXPECT_EQ(e["seq"], i + 1);
    EXPECT_EQ(e["prev_hash"], prev) << "seq " << i + 1;
    prev = e["hash"];
    for (const char* record_field : {"run_id", "seq", "position", "prev_hash", "hash"}) e.erase(record_field);
    auto decoded = inspect::EventFromJson(e);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
    EXPECT_EQ(*decoded, events[i]);
  }
  const std::vector<json> some = JsonLines({"events", a_.ToString(), "--from-seq", "2", "--to-seq", "3"});
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0]["seq"], 2);
  EXPECT_EQ(some[1]["hash"], lines[2]["hash"]);
}

TEST_F(InspectTest, HeadsAndTheirDigestCanBeRecomputedFromTheEvents) {
  const json heads = Json({"heads"});
  ASSERT_EQ(heads["runs"].size(), 3u);
  Bytes digest_input;
  for (const json& h : heads["runs"]) {
    const RunId run = *RunId::Parse(h["run_id"].get<std::string>());
    const std::vector<json> events = JsonLines({"events", run.ToString()});
    EXPECT_EQ(h["seq"], events.size());
    EXPECT_EQ(h["hash"], events.back()["hash"]);
    digest_input.insert(digest_input.end(), run.bytes().begin(), run.bytes().end());
    const auto seq = h["seq"].get<std::uint64_t>();
    for (int i = 7; i >= 0; --i) digest_input.push_back(static_cast<std::uint8_t>(seq >> (8 * i)));
    Hash hash{};
    ASSERT_TRUE(HexDecode(h["hash"].get<std::string>(), hash));
    digest_input.insert(digest_input.end(), hash.begin(), hash.end());
  }
  EXPECT_EQ(heads["digest"], HexEncode(Sha256(digest_input)));
  EXPECT_EQ(heads["position"], SampleEvents().size() + written_[c_].size());
}

TEST_F(InspectTest, TheHumanFormsNameWhatTheyShow) {
  const ProgramOutput events = Inspect({"events", a_.ToString()});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("RunStarted"), std::string::npos);
  const ProgramOutput heads = Inspect({"heads"});
  ASSERT_EQ(heads.exit_code, 0) << heads.err;
  EXPECT_NE(heads.out.find("digest of 3 heads"), std::string::npos);
  const ProgramOutput stat = Inspect({"stat"});
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_NE(stat.out.find("3 runs"), std::string::npos);
  const ProgramOutput state = Inspect({"state", c_.ToString(), "--at-seq", "5"});
  ASSERT_EQ(state.exit_code, 0) << state.err;
  EXPECT_NE(state.out.find("after 5 of 10 events"), std::string::npos) << state.out;
  const ProgramOutput diff = Inspect({"diff", c_.ToString(), "--from", "6", "--to", "7"});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(diff.out.find("replace /status: \"failed\" -> \"running\""), std::string::npos) << diff.out;
}

TEST_F(InspectTest, TheTimelineTellsFailuresAndEachResumeWithWhoWhyAndItsEpoch) {
  const json t = Json({"timeline", c_.ToString()});
  const json& entries = t["entries"];
  ASSERT_EQ(entries.size(), written_[c_].size());
  const json& failed = entries[4];
  EXPECT_EQ(failed["step"], "b");
  EXPECT_NE(failed["what"].get<std::string>().find("not retryable): boom: it broke"), std::string::npos) << failed;
  const json& resume = entries[6];
  EXPECT_EQ(resume["type"], "ResumeRequested");
  EXPECT_EQ(resume["step"], "b");
  EXPECT_EQ(resume["actor"], "alice@default");
  EXPECT_EQ(resume["epoch"], 1);
  EXPECT_NE(resume["what"].get<std::string>().find("fixed; epoch 1 begins (was failed"), std::string::npos) << resume;
  EXPECT_EQ(entries[0]["epoch"], 0);
  EXPECT_TRUE(entries[0]["step"].is_null());
  EXPECT_NE(entries[9]["what"].get<std::string>().find("run completed"), std::string::npos);
  const ProgramOutput text = Inspect({"timeline", c_.ToString()});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("alice@default"), std::string::npos) << text.out;
  EXPECT_EQ(Json({"timeline", a_.ToString()}, 15)["error"]["code"], "corruption") << "a's events do not fold";
}

TEST_F(InspectTest, StateAtEverySeqIsTheFoldOfThatPrefix) {
  for (std::uint64_t seq = 1; seq <= written_[c_].size(); ++seq) {
    const json j = Json({"state", c_.ToString(), "--at-seq", std::to_string(seq)});
    EXPECT_EQ(j["at_seq"], seq);
    EXPECT_EQ(j["state"], StateOfC(seq)) << "seq " << seq;
  }
}

TEST_F(InspectTest, StateAtAStepIsRightAfterItLastCompleted) {
  EXPECT_EQ(Json({"state", c_.ToString(), "--at-step", "a"})["at_seq"], 3);
  EXPECT_EQ(Json({"state", c_.ToString(), "--at-step", "b"})["at_seq"], 9);  // after the resume
  EXPECT_EQ(Json({"state", c_.ToString(), "--at-step", "2"})["at_seq"], 9);  // a 1-based index
  EXPECT_EQ(Json({"state", c_.ToString(), "--at-step", "nope"}, 10)["error"]["code"], "not_found");
  EXPECT_EQ(Json({"state", c_.ToString(), "--at-seq", "11"}, 10)["error"]["code"], "not_found");
  EXPECT_EQ(Inspect({"state", c_.ToString()}).exit_code, 2);
}

TEST_F(InspectTest, ADiffIsThePatchFromOneStateToTheOther) {
  for (const auto& [from, to] : std::vector<std::pair<int, int>>{{0, 10}, {5, 7}, {3, 3}, {6, 10}}) {
    const json d = Json({"diff", c_.ToString(), "--from", std::to_string(from), "--to", std::to_string(to)});
    EXPECT_EQ(d["events"].size(), static_cast<std::size_t>(to - from));
    const json before = from == 0 ? inspect::StateJson(RunState{c_}) : StateOfC(from);
    EXPECT_EQ(before.patch(d["changes"]), StateOfC(to)) << from << ".." << to;
  }
  EXPECT_EQ(Json({"diff", c_.ToString(), "--from", "7", "--to", "5"}, 14)["error"]["code"], "invalid_argument");
}

TEST_F(InspectTest, RunsListsEveryRunFoldedAndFilters) {
  const json all = Json({"runs"});
  ASSERT_EQ(all["runs"].size(), 3u);
  std::map<std::string, std::string> status;
  for (const json& r : all["runs"]) status[r["run_id"]] = r["status"];
  EXPECT_EQ(status[c_.ToString()], "completed");
  EXPECT_EQ(status[a_.ToString()], "damaged") << "sample events are no run's history";
  const json completed = Json({"runs", "--status", "completed"});
  ASSERT_EQ(completed["runs"].size(), 1u);
  const json& c = completed["runs"][0];
  EXPECT_EQ(c["seq"], written_[c_].size());
  EXPECT_EQ(c["epoch"], 1);
  EXPECT_EQ(c["tenant"], "acme");
  EXPECT_EQ(c["workflow"], "release");
  EXPECT_TRUE(c["damage"].is_null());
  EXPECT_EQ(Json({"runs", "--status", "damaged"})["runs"].size(), 2u);
  EXPECT_EQ(Json({"runs", "--tenant", "nobody"})["runs"].size(), 0u);
  EXPECT_EQ(Json({"runs", "--tenant", "acme", "--workflow", "release"})["runs"].size(), 1u);
  // c's events were recorded at 1 s after the epoch.
  EXPECT_EQ(Json({"runs", "--status", "completed", "--until", "1970-01-02"})["runs"].size(), 1u);
  EXPECT_EQ(Json({"runs", "--status", "completed", "--since", "1970-01-02"})["runs"].size(), 0u);
  EXPECT_EQ(Json({"runs", "--status", "asleep"}, 14)["error"]["code"], "invalid_argument");
  EXPECT_EQ(Inspect({"runs", "--since", "last week"}).exit_code, 2);
}

TEST_F(InspectTest, AnExportHoldsEveryEventWithItsHashesInGlobalOrder) {
  const std::string file = dir_.Sub("export.jsonl");
  const json summary = Json({"export", "--all", "--out", file});
  const std::size_t total = SampleEvents().size() + written_[c_].size();
  EXPECT_EQ(summary["events"], total);
  EXPECT_EQ(summary["runs"], 3);
  std::ifstream in(file);
  std::map<RunId, std::size_t> seen;
  std::uint64_t position = 0;
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line);
    EXPECT_EQ(e["position"], ++position);
    const RunId run = *RunId::Parse(e["run_id"].get<std::string>());
    for (const char* record_field : {"run_id", "seq", "position", "prev_hash", "hash"}) e.erase(record_field);
    EXPECT_EQ(*inspect::EventFromJson(e), written_[run][seen[run]++]);
  }
  EXPECT_EQ(position, total);
  EXPECT_EQ(Json({"export", c_.ToString(), "--out", file})["events"], written_[c_].size());
  EXPECT_EQ(Inspect({"export", "--out", file}).exit_code, 2) << "a RUN or --all";
}

TEST_F(InspectTest, RawEventsAreReadByFlatcWithTheSchemaAlone) {
  const std::string raw = dir_.Sub("raw");
  const json files = Json({"events", c_.ToString(), "--raw", raw, "--from-seq", "5", "--to-seq", "5"})["files"];
  ASSERT_EQ(files.size(), 1u);
  const ProgramOutput flatc = RunProgram(FLATC, {"--json", "--strict-json", "--raw-binary", "-o", raw, SCHEMA_FBS, "--",
                                                 files[0].get<std::string>()},
                                         dir_.path());
  ASSERT_EQ(flatc.exit_code, 0) << flatc.err;
  std::ifstream in(raw + "/5.json");
  const json decoded = json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(decoded.is_discarded());
  EXPECT_EQ(decoded["body_type"], "StepFailed");
  EXPECT_EQ(decoded["body"]["retryable"], false);
  EXPECT_EQ(decoded["body"]["code"], "boom");
  EXPECT_EQ(decoded["body"]["step"], 1);
}

// ---- verify ----

// The global position of run c's event `seq` (c was written last).
std::uint64_t PositionOfC(std::uint64_t seq) { return SampleEvents().size() + seq; }

// `stored` with its payload replaced by `event`, resealed as a forger would.
Bytes Rewritten(const Bytes& stored, const Event& event) {
  const Bytes payload = Encode(event);
  return test::Forge(stored, &payload, nullptr).stored;
}

// Does one of the problems concern `run` and mention `words`?
// Whether `report` has a problem of `run` at `seq` whose message says `words`.
bool Names(const json& report, const RunId& run, std::uint64_t seq, const std::string& words) {
  for (const json& p : report["problems"]) {
    if (p["run_id"] == run.ToString() && p["seq"] == seq &&
        p["message"].get<std::string>().find(words) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST_F(InspectTest, VerifyPassesASoundRunAndNamesEveryEventThatIsNoValidTransition) {
  const json one = Json({"verify", c_.ToString()});
  EXPECT_EQ(one["clean"], true);
  EXPECT_EQ(one["events"], written_[c_].size());
  // Runs a and b hold sample events in an order no run could have.
  const json all = Json({"verify", "--all"}, 20);
  EXPECT_EQ(all["runs"], 3);
  std::set<std::string> failed;
  for (const json& p : all["problems"]) {
    EXPECT_EQ(p["check"], "fold") << p;
    EXPECT_GT(p["seq"].get<std::uint64_t>(), 0u);
    failed.insert(p["run_id"]);
  }
  EXPECT_EQ(failed, (std::set<std::string>{a_.ToString(), b_.ToString()}));
}

TEST_F(InspectTest, VerifyNamesTheRunAndSeqOfADamagedByte) {
  {
    RawStore raw(data_);
    Bytes stored = *raw.GetEvent(PositionOfC(4));
    stored.back() ^= 0x01;
    raw.PutEvent(PositionOfC(4), stored);
  }
  const json r = Json({"verify", c_.ToString()}, 20);
  EXPECT_TRUE(Names(r, c_, 4, "position " + std::to_string(PositionOfC(4)))) << r;
  const ProgramOutput text = Inspect({"verify"});
  EXPECT_EQ(text.exit_code, 20);
  EXPECT_NE(text.out.find("run " + c_.ToString()), std::string::npos) << text.out;
}

TEST_F(InspectTest, VerifyFindsARewrittenEventEvenWithAValidChecksum) {
  {
    RawStore raw(data_);
    Event forged = written_[c_][8];
    std::get<StepCompleted>(forged.body).output = ToBytes("X");  // another output
    raw.PutEvent(PositionOfC(9), Rewritten(*raw.GetEvent(PositionOfC(9)), forged));
  }
  EXPECT_TRUE(Names(Json({"verify", c_.ToString()}, 20), c_, 10, "seq 10"));
}

TEST_F(InspectTest, VerifyFindsADeletedAndTwoSwappedEvents) {
  const Bytes second = *RawStore(data_).GetEvent(PositionOfC(2)), third = *RawStore(data_).GetEvent(PositionOfC(3));
  {
    RawStore raw(data_);
    raw.PutEvent(PositionOfC(2), third);
    raw.PutEvent(PositionOfC(3), second);
  }
  const json swapped = Json({"verify", "--all"}, 20);
  EXPECT_TRUE(Names(swapped, c_, 2, "seq 2")) << swapped;
  {
    RawStore raw(data_);  // put them back, and delete the last one instead
    raw.PutEvent(PositionOfC(2), second);
    raw.PutEvent(PositionOfC(3), third);
    raw.DeleteEvent(PositionOfC(10));
  }
  const json deleted = Json({"verify", "--all"}, 20);
  EXPECT_TRUE(std::any_of(deleted["problems"].begin(), deleted["problems"].end(), [&](const json& p) {
    return p["check"] == "journal" && p["message"].get<std::string>().find(std::to_string(PositionOfC(10))) !=
                                          std::string::npos;
  })) << deleted;
}

TEST_F(InspectTest, VerifyAgainstSavedHeadsCatchesAHistoryRewrittenConsistently) {
  const ProgramOutput saved = Inspect({"heads", "--json"});
  ASSERT_EQ(saved.exit_code, 0);
  const std::string heads_file = dir_.Sub("heads.json");
  std::ofstream(heads_file) << saved.out;
  EXPECT_EQ(Json({"verify", "--against", heads_file}, 20)["problems"].size(), 2u) << "only a's and b's fold problems";
  {
    // A forger rewrites step b's output and re-chains every later record.
    RawStore raw(data_);
    Hash prev{};
    for (std::uint64_t seq = 1; seq <= written_[c_].size(); ++seq) {
      Event event = written_[c_][seq - 1];
      if (seq == 9) std::get<StepCompleted>(event.body).output = ToBytes("X");
      const Bytes payload = Encode(event);
      const Forged forged = test::Forge(*raw.GetEvent(PositionOfC(seq)), &payload, &prev);
      raw.PutEvent(PositionOfC(seq), forged.stored);
      prev = forged.hash;
    }
  }
  EXPECT_EQ(Json({"verify", c_.ToString()})["clean"], true) << "the chain itself is consistent again";
  const json against = Json({"verify", c_.ToString(), "--against", heads_file}, 20);
  ASSERT_EQ(against["problems"].size(), 1u) << against;
  EXPECT_EQ(against["problems"][0]["check"], "heads");
  EXPECT_EQ(against["problems"][0]["run_id"], c_.ToString());
  EXPECT_EQ(against["problems"][0]["seq"], 10);
  // A saved heads file that was itself edited shows it.
  json edited = json::parse(saved.out);
  edited["runs"][0]["seq"] = 1;
  std::ofstream(heads_file) << edited.dump();
  const json problems = Json({"verify", c_.ToString(), "--against", heads_file}, 20)["problems"];
  EXPECT_TRUE(std::any_of(problems.begin(), problems.end(), [](const json& p) {
    return p["run_id"].is_null() && p["message"].get<std::string>().find("own digest") != std::string::npos;
  })) << problems;
}

TEST_F(InspectTest, VerifyAgainstSavedHeadsCatchesARemovedTail) {
  ASSERT_FALSE(RawStore(data_).GetEvent(PositionOfC(written_[c_].size()) + 1).has_value()) << "c ends the journal";
  const ProgramOutput saved = Inspect({"heads", "--json"});
  ASSERT_EQ(saved.exit_code, 0);
  const std::string heads_file = dir_.Sub("heads.json");
  std::ofstream(heads_file) << saved.out;
  {
    // A forger removes the journal's last event and its index entry: the
    // positions stay dense and the shorter chain is consistent.
    RawStore raw(data_);
    const std::uint64_t seq = written_[c_].size();
    raw.DeleteEvent(PositionOfC(seq));
    raw.DeleteRunEntry(c_, seq, PositionOfC(seq));
  }
  EXPECT_EQ(Json({"verify", c_.ToString()})["clean"], true) << "nothing in the journal itself shows it";
  const json against = Json({"verify", c_.ToString(), "--against", heads_file}, 20);
  ASSERT_EQ(against["problems"].size(), 1u) << against;
  EXPECT_EQ(against["problems"][0]["check"], "heads");
  EXPECT_EQ(against["problems"][0]["run_id"], c_.ToString());
}

TEST_F(InspectTest, VerifyComparesProjectionsWithAFreshRebuild) {
  WriteCWithProjections("projected", 64);
  EXPECT_EQ(Json({"verify", "--all"})["clean"], true);
  Forge("proj.runs.0", "A-forged");  // a run index entry
  const json r = Json({"verify", "--all"}, 20);
  ASSERT_EQ(r["problems"].size(), 1u) << r;
  EXPECT_EQ(r["problems"][0]["check"], "projections");
  EXPECT_NE(r["problems"][0]["message"].get<std::string>().find("projection runs"), std::string::npos) << r;
  EXPECT_EQ(Json({"verify", c_.ToString()})["clean"], true) << "one run's check does not rebuild";
}

TEST_F(InspectTest, VerifyComparesSnapshotsTakenAtTheIntervalTheyWereBuiltWith) {
  WriteCWithProjections("every3", 3);
  EXPECT_EQ(Json({"verify", "--all"})["clean"], true) << "rebuilt every 3 events too";
  Forge("proj.snapshots.0", "forged");  // a snapshot no fold produced
  const json r = Json({"verify", "--all"}, 20);
  ASSERT_EQ(r["problems"].size(), 1u) << r;
  EXPECT_NE(r["problems"][0]["message"].get<std::string>().find("projection snapshots"), std::string::npos) << r;
}

TEST_F(InspectTest, ATruncatedDataFileIsAnErrorNotACrash) {
  const std::string file = data_ + "/data.mdb";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  for (const auto& args : std::vector<std::vector<std::string>>{{"verify"}, {"stat"}, {"heads"}}) {
    const ProgramOutput o = Inspect(args);
    EXPECT_NE(o.exit_code, 0) << args[0];
    EXPECT_NE(o.exit_code, -1) << args[0] << " crashed";
    EXPECT_FALSE(o.err.empty()) << args[0];
  }
}

TEST_F(InspectTest, BadInputIsAClearErrorAndANonZeroExit) {
  EXPECT_EQ(Json({"events", "0000000000000000000000000000000d"}, 10)["error"]["code"], "not_found");
  EXPECT_EQ(Json({"events", "not-a-run"}, 14)["error"]["code"], "invalid_argument");
  data_ = dir_.Sub("nowhere");
  const json missing = Json({"stat"}, 10);
  EXPECT_NE(missing["error"]["message"].get<std::string>().find("nowhere"), std::string::npos) << missing;
  EXPECT_EQ(Inspect({"frobnicate"}).exit_code, 2);
}

TEST_F(InspectTest, ItNeverWrites) {
  const auto before = std::filesystem::last_write_time(data_ + "/data.mdb");
  for (const auto& args : std::vector<std::vector<std::string>>{{"stat"}, {"heads"}, {"events", a_.ToString()}}) {
    EXPECT_EQ(Inspect(args).exit_code, 0);
  }
  EXPECT_EQ(std::filesystem::last_write_time(data_ + "/data.mdb"), before);
}

}  // namespace
}  // namespace rwd::test
