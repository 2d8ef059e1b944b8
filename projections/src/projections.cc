#include "rewind/projections/projections.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "projections/src/builtins.h"
#include "projections/src/pass.h"
#include "projections/src/run_states.h"
#include "projections/src/slot.h"
#include "rewind/base/log.h"
#include "rewind/base/mutex.h"
#include "rewind/journal/tables.h"
#include "rewind/projections/history.h"

namespace rwd {

using namespace projections_internal;

namespace {

struct Entry {
  std::unique_ptr<Projection> projection;
  Table slots[2];
};

// What one projection's two slots hold.
struct Slots {
  SlotHeader headers[2];
  int active = -1;    // the usable active slot (this build's version and config)
  int building = -1;  // the slot being rebuilt
  int damaged = -1;   // a slot whose header does not decode (read as empty)
  Status damage;      // why
};

bool Usable(const SlotHeader& h, const Projection& p) {
  return h.role == SlotRole::kActive && h.version == p.version() && h.config == p.config();
}

// Fails only when the headers cannot be read at all; one that does not
// decode marks its slot damaged.
Result<Slots> Inspect(const ReadView& view, const Entry& e) {
  Slots s;
  for (int i = 0; i < 2; ++i) {
    auto header = ReadSlotHeader(view, e.slots[i]);
    if (!header.has_value()) {
      if (header.error().code() != Code::kCorruption) return Err(header.error());
      s.damaged = i;
      s.damage = header.error();
      continue;
    }
    s.headers[i] = *header;
    if (s.headers[i].role == SlotRole::kBuilding) s.building = i;
  }
  const bool both_active = s.headers[0].role == SlotRole::kActive && s.headers[1].role == SlotRole::kActive;
  for (int i = 0; i < 2 && !both_active; ++i) {
    if (Usable(s.headers[i], *e.projection)) s.active = i;
  }
  return s;
}

// Where a rebuild goes: the slot being rebuilt, else a damaged one, else
// one that no reader uses (an old version's table stays until the swap).
int RebuildSlot(const Slots& s) {
  if (s.building >= 0) return s.building;
  if (s.damaged >= 0) return s.damaged;
  if (s.active >= 0) return 1 - s.active;
  return s.headers[0].role == SlotRole::kActive ? 1 : 0;
}

// Does the checkpoint name an event of this journal?
Result<bool> CheckpointHolds(const ReadView& view, const SlotHeader& h, std::uint64_t last) {
  if (h.checkpoint == 0) return h.checkpoint_sum == 0;
  if (h.checkpoint > last) return false;
  bool same = false;
  REWIND_RETURN_IF_ERROR(view.ReadAll(h.checkpoint, h.checkpoint, [&](const EventRecord& r) {
    same = r.position == h.checkpoint && r.sum() == h.checkpoint_sum;
    return Status::Ok();
  }));
  return same;
}

std::string Percent(std::uint64_t done, std::uint64_t total) {
  return total == 0 ? "100%" : std::to_string(done * 100 / total) + "%";
}

}  // namespace

std::string_view ProjectionHealthName(ProjectionHealth health) {
  switch (health) {
    case ProjectionHealth::kCurrent: return "current";
    case ProjectionHealth::kBehind: return "behind";
    case ProjectionHealth::kRebuilding: return "rebuilding";
    case ProjectionHealth::kMissing: return "missing";
    case ProjectionHealth::kFailed: return "failed";
  }
  return "unknown";
}

class Projections::Impl {
 public:
  Impl(Journal& journal, const ProjectionsOptions& options)
      : journal_(journal), options_(options), cache_(options.cached_runs), rebuild_cache_(options.cached_runs) {}

  ~Impl() {
    if (hooked_) (void)journal_.SetCommitHook(CommitHook{});
    {
      MutexLock lock(mu_);
      stop_ = true;
    }
    cv_.NotifyAll();
    if (worker_.joinable()) worker_.join();
  }

