#include "executor/src/text_tail.h"

namespace rwd::step_internal {

std::string Tail(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  std::size_t start = text.size();
  for (std::size_t lines = 0; start > 0; --start) {
    if (text[start - 1] == '\n' && ++lines == kTailLines) break;
  }
  if (text.size() - start > kTailBytes) {
    start = text.size() - kTailBytes;
    // Do not begin inside a UTF-8 sequence.
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
  }
  return std::string(text.substr(start));
}

std::string WithTail(std::string message, std::string_view text) {
  const std::string tail = Tail(text);
  return tail.empty() ? message : message + ": " + tail;
}

}  // namespace rwd::step_internal
