// The raw contents of projection tables, for byte-for-byte comparisons of
// projections maintained event by event with the same projections rebuilt.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>

#include "projections/src/slot.h"
#include "rewind/journal/journal.h"
#include "rewind/journal/tables.h"
#include "rewind/projections/projections.h"
#include "tests/support/matchers.h"

namespace rwd::test {

// Every entry of the active slot of projection `name` (header included), or
// an empty map when none is active.
inline std::map<Bytes, Bytes> DumpActive(Journal& journal, std::string_view name) {
  std::map<Bytes, Bytes> out;
  for (int slot = 0; slot < 2; ++slot) {
    auto table = journal.OpenTable(projections_internal::SlotTableName(name, slot));
    if (!table.has_value()) continue;
    std::map<Bytes, Bytes> entries;
    bool active = false;
    EXPECT_THAT(journal.View([&](const ReadView& view) -> Status {
      REWIND_ASSIGN_OR_RETURN(auto header, projections_internal::ReadSlotHeader(view, *table));
      active = header.role == projections_internal::SlotRole::kActive;
      REWIND_ASSIGN_OR_RETURN(TableCursor c, view.Cursor(*table));
      for (auto at = c.First(); at.has_value() && *at; at = c.Next()) {
        entries.emplace(Bytes(c.key().begin(), c.key().end()), Bytes(c.value().begin(), c.value().end()));
      }
      return Status::Ok();
    }),
                IsOk());
    if (active) return entries;
  }
  return out;
}

// Every built-in projection's DumpActive, by projection name.
using ProjectionTables = std::map<std::string, std::map<Bytes, Bytes>>;

inline ProjectionTables DumpProjections(Journal& journal) {
  ProjectionTables out;
  for (const std::string& name : Projections::Names()) out[name] = DumpActive(journal, name);
  return out;
}

}  // namespace rwd::test