  Status Init() {
    writer_ = !journal_.options().read_only;
    for (auto& projection : BuiltinProjections(options_)) {
      Entry e;
      bool found = true;
      for (int i = 0; i < 2 && found; ++i) {
        auto table = journal_.OpenTable(SlotTableName(projection->name(), i));
        if (!table.has_value() && table.error().code() != Code::kNotFound) return table.error();
        found = table.has_value();
        if (found) e.slots[i] = *table;
      }
      if (!found) {  // read-only, and never built in this journal
        missing_.insert(std::string(projection->name()));
        continue;
      }
      e.projection = std::move(projection);
      entries_.push_back(std::move(e));
    }
    if (!writer_) return Status::Ok();
    REWIND_RETURN_IF_ERROR(journal_.Update([&](WriteView& txn) { return PrepareSlots(txn); }));
    REWIND_RETURN_IF_ERROR(journal_
                               .SetCommitHook(CommitHook{
                                   [this](WriteView& txn, std::span<const EventRecord> records) {
                                     return HookApply(txn, records);
                                   },
                                   [this](const Status& commit) { commit.ok() ? cache_.Commit() : cache_.Discard(); }})
                               .WithContext("attaching projections"));
    hooked_ = true;
    if (options_.background) {
      {
        MutexLock lock(mu_);  // the commit hook, on the writer thread, may be setting work_ already
        work_ = true;
      }
      PrepareLogging();
      worker_ = std::thread([this] { WorkerLoop(); });
    }
    return Status::Ok();
  }

  // ---- maintenance (writer thread: hook and Step) ----

  // A slot whose checkpoint does not name an event of this journal (restored
  // from elsewhere, or ahead of it) is set aside, so it is rebuilt.
  // A slot whose header cannot be read is cleared: it is derived data.
  //
  // On an empty journal a projection without tables starts active and empty:
  // there is nothing to rebuild.
  Status PrepareSlots(WriteView& txn) {
    REWIND_ASSIGN_OR_RETURN(std::uint64_t last, txn.LastPosition());
    for (Entry& e : entries_) {
      if (last == 0) {
        REWIND_ASSIGN_OR_RETURN(Slots slots, Inspect(txn, e));
        if (slots.active < 0 && slots.building < 0) {
          for (int i = 0; i < 2; ++i) REWIND_RETURN_IF_ERROR(txn.Clear(e.slots[i]));
          const Projection& p = *e.projection;
          REWIND_RETURN_IF_ERROR(WriteSlotHeader(txn, e.slots[0], SlotHeader{SlotRole::kActive, p.version(), p.config()}));
        }
      }
      for (int i = 0; i < 2; ++i) {
        auto header = ReadSlotHeader(txn, e.slots[i]);
        if (!header.has_value()) {
          spdlog::warn("projection {}: {}; clearing it", e.projection->name(), header.error().ToString());
          REWIND_RETURN_IF_ERROR(txn.Clear(e.slots[i]));
          continue;
        }
        if (header->role == SlotRole::kEmpty) continue;
        REWIND_ASSIGN_OR_RETURN(bool holds, CheckpointHolds(txn, *header, last));
        if (holds) continue;
        spdlog::warn("projection {}: its checkpoint (position {}) does not name an event of this journal; rebuilding it",
                     e.projection->name(), header->checkpoint);
        header->role = SlotRole::kEmpty;
        REWIND_RETURN_IF_ERROR(WriteSlotHeader(txn, e.slots[i], *header));
      }
    }
    return Status::Ok();
  }

  bool Failed(const Entry& e) const REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return failed_.count(std::string(e.projection->name())) != 0;
  }

