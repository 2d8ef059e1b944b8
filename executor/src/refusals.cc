#include "rewind/executor/refusals.h"

#include <nlohmann/json.hpp>

#include "rewind/base/bytes.h"
#include "rewind/journal/hash.h"

namespace rwd {
namespace {

using nlohmann::json;

Bytes Key(std::uint64_t number) {
  Bytes key(8);
  for (int i = 0; i < 8; ++i) key[i] = static_cast<std::uint8_t>(number >> (56 - 8 * i));
  return key;
}

std::uint64_t NumberOf(ByteView key) {
  std::uint64_t n = 0;
  for (std::uint8_t b : key) n = (n << 8) | b;
  return n;
}

Status Damaged(std::uint64_t number, const std::string& what) {
  return Status(Code::kCorruption, "refusal " + std::to_string(number) + " of table '" + kRefusalsTable + "' " + what);
}

Result<Refusal> Parse(std::uint64_t number, ByteView value) {
  const json j = json::parse(value.begin(), value.end(), nullptr,
                             /*allow_exceptions=*/false);
  auto text = [&](const char* name) -> const json* {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? &*it : nullptr;
  };
  Refusal r;
  for (const auto& [name, field] : {std::pair{"subject", &r.subject},
                                    {"actor_tenant", &r.actor_tenant},
                                    {"action", &r.action},
                                    {"run_tenant", &r.run_tenant},
                                    {"workflow", &r.workflow},
                                    {"reason", &r.reason},
                                    {"prev", &r.prev}}) {
    if (!j.is_object() || text(name) == nullptr) return Err(Damaged(number, std::string("has no \"") + name + "\""));
    *field = text(name)->get<std::string>();
  }
  if (!j.contains("n") || !j["n"].is_number_unsigned() || j["n"].get<std::uint64_t>() != number) {
    return Err(Damaged(number, "does not carry its own number"));
  }
  if (!j.contains("unix_us") || !j["unix_us"].is_number_integer()) return Err(Damaged(number, "has no time"));
  r.number = number;
  r.unix_us = j["unix_us"].get<std::int64_t>();
  if (!j.contains("run")) return Err(Damaged(number, "has no \"run\""));
  if (!j["run"].is_null()) {
    auto run = RunId::Parse(j["run"].is_string() ? j["run"].get<std::string>() : std::string());
    if (!run.has_value()) return Err(Damaged(number, "names no run id"));
    r.run = *run;
  }
  return r;
}

// The table, or nullopt when the journal has none (nothing was refused).
Result<std::optional<Table>> Open(Journal& journal) {
  auto table = journal.OpenTable(kRefusalsTable);
  if (!table.has_value() && table.error().code() == Code::kNotFound) return std::optional<Table>();
  if (!table.has_value()) return Err(table.error());
  return std::optional<Table>(*table);
}

bool Matches(const Refusal& r, const RefusalQuery& q) {
  if (q.tenant && r.actor_tenant != *q.tenant && r.run_tenant != *q.tenant) return false;
  if (q.run && r.run != q.run) return false;
  if (q.subject && r.subject != *q.subject) return false;
  return true;
}

}  // namespace

std::string RefusalJson(const Refusal& r) {
  return json{{"n", r.number},
              {"unix_us", r.unix_us},
              {"subject", r.subject},
              {"actor_tenant", r.actor_tenant},
              {"action", r.action},
              {"run", r.run ? json(r.run->ToString()) : json(nullptr)},
              {"run_tenant", r.run_tenant},
              {"workflow", r.workflow},
              {"reason", r.reason},
              {"prev", r.prev}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

Status AppendRefusal(WriteView& txn, const Table& table, Refusal refusal) {
  REWIND_ASSIGN_OR_RETURN(TableCursor cursor, txn.Cursor(table));
  REWIND_ASSIGN_OR_RETURN(bool any, cursor.Last());
  refusal.number = 1;
  refusal.prev.clear();
  if (any) {
    const std::uint64_t last = NumberOf(cursor.key());
    if (auto before = Parse(last, cursor.value()); !before.has_value()) return before.error();
    refusal.number = last + 1;
    refusal.prev = HexEncode(Sha256(cursor.value()));
  }
  const std::string value = RefusalJson(refusal);
  return txn.Put(table, Key(refusal.number), AsBytes(value));
}

Result<std::vector<Refusal>> ReadRefusals(Journal& journal, const RefusalQuery& query) {
  REWIND_ASSIGN_OR_RETURN(std::optional<Table> table, Open(journal));
  std::vector<Refusal> out;
  if (!table) return out;
  const Status read = journal.View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(*table));
    Result<bool> at = query.before == 0 ? cursor.Last() : cursor.SeekAtOrBefore(Key(query.before - 1));
    for (; at.has_value() && *at && out.size() < query.limit; at = cursor.Prev()) {
      REWIND_ASSIGN_OR_RETURN(Refusal r, Parse(NumberOf(cursor.key()), cursor.value()));
      if (Matches(r, query)) out.push_back(std::move(r));
    }
    return at.has_value() ? Status::Ok() : at.error();
  });
  if (!read.ok()) return Err(read);
  return out;
}

Result<std::uint64_t> VerifyRefusals(Journal& journal) {
  REWIND_ASSIGN_OR_RETURN(std::optional<Table> table, Open(journal));
  if (!table) return std::uint64_t{0};
  std::uint64_t count = 0;
  const Status checked = journal.View([&](const ReadView& view) -> Status {
    REWIND_ASSIGN_OR_RETURN(TableCursor cursor, view.Cursor(*table));
    std::string prev;
    Result<bool> at = cursor.First();
    for (; at.has_value() && *at; at = cursor.Next()) {
      const std::uint64_t number = NumberOf(cursor.key());
      if (cursor.key().size() != 8 || number != count + 1) {
        return Damaged(count + 1, "is missing (the entries are not numbered densely from 1)");
      }
      REWIND_ASSIGN_OR_RETURN(Refusal r, Parse(number, cursor.value()));
      if (r.prev != prev) return Damaged(number, "does not name the hash of the refusal before it");
      prev = HexEncode(Sha256(cursor.value()));
      ++count;
    }
    return at.has_value() ? Status::Ok() : at.error();
  });
  if (!checked.ok()) return Err(checked);
  return count;
}

}  // namespace rwd
