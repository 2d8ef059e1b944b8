// Slots: where a projection's table lives, and how far it is.
//
// Each projection owns two tables, "proj.<name>.0" and "proj.<name>.1". At
// most one slot is active (the one readers use); the other is empty or being
// rebuilt. Each table carries its own header under key 0x00, written in the
// same transaction as the data it describes:
//
//   offset size field
//        0    4 magic "RWPS"
//        4    2 header format (1), little-endian like every field
//        6    1 role: 0 empty, 1 active, 2 building
//        7    1 reserved (0)
//        8    4 projection version
//       12    4 reserved (0)
//       16    8 config (projection-specific, e.g. the snapshot interval)
//       24    8 checkpoint: the last global position applied (0: none)
//       32    8 XXH3-64 of the stored record at the checkpoint (0 for none)
//
// The record sum lets an open check that the checkpoint names the event the
// table followed, not merely a position that exists. A rebuild fills the
// other slot as "building" and, once it reaches the journal's end, makes it
// active and the old one empty in one transaction: readers see either table
// whole, never a half-built one.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rewind/base/bytes.h"
#include "rewind/base/status.h"
#include "rewind/journal/tables.h"

namespace rwd::projections_internal {

enum class SlotRole : std::uint8_t { kEmpty = 0, kActive = 1, kBuilding = 2 };

struct SlotHeader {
  SlotRole role = SlotRole::kEmpty;
  std::uint32_t version = 0;
  std::uint64_t config = 0;
  std::uint64_t checkpoint = 0;
  std::uint64_t checkpoint_sum = 0;
  friend bool operator==(const SlotHeader&, const SlotHeader&) = default;
};

inline constexpr std::array<std::uint8_t, 1> kSlotHeaderKey = {0x00};

inline constexpr std::string_view kSlotTablePrefix = "proj.";
std::string SlotTableName(std::string_view projection, int slot);

Bytes EncodeSlotHeader(const SlotHeader& header);
// Corruption naming `table` when the bytes are not a slot header of format 1.
Result<SlotHeader> DecodeSlotHeader(ByteView bytes, std::string_view table);

// The table's header; an empty header when the table has none.
Result<SlotHeader> ReadSlotHeader(const ReadView& view, const Table& table);
Status WriteSlotHeader(WriteView& txn, const Table& table, const SlotHeader& header);

}  // namespace rwd::projections_internal
