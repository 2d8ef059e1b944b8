// audit: what people did to runs.
//
// Keys: 'p' position → AuditEntry (read_models.fbs Audit), and index entries
// with empty values, all ending in the position (u64 big-endian):
//   'r' run position;  'a' lp(actor) position;  't' lp(tenant) position
#include <algorithm>

#include "projections/src/builtins.h"
#include "projections/src/keys.h"
#include "projections/src/read_model_codec.h"

namespace rwd::projections_internal {
namespace {

Bytes EntryKey(std::uint64_t position) { return KeyBuilder('p').U64(position).Take(); }

std::string StepId(const RunState& state, std::uint32_t step) {
  return step < state.definition->steps.size() ? state.definition->steps[step].id : std::string();
}

// An approval's data as the entry's detail: the note itself when it is text
// (no control characters; at most kMaxAuditNoteBytes, cut at a character
// boundary), else its size.
std::string NoteOf(const Bytes& data) {
  const bool text = std::none_of(data.begin(), data.end(), [](std::uint8_t b) { return b < 0x20 || b == 0x7F; });
  if (!text) return std::to_string(data.size()) + " bytes of data";
  std::size_t n = std::min(data.size(), kMaxAuditNoteBytes);
  while (n < data.size() && n > 0 && (data[n] & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
  return std::string(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
}

// The audit entry an event makes, if it records a person's (or a service's)
// action on a run.
std::optional<AuditEntry> EntryOf(const Change& c) {
  const RunState& state = c.state;
  AuditEntry a;
  if (const auto* b = std::get_if<ResumeRequested>(&c.event.body)) {
    a.action = AuditAction::kResume;
    a.step = StepId(state, b->from_step);
    a.detail = b->reason;
  } else if (const auto* f = std::get_if<RunForked>(&c.event.body)) {
    a.action = AuditAction::kFork;
    a.step = StepId(state, f->from_step);
    a.detail = "forked from run " + f->parent_run.ToString() + " at seq " + std::to_string(f->parent_seq);
  } else if (const auto* d = std::get_if<ApprovalDecided>(&c.event.body)) {
    a.action = d->approved ? AuditAction::kApprove : AuditAction::kReject;
    a.step = StepId(state, d->step);
    if (!d->data.empty()) a.detail = NoteOf(d->data);
  } else if (const auto* x = std::get_if<CancelRequested>(&c.event.body)) {
    a.action = AuditAction::kCancel;
    a.detail = x->reason;
  } else if (const auto* s = std::get_if<SignalReceived>(&c.event.body)) {
    a.action = AuditAction::kSignal;
    a.detail = s->name;
  } else if (const auto* p = std::get_if<RunPaused>(&c.event.body); p && p->reason == PauseReason::kManual) {
    a.action = AuditAction::kPause;
    a.detail = p->message;
  } else {
    return std::nullopt;
  }
  a.position = c.record.position;
  a.run = c.record.run;
  a.seq = c.record.seq;
  a.unix_us = c.event.unix_us;
  if (c.event.actor) {
    a.actor = c.event.actor->subject;
    a.actor_tenant = c.event.actor->tenant;
  }
  a.tenant = state.definition->tenant;
  return a;
}

class AuditProjection final : public Projection {
 public:
  std::string_view name() const override { return kAuditName; }
  std::uint32_t version() const override { return 2; }  // 2: approvals' notes

  Status Apply(WriteView& txn, const Table& table, const Change& change) override {
    const std::optional<AuditEntry> entry = EntryOf(change);
    if (!entry) return Status::Ok();
    const std::uint64_t pos = entry->position;
    REWIND_RETURN_IF_ERROR(txn.Put(table, EntryKey(pos), EncodeAudit(*entry)));
    REWIND_RETURN_IF_ERROR(txn.Put(table, KeyBuilder('r').Run(entry->run).U64(pos).Take(), {}));
    REWIND_RETURN_IF_ERROR(txn.Put(table, KeyBuilder('a').Str(entry->actor).U64(pos).Take(), {}));
    return txn.Put(table, KeyBuilder('t').Str(entry->tenant).U64(pos).Take(), {});
  }
};

}  // namespace

Result<std::vector<AuditEntry>> ReadAudit(const ReadView& view, const Table& table, const AuditQuery& query) {
  // The narrowest index the query names; entries filter the rest.
  KeyBuilder prefix('p');
  if (query.run) {
    prefix = KeyBuilder('r');
    prefix.Run(*query.run);
  } else if (query.actor) {
    prefix = KeyBuilder('a');
    prefix.Str(*query.actor);
  } else if (query.tenant) {
    prefix = KeyBuilder('t');
    prefix.Str(*query.tenant);
  }
  const Bytes& p = prefix.bytes();
  Bytes from = KeyBuilder(prefix).U64(query.before_position == 0 ? ~std::uint64_t{0} : query.before_position - 1).Take();
  REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(table));
  std::vector<AuditEntry> out;
  Result<bool> at = cursor.SeekAtOrBefore(from);
  for (; at.has_value() && *at && HasPrefix(cursor.key(), p) && out.size() < query.limit; at = cursor.Prev()) {
    if (cursor.key().size() != p.size() + 8) {
      return Err(Code::kCorruption, "audit index of table '" + table.name() + "' holds a malformed key");
    }
    const std::uint64_t pos = ReadBe64(cursor.key().data() + p.size());
    ByteView value = cursor.value();
    std::optional<ByteView> stored;
    if (p[0] != 'p') {
      REWIND_ASSIGN_OR_RETURN(stored, view.Get(table, EntryKey(pos)));
      if (!stored) return Err(Code::kCorruption, "audit index names position " + std::to_string(pos) + " without an entry");
      value = *stored;
    }
    REWIND_ASSIGN_OR_RETURN(AuditEntry entry, DecodeAudit(value));
    if (query.run && entry.run != *query.run) continue;
    if (query.actor && entry.actor != *query.actor) continue;
    if (query.tenant && entry.tenant != *query.tenant) continue;
    out.push_back(std::move(entry));
  }
  if (!at.has_value()) return Err(at.error());
  return out;
}

std::unique_ptr<Projection> MakeAuditProjection() { return std::make_unique<AuditProjection>(); }

}  // namespace rwd::projections_internal