  // Neither failed nor waiting for the rebuild that repairs it: its active
  // table can be maintained inline and read from while folding.
  bool Sound(const Entry& e) const REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    const std::string name(e.projection->name());
    return failed_.count(name) == 0 && repairing_.count(name) == 0;
  }

  // The table snapshots are read from while folding: the one the pass
  // writes, else the usable active one.
  const Table* SnapshotSource(std::span<const Target> targets, const ReadView& view) {
    for (const Target& t : targets) {
      if (t.projection->name() == kSnapshotsName) return &t.table;
    }
    for (const Entry& e : entries_) {
      if (e.projection->name() != kSnapshotsName || !Sound(e)) continue;
      auto slots = Inspect(view, e);
      if (slots.has_value() && slots->active >= 0) return &e.slots[slots->active];
    }
    return nullptr;
  }

  // Applies an append batch to every current projection. One that fails is
  // set aside (MarkFailed) and the batch is applied again, in a fresh nested
  // transaction, to the others: they keep reading their writes.
  Status HookApply(WriteView& txn, std::span<const EventRecord> records) {
    for (;;) {
      const std::uint64_t failures_before = Failures();
      const Status s = txn.Nested([&](WriteView& nested) { return HookPass(nested, records); });
      if (s.ok() || Failures() == failures_before) return s;
      cache_.Discard();
    }
  }

  Status HookPass(WriteView& txn, std::span<const EventRecord> records) {
    const std::uint64_t first = records.front().position;
    std::vector<Target> targets;
    bool behind = false;
    for (Entry& e : entries_) {
      if (!Sound(e)) continue;
      auto inspected = Inspect(txn, e);
      if (!inspected.has_value() || inspected->damaged >= 0) {
        MarkFailed(e, inspected.has_value() ? inspected->damage : inspected.error());
        continue;
      }
      const Slots& slots = *inspected;
      if (slots.active < 0 || slots.headers[slots.active].checkpoint + 1 != first) {
        behind = true;
        continue;
      }
      targets.push_back(Target{e.projection.get(), e.slots[slots.active], slots.headers[slots.active]});
    }
    if (behind) Wake();
    if (targets.empty()) return Status::Ok();
    Pass pass(txn, cache_, SnapshotSource(targets, txn), targets);
    return RunPass(pass, targets, [&]() -> Status {
      for (const EventRecord& r : records) REWIND_RETURN_IF_ERROR(pass.Apply(targets, r));
      return Status::Ok();
    });
  }

  // Feeds the pass (`feed` calls pass.Apply) and finishes it. A projection
  // that failed is marked; running out of space fails none of them (the
  // work is done again later). A snapshot the pass could not decode (it
  // folded that run from its first event instead) marks the snapshots.
  Status RunPass(Pass& pass, std::span<Target> targets, const std::function<Status()>& feed) {
    Status s = feed();
    if (s.ok()) s = pass.Finish(targets);
    if (!s.ok() && s.code() != Code::kResourceExhausted) MarkFailed(targets, pass.culprit(), s);
    if (!pass.snapshot_damage().ok()) {
      MutexLock lock(mu_);
      FailLocked(std::string(kSnapshotsName), pass.snapshot_damage());
    }
    return s;
  }

  struct StepReport {
    bool more = false;
    std::uint64_t done = 0, total = 0;
    std::string building;                // names being rebuilt
    std::vector<std::string> flipped;    // rebuilt and swapped in
    std::vector<std::string> requested;  // rebuilds asked for that this step began
  };

  // One bounded update: catch up or rebuild every projection that needs it
  // by at most batch_events events; flip rebuilt slots that reached the end.
  Status Step(WriteView& txn, StepReport* report) {
    REWIND_ASSIGN_OR_RETURN(std::uint64_t last, txn.LastPosition());
    std::vector<Target> targets;
    struct Owner {
      const Entry* entry;
      int slot;  // the slot the target writes
    };
    std::vector<Owner> owners;  // per target
    for (Entry& e : entries_) {
      if (Failed(e)) continue;
      const Projection& p = *e.projection;
      bool requested;
      {
        MutexLock lock(mu_);
        requested = requested_.erase(std::string(p.name())) != 0;
      }
      if (requested) report->requested.emplace_back(p.name());
      REWIND_ASSIGN_OR_RETURN(Slots slots, Inspect(txn, e));
      if (slots.damaged >= 0 && !requested) {
        MarkFailed(e, slots.damage);  // which asks for the rebuild that repairs it
        continue;
      }
      int slot = slots.building;
      // A rebuild asked for, or one begun by another version, starts over; an
      // interrupted one otherwise continues from its checkpoint.
      const bool restart = requested || (slot >= 0 && (slots.headers[slot].version != p.version() ||
                                                       slots.headers[slot].config != p.config()));
      if (restart || (slot < 0 && slots.active < 0)) {
        slot = RebuildSlot(slots);
        slots.headers[slot] = SlotHeader{SlotRole::kBuilding, p.version(), p.config(), 0, 0};
        REWIND_RETURN_IF_ERROR(txn.Clear(e.slots[slot]));
        REWIND_RETURN_IF_ERROR(WriteSlotHeader(txn, e.slots[slot], slots.headers[slot]));
      }
      if (slot < 0) {
        if (slots.headers[slots.active].checkpoint >= last) continue;
        slot = slots.active;
      }
      targets.push_back(Target{e.projection.get(), e.slots[slot], slots.headers[slot]});
      owners.push_back(Owner{&e, slot});
    }
    if (targets.empty()) return Status::Ok();
    std::uint64_t from = last + 1;
    bool rebuilding = false;
    for (const Target& t : targets) {
      from = std::min(from, t.header.checkpoint + 1);
      rebuilding |= t.header.role == SlotRole::kBuilding;
    }
    const std::uint64_t to = from > last || last - from < options_.batch_events ? last : from + options_.batch_events - 1;
    // A rebuild folds old states of old runs: it keeps them out of the cache
    // the appends use.
    Pass pass(txn, rebuilding ? rebuild_cache_ : cache_, SnapshotSource(targets, txn), targets);
    // The records' views stay valid while the pass writes: it writes only
    // tables, never the pages of the events database.
    REWIND_RETURN_IF_ERROR(RunPass(pass, targets, [&] {
      return txn.ReadAll(from, to, [&](const EventRecord& r) { return pass.Apply(targets, r); });
    }));
    for (std::size_t i = 0; i < targets.size(); ++i) {
      Target& t = targets[i];
      const bool building = t.header.role == SlotRole::kBuilding;
      if (building) {
        if (!report->building.empty()) report->building += ',';
        report->building += t.projection->name();
        report->done = report->total == 0 ? t.header.checkpoint : std::min(report->done, t.header.checkpoint);
        report->total = last;
      }
      if (t.header.checkpoint < last) {
        report->more = true;
        continue;
      }
      if (!building) continue;
      // Complete: swap it in and empty the old slot, in this one transaction.
      const Table& old = owners[i].entry->slots[1 - owners[i].slot];
      REWIND_RETURN_IF_ERROR(txn.Clear(old));
      REWIND_RETURN_IF_ERROR(WriteSlotHeader(txn, old, SlotHeader{}));
      t.header.role = SlotRole::kActive;
      REWIND_RETURN_IF_ERROR(WriteSlotHeader(txn, t.table, t.header));
      report->flipped.emplace_back(t.projection->name());
    }
    return Status::Ok();
  }

  void MarkFailed(const Entry& e, const Status& error) REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    FailLocked(std::string(e.projection->name()), error);
  }

  void MarkFailed(std::span<const Target> targets, const Projection* culprit, const Status& error) REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    for (const Target& t : targets) {
      if (culprit == nullptr || culprit == t.projection) FailLocked(std::string(t.projection->name()), error);
    }
  }

  // A projection that failed (a damaged value or header, say) is derived
  // data: it is rebuilt once by itself. If that rebuild fails as well, the
  // projection stays failed — skipped, its table left as it is — until a
  // rebuild is asked for, so a failure that a rebuild reproduces does not
  // rebuild again and again.
  void FailLocked(const std::string& name, const Status& error) REWIND_REQUIRES(mu_) {
    ++failures_;
    if (repairing_.emplace(name, error.ToString()).second) {
      spdlog::warn("projection {} failed; rebuilding it: {}", name, error.ToString());
      requested_.insert(name);
      work_ = true;
      cv_.NotifyAll();
      return;
    }
    spdlog::error("projection {} failed again; it stays failed until rebuilt: {}", name, error.ToString());
    failed_[name] = error.ToString();
  }

  // Rebuilds asked for whose first step did not commit are asked for again.
  void Requeue(const std::vector<std::string>& names) REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    requested_.insert(names.begin(), names.end());
  }

  void Flipped(const std::vector<std::string>& names) REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    for (const std::string& name : names) {
      repairing_.erase(name);
      spdlog::info("projection {} rebuilt and in use", name);
    }
  }

  // Runs one Step as an update; the state cache keeps what it folded only if
  // the update commits.
  Status RunStep(StepReport* report) {
    std::promise<Status> done;
    journal_.UpdateAsync([&](WriteView& txn) { return Step(txn, report); },
                         [&](const Status& s) {
                           if (s.ok()) {
                             cache_.Commit();
                             rebuild_cache_.Commit();
                             Flipped(report->flipped);
                           } else {
                             cache_.Discard();
                             rebuild_cache_.Discard();
                             Requeue(report->requested);
                           }
                           done.set_value(s);
                         });
    return done.get_future().get();
  }

  Status CatchUp(const ProgressFn& progress) REWIND_EXCLUDES(mu_) {
    if (!writer_) {
      return Status(Code::kFailedPrecondition, "projections of a read-only journal cannot be brought up to date");
    }
    // The rate counts from the first report of the rebuild under way.
    std::optional<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> rate_from;
    for (;;) {
      {
        MutexLock lock(mu_);
        if (stop_) return Status(Code::kUnavailable, "projections are closing");
      }
      StepReport report;
      const std::uint64_t failures_before = Failures();
      if (Status s = RunStep(&report); !s.ok()) {
        // A projection that failed is being rebuilt or skipped from now on:
        // go on with the others.
        if (Failures() > failures_before) continue;
        return s;
      }
      if (progress && !report.building.empty()) {
        const auto now = std::chrono::steady_clock::now();
        if (!rate_from || report.done < rate_from->second) rate_from.emplace(now, report.done);
        const double seconds = std::chrono::duration<double>(now - rate_from->first).count();
        RebuildProgress p{report.building, report.done, report.total, 0, 0};
        if (seconds > 0) p.events_per_second = static_cast<double>(report.done - rate_from->second) / seconds;
        if (p.events_per_second > 0) p.seconds_left = static_cast<double>(report.total - report.done) / p.events_per_second;
        progress(p);
      }
      if (!report.more) break;
    }
    MutexLock lock(mu_);
    if (!failed_.empty()) {
      return Status(Code::kCorruption, "projection " + failed_.begin()->first + " failed: " + failed_.begin()->second);
    }
    return Status::Ok();
  }

  std::uint64_t Failures() const REWIND_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return failures_;
  }

  Status Rebuild(std::span<const std::string> names, const ProgressFn& progress) REWIND_EXCLUDES(mu_) {
    if (!writer_) return Status(Code::kFailedPrecondition, "projections of a read-only journal cannot be rebuilt");
    std::vector<std::string> chosen(names.begin(), names.end());
    if (chosen.empty()) chosen = Projections::Names();
    for (const std::string& name : chosen) {
      if (!Find(name)) return Status(Code::kNotFound, "no projection named '" + name + "'");
    }
    {
      MutexLock lock(mu_);
      for (const std::string& name : chosen) {
        requested_.insert(name);
        failed_.erase(name);
      }
    }
    return CatchUp(progress);
  }

  void Wake() REWIND_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      work_ = true;
    }
    cv_.NotifyAll();
  }

  void WorkerLoop() REWIND_EXCLUDES(mu_) {
    for (;;) {
      {
        MutexLock lock(mu_);
        while (!stop_ && !work_) lock.Wait(cv_);
        if (stop_) return;
        work_ = false;
      }
      const Status s = CatchUp(nullptr);
      // Out of space: try again later (failures mark their projection and stop).
      if (s.code() == Code::kResourceExhausted) {
        MutexLock lock(mu_);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (!stop_) {
          if (!lock.WaitUntil(cv_, deadline)) break;
        }
        work_ = true;
      }
    }
  }

  // ---- reads ----

  const Entry* Find(std::string_view name) const {
    for (const Entry& e : entries_) {
      if (e.projection->name() == name) return &e;
    }
    return nullptr;
  }

  // The usable active table of `name` in `view`; FailedPrecondition naming
  // why there is none.
  Result<const Table*> Active(const ReadView& view, std::string_view name) const {
    const Entry* e = Find(name);
    if (e == nullptr) {
      return Err(Code::kFailedPrecondition, "projection " + std::string(name) + " does not exist in this journal yet");
    }
    REWIND_ASSIGN_OR_RETURN(Slots slots, Inspect(view, *e));
    if (slots.active < 0) {
      std::string why = slots.building >= 0
                            ? "is being rebuilt (" + Percent(slots.headers[slots.building].checkpoint,
                                                             view.LastPosition().value_or(0)) + ")"
                            : "is not built";
      return Err(Code::kFailedPrecondition, "projection " + std::string(name) + " " + why +
                                                "; `rewind projections rebuild` builds it");
    }
    return &e->slots[slots.active];
  }

  template <typename T>
  Result<T> Read(std::string_view name, const std::function<Result<T>(const ReadView&, const Table&)>& read) const {
    std::optional<Result<T>> out;
    REWIND_RETURN_IF_ERROR(journal_.View([&](const ReadView& view) -> Status {
      auto table = Active(view, name);
      if (!table.has_value()) return table.error();
      out = read(view, **table);
      return Status::Ok();
    }));
    return std::move(*out);
  }

  Result<RunState> StateAt(const RunId& run, std::uint64_t seq) const {
    if (seq == 0) return Err(Code::kInvalidArgument, "there is no state at seq 0; seqs start at 1");
    std::optional<Result<RunState>> out;
    REWIND_RETURN_IF_ERROR(journal_.View([&](const ReadView& view) -> Status {
      auto snapshots = Active(view, kSnapshotsName);
      out = LoadState(view, snapshots.has_value() ? *snapshots : nullptr, run, seq);
      // A damaged snapshot must not hide the state: fold from the first event.
      if (!out->has_value() && out->error().code() == Code::kCorruption && snapshots.has_value()) {
        out = LoadState(view, nullptr, run, seq);
      }
      return Status::Ok();
    }));
    return std::move(*out);
  }

  Result<std::vector<std::pair<std::string, std::optional<Hash>>>> Digests() const {
    std::vector<std::pair<std::string, std::optional<Hash>>> out;
    REWIND_RETURN_IF_ERROR(journal_.View([&](const ReadView& view) -> Status {
      for (const std::string& name : Projections::Names()) {
        out.emplace_back(name, std::nullopt);
        const Entry* e = Find(name);
        if (e == nullptr) continue;
        REWIND_ASSIGN_OR_RETURN(Slots slots, Inspect(view, *e));
        if (slots.active < 0) continue;
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
        if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
          return Status(Code::kInternal, "SHA-256 is unavailable");
        }
        auto feed = [&](ByteView bytes) {
          const std::uint64_t n = bytes.size();
          EVP_DigestUpdate(ctx.get(), &n, sizeof n);  // lengths keep entries apart
          EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
        };
        REWIND_ASSIGN_OR_RETURN(TableCursor c, view.Cursor(e->slots[slots.active]));
        for (auto at = c.First();; at = c.Next()) {
          if (!at.has_value()) return at.error();
          if (!*at) break;
          feed(c.key());
          feed(c.value());
        }
        Hash digest{};
        unsigned int size = 0;
        EVP_DigestFinal_ex(ctx.get(), digest.data(), &size);
        out.back().second = digest;
      }
      return Status::Ok();
    }));
    return out;
  }

  std::vector<ProjectionStatus> StatusAll() const {
    std::vector<ProjectionStatus> out;
    std::uint64_t last = 0;
    (void)journal_.View([&](const ReadView& view) -> Status {
      last = view.LastPosition().value_or(0);
      for (const Entry& e : entries_) {
        ProjectionStatus st{std::string(e.projection->name()), e.projection->version()};
        st.journal_position = last;
        auto slots = Inspect(view, e);
        if (!slots.has_value()) {
          st.health = ProjectionHealth::kFailed;
          st.error = slots.error().ToString();
        } else {
          for (const SlotHeader& h : slots->headers) {
            if (h.role == SlotRole::kActive) {
              st.stored_version = h.version;
              st.stored_config = h.config;
            }
          }
          if (slots->active >= 0) st.checkpoint = slots->headers[slots->active].checkpoint;
          if (slots->building >= 0) st.rebuild_checkpoint = slots->headers[slots->building].checkpoint;
          st.health = slots->building >= 0  ? ProjectionHealth::kRebuilding
                      : slots->active < 0   ? ProjectionHealth::kMissing
                      : st.checkpoint < last ? ProjectionHealth::kBehind
                                             : ProjectionHealth::kCurrent;
          if (slots->damaged >= 0) {  // until a rebuild repairs it
            st.health = ProjectionHealth::kFailed;
            st.error = slots->damage.ToString();
          }
        }
        MutexLock lock(mu_);
        if (auto it = failed_.find(st.name); it != failed_.end()) {
          st.health = ProjectionHealth::kFailed;
          st.error = it->second;
        } else if (auto repair = repairing_.find(st.name); repair != repairing_.end()) {
          st.health = ProjectionHealth::kRebuilding;
          st.error = repair->second;
        }
        out.push_back(std::move(st));
      }
      return Status::Ok();
    });
    for (const std::string& name : missing_) {
      ProjectionStatus st{name};
      st.journal_position = last;
      out.push_back(std::move(st));
    }
    return out;
  }

 private:
  Journal& journal_;
  const ProjectionsOptions options_;
  bool writer_ = false;
  std::vector<Entry> entries_;
  std::set<std::string> missing_;  // read-only: never built in this journal
  StateCache cache_;               // writer thread only (hook, Step, their completions)
  StateCache rebuild_cache_;       // the same, for steps that rebuild
  bool hooked_ = false;

  mutable Mutex mu_;
  CondVar cv_;  // signalled when work_ or stop_ is set
  std::set<std::string> requested_ REWIND_GUARDED_BY(mu_);           // rebuilds asked for, not yet started
  std::map<std::string, std::string> failed_ REWIND_GUARDED_BY(mu_);     // name → error; skipped until rebuilt
  std::map<std::string, std::string> repairing_ REWIND_GUARDED_BY(mu_);  // name → error; rebuilt once by itself
  std::uint64_t failures_ REWIND_GUARDED_BY(mu_) = 0;                    // MarkFailed calls so far
  bool work_ REWIND_GUARDED_BY(mu_) = false;
  bool stop_ REWIND_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

