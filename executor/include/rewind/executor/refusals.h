// Refusals: the durable record of the actions the engine refused — who (and
// as which tenant), what, on which run, why and when — kept where auditors
// look (`rewind audit`, GET /v1/tenants/{t}/audit, `journal-inspect
// refusals`), outside every run's history: a caller never writes into a run
// it may not touch.
//
// The engine records a refusal of every action but reading (Action::kRead,
// logged only), before the refused call returns: a permission the Authorizer
// denies, an invalid principal, a run of another tenant. A refusal that
// cannot be recorded (a full disk) is logged, and the call still refused.
//
// Stored in the journal's table "refusals" (tables.h), one entry each: the
// key is the refusal's number (u64 big-endian, dense from 1), the value its
// JSON text (RefusalJson). Each value names the SHA-256 of the value before
// it ("prev", hex; "" for the first), so an entry changed or taken out of
// the middle is found by VerifyRefusals, offline, as the events' chain is by
// `journal-inspect verify`.
//
// Thread-safety: free functions; journals and views as their own rules say.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rewind/base/run_id.h"
#include "rewind/base/status.h"
#include "rewind/executor/engine.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"

namespace rwd {

inline constexpr const char* kRefusalsTable = "refusals";

struct Refusal {
  std::uint64_t number = 0;  // dense from 1, in the order recorded
  std::int64_t unix_us = 0;
  std::string subject;       // who asked
  std::string actor_tenant;  // the tenant they acted as
  std::string action;        // ActionName: "resume", "approve", ...
  std::optional<RunId> run;  // none for a start
  // The tenant of the run acted on: the run's own when the engine knew it,
  // else the tenant a server request's path named.
  std::string run_tenant;
  std::string workflow;  // the workflow a start named
  std::string reason;    // the refusal's message
  std::string prev;      // hex SHA-256 of the entry before ("" for the first)
  friend bool operator==(const Refusal&, const Refusal&) = default;
};

// The entry's stored JSON text (keys sorted):
//   {"action", "actor_tenant", "n", "prev", "reason", "run" (or null),
//    "run_tenant", "subject", "unix_us", "workflow"}
std::string RefusalJson(const Refusal& refusal);

// Appends `refusal` (its number and prev are set here) to the table in the
// write transaction `txn`. Corruption when the last entry does not parse.
Status AppendRefusal(WriteView& txn, const Table& table, Refusal refusal);

struct RefusalQuery {
  // Refusals of this tenant's people, or of actions on this tenant's runs.
  std::optional<std::string> tenant;
  std::optional<RunId> run;
  std::optional<std::string> subject;
  std::size_t limit = 100;
  std::uint64_t before = 0;  // newest first from the refusal before this number (0: the newest)
};

// Newest first. A journal that has recorded no refusal has none (not an
// error). Corruption naming the entry that does not parse.
Result<std::vector<Refusal>> ReadRefusals(Journal& journal, const RefusalQuery& query);

// Checks every entry: numbers dense from 1, each value parses, and each
// names the hash of the one before. Returns how many there are; Corruption
// naming the first entry that fails.
Result<std::uint64_t> VerifyRefusals(Journal& journal);

}  // namespace rwd
