// Text helpers the command-line tools share: tables with columns sized to
// their contents, durations and numbers for people (times: rewind/base/time.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rwd::cli {

struct Column {
  const char* name;
  bool right = false;  // numbers
};

// `text` safe to print to a terminal: control characters (C0, DEL, and C1 as
// UTF-8) written as escapes — "\n", "\r", "\t", "\x1b", "\u009b" — so
// that no name, reason or output holding them can move the cursor, forge a
// line or send a terminal command. Everything else is kept as it is.
std::string Printable(std::string_view text);

// Columns two spaces apart, each as wide as its widest cell; the last one is
// not padded. Cells are printed Printable. Widths count bytes: cells are
// expected to be mostly ASCII.
std::string TextTable(const std::vector<Column>& columns, const std::vector<std::vector<std::string>>& rows);

// One line of at most `max` bytes (newlines and tabs become spaces, other
// control characters escapes as Printable writes them; cut at a UTF-8
// character boundary, ending in "...").
std::string Clip(std::string text, std::size_t max);

// "-" for an empty text.
std::string OrDash(const std::string& text);

// 850us, 1.2ms, 3.0s, 2.5min, 1.1h
std::string Duration(std::uint64_t us);

// 1,000,000
std::string Grouped(std::uint64_t n);

}  // namespace rwd::cli
