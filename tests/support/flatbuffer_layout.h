// Just enough of the FlatBuffers layout for tests to damage a field of an
// encoded buffer in place. Little-endian throughout: an offset field holds the
// u32 distance forward to its target; the buffer starts with the root table's
// offset; a table starts with an i32 distance back to its vtable, which holds
// two u16 sizes and then one u16 offset per field from the table's start (our
// encoders write every scalar, so every scalar field has an entry).
#pragma once

#include <cstddef>
#include <cstdint>

#include "rewind/base/bytes.h"

namespace rwd::test::fb_layout {

inline std::uint32_t U32(const Bytes& b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v |= std::uint32_t{b[at + i]} << (8 * i);
  return v;
}
inline void PutLe(Bytes& b, std::size_t at, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void PutU16(Bytes& b, std::size_t at, std::uint16_t v) { PutLe(b, at, v, 2); }
inline void PutU32(Bytes& b, std::size_t at, std::uint32_t v) { PutLe(b, at, v, 4); }
inline void PutU64(Bytes& b, std::size_t at, std::uint64_t v) { PutLe(b, at, v, 8); }

// Follows the offset stored at `at`.
inline std::size_t Deref(const Bytes& b, std::size_t at) { return at + U32(b, at); }
inline std::size_t Root(const Bytes& b) { return Deref(b, 0); }

// Where field number `field` of the table at `table` is stored.
inline std::size_t Field(const Bytes& b, std::size_t table, std::size_t field) {
  const std::size_t vtable = table - static_cast<std::size_t>(static_cast<std::int32_t>(U32(b, table)));
  const std::size_t entry = vtable + 4 + 2 * field;
  return table + (b[entry] | (std::size_t{b[entry + 1]} << 8));
}

// The first element of the vector in field `field` of `table`.
inline std::size_t FirstElement(const Bytes& b, std::size_t table, std::size_t field) {
  return Deref(b, Field(b, table, field)) + 4;
}
// The table of element `i` of the vector of tables in field `field` of `table`.
inline std::size_t Element(const Bytes& b, std::size_t table, std::size_t field, std::size_t i) {
  return Deref(b, FirstElement(b, table, field) + 4 * i);
}

}  // namespace rwd::test::fb_layout
