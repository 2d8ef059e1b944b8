#include "tools/common/text.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>

namespace rwd::cli {

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char buf[8];
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0xC2 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0x80) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(text[++i])));
      out += buf;  // a C1 control (U+0080..U+009F)
    } else if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    }
  }
  return out;
}

std::string TextTable(const std::vector<Column>& columns, const std::vector<std::vector<std::string>>& given) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(given.size());
  for (const auto& row : given) {
    std::vector<std::string>& cells = rows.emplace_back();
    for (const std::string& cell : row) cells.push_back(Printable(cell));
  }
  std::vector<std::size_t> width(columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i) width[i] = std::string_view(columns[i].name).size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(width[i] - cells[i].size(), ' ');
      if (i > 0) text += "  ";
      if (columns[i].right) {
        text += pad + cells[i];
      } else {
        text += cells[i];
        if (i + 1 < cells.size()) text += pad;
      }
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  std::vector<std::string> header;
  for (const Column& c : columns) header.emplace_back(c.name);
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

std::string Clip(std::string text, std::size_t max) {
  for (char& ch : text) {
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  }
  text = Printable(text);
  if (text.size() <= max) return text;
  std::size_t n = max - 3;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n) + "...";
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string Duration(std::uint64_t us) {
  if (us < 1000) return std::to_string(us) + "us";
  const double d = static_cast<double>(us);
  char buf[32];
  if (us < 1'000'000) {
    std::snprintf(buf, sizeof(buf), "%.1fms", d / 1e3);
  } else if (us < 60'000'000) {
    std::snprintf(buf, sizeof(buf), "%.1fs", d / 1e6);
  } else if (us < 3'600'000'000) {
    std::snprintf(buf, sizeof(buf), "%.1fmin", d / 60e6);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1fh", d / 3600e6);
  }
  return buf;
}

std::string Grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace rwd::cli
