#include "projections/src/slot.h"

#include <xxhash.h>

#include <cstring>

namespace rwd::projections_internal {
namespace {

constexpr std::size_t kHeaderSize = 40;
constexpr char kMagic[4] = {'R', 'W', 'P', 'S'};
constexpr std::uint16_t kHeaderFormat = 1;

void PutLe(std::uint8_t* p, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
std::uint64_t GetLe(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::string SlotTableName(std::string_view projection, int slot) {
  return std::string(kSlotTablePrefix) + std::string(projection) + "." + std::to_string(slot);
}

Bytes EncodeSlotHeader(const SlotHeader& header) {
  Bytes out(kHeaderSize, 0);
  std::memcpy(out.data(), kMagic, 4);
  PutLe(out.data() + 4, kHeaderFormat, 2);
  out[6] = static_cast<std::uint8_t>(header.role);
  PutLe(out.data() + 8, header.version, 4);
  PutLe(out.data() + 16, header.config, 8);
  PutLe(out.data() + 24, header.checkpoint, 8);
  PutLe(out.data() + 32, header.checkpoint_sum, 8);
  return out;
}

Result<SlotHeader> DecodeSlotHeader(ByteView bytes, std::string_view table) {
  auto bad = [&](std::string_view why) {
    return Err(Code::kCorruption, "projection table '" + std::string(table) + "': " + std::string(why));
  };
  if (bytes.size() != kHeaderSize || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return bad("its header is not a slot header");
  }
  if (GetLe(bytes.data() + 4, 2) != kHeaderFormat) return bad("its header has an unknown format");
  if (bytes[6] > static_cast<std::uint8_t>(SlotRole::kBuilding)) return bad("its header has an unknown role");
  SlotHeader h;
  h.role = static_cast<SlotRole>(bytes[6]);
  h.version = static_cast<std::uint32_t>(GetLe(bytes.data() + 8, 4));
  h.config = GetLe(bytes.data() + 16, 8);
  h.checkpoint = GetLe(bytes.data() + 24, 8);
  h.checkpoint_sum = GetLe(bytes.data() + 32, 8);
  return h;
}

Result<SlotHeader> ReadSlotHeader(const ReadView& view, const Table& table) {
  REWIND_ASSIGN_OR_RETURN(std::optional<ByteView> bytes, view.Get(table, kSlotHeaderKey));
  if (!bytes) return SlotHeader{};
  return DecodeSlotHeader(*bytes, table.name());
}

Status WriteSlotHeader(WriteView& txn, const Table& table, const SlotHeader& header) {
  return txn.Put(table, kSlotHeaderKey, EncodeSlotHeader(header));
}


}  // namespace rwd::projections_internal