Result<std::unique_ptr<Projections>> Projections::Open(Journal& journal, ProjectionsOptions options) {
  if (options.snapshot_every == 0) return Err(Code::kInvalidArgument, "snapshot_every must be at least 1");
  if (options.batch_events == 0) return Err(Code::kInvalidArgument, "batch_events must be at least 1");
  auto impl = std::make_unique<Impl>(journal, options);
  REWIND_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Projections>(new Projections(std::move(impl)));
}

Projections::Projections(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Projections::~Projections() = default;

Status Projections::CatchUp(const ProgressFn& progress) { return impl_->CatchUp(progress); }

Status Projections::Rebuild(std::span<const std::string> names, const ProgressFn& progress) {
  return impl_->Rebuild(names, progress);
}

std::vector<ProjectionStatus> Projections::Health() const { return impl_->StatusAll(); }

Result<std::vector<std::pair<std::string, std::optional<Hash>>>> Projections::Digests() const {
  return impl_->Digests();
}

std::vector<std::string> Projections::Names() {
  return {std::string(kRunsName), std::string(kStepStatsName), std::string(kAuditName), std::string(kSnapshotsName)};
}

bool Projections::OwnsTable(std::string_view table) { return table.starts_with(kSlotTablePrefix); }

Result<RunPage> Projections::ListRuns(const RunQuery& query) const {
  return impl_->Read<RunPage>(kRunsName, [&](const ReadView& v, const Table& t) { return ReadRunPage(v, t, query); });
}

Result<std::vector<std::pair<RunStatus, std::uint64_t>>> Projections::CountRuns() const {
  return impl_->Read<std::vector<std::pair<RunStatus, std::uint64_t>>>(
      kRunsName, [&](const ReadView& v, const Table& t) { return projections_internal::CountRuns(v, t); });
}

Result<RunSummary> Projections::Summary(const RunId& run) const {
  return impl_->Read<RunSummary>(kRunsName, [&](const ReadView& v, const Table& t) -> Result<RunSummary> {
    REWIND_ASSIGN_OR_RETURN(std::optional<RunSummary> s, ReadSummary(v, t, run));
    if (!s) return Err(Code::kNotFound, "run " + run.ToString() + " is unknown");
    return std::move(*s);
  });
}

Result<std::vector<StepStats>> Projections::Stats(const std::string& workflow,
                                                  const std::optional<std::string>& tenant) const {
  return impl_->Read<std::vector<StepStats>>(
      kStepStatsName, [&](const ReadView& v, const Table& t) { return ReadStepStats(v, t, workflow, tenant); });
}

Result<std::vector<AuditEntry>> Projections::Audit(const AuditQuery& query) const {
  return impl_->Read<std::vector<AuditEntry>>(
      kAuditName, [&](const ReadView& v, const Table& t) { return ReadAudit(v, t, query); });
}

Result<RunState> Projections::StateAt(const RunId& run, std::uint64_t seq) const {
  return impl_->StateAt(run, seq);
}

}  // namespace rwd
