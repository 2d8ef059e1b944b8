// A budget for copying out of a verified FlatBuffer: valid FlatBuffers may
// reference one string, vector or table from many places, and a decoder makes
// one copy per reference, so a small input could expand without bound. Each
// codec copies against a budget of its input's size, sized so that whatever
// its own encoder writes always fits (the charges are documented per codec).
// For codec translation units only (it includes FlatBuffers).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <string>

#include "rewind/base/bytes.h"

namespace rwd::fb_decode {

class Budget {
 public:
  explicit Budget(std::size_t bytes) : left_(bytes) {}

  // Takes `n` bytes; false, and overrun() from then on, if fewer are left.
  bool Take(std::size_t n) {
    if (n > left_) {
      overrun_ = true;
      left_ = 0;
      return false;
    }
    left_ -= n;
    return true;
  }
  bool overrun() const { return overrun_; }

 private:
  std::size_t left_;
  bool overrun_ = false;
};

// Copies are empty once the budget is overrun; the decoder then answers
// Corruption whatever the checks that saw the empty copies said.
inline Bytes ToBytes(const flatbuffers::Vector<std::uint8_t>* v, Budget& budget) {
  if (v == nullptr || !budget.Take(v->size())) return Bytes();
  return Bytes(v->begin(), v->end());
}
inline std::string ToString(const flatbuffers::String* s, Budget& budget) {
  if (s == nullptr || !budget.Take(s->size())) return std::string();
  return s->str();
}

}  // namespace rwd::fb_decode
