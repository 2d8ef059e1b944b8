#include "rewind/schemas/describe.h"

#include <algorithm>
#include <sstream>
#include <type_traits>

#include "rewind/schemas/event_fields.h"

namespace rwd {
namespace {

using schema_fields::Fields;
using schema_fields::Table;

template <typename E>
std::string_view EnumText(E value) {
  if constexpr (std::is_same_v<E, StepKind>) {
    return StepKindName(value);
  } else if constexpr (std::is_same_v<E, PauseReason>) {
    return PauseReasonName(value);
  } else {
    return ActorKindName(value);
  }
}

std::string Quoted(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Printable ASCII as up to 32 characters of text, anything else (hashes,
// binary payloads) as its first 8 bytes in hex.
std::string Preview(const Bytes& v) {
  const bool text = std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b >= 0x20 && b < 0x7f; });
  std::string shown;
  if (text) {
    shown.assign(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(v.size(), 32)));
    return "[" + std::to_string(v.size()) + "B \"" + shown + (v.size() > 32 ? "…\"]" : "\"]");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < v.size() && i < 8; ++i) {
    shown += kHex[v[i] >> 4];
    shown += kHex[v[i] & 15];
  }
  return "[" + std::to_string(v.size()) + "B 0x" + shown + (v.size() > 8 ? "…]" : "]");
}

// A workflow's steps as their ids, with the kind of each that is not code:
// [validate,approve(approval),ship].
std::string Steps(const StepDefs& steps) {
  std::string out = "[";
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i > 0) out += ',';
    out += steps[i].id;
    if (steps[i].kind != StepKind::kCode) out += "(" + std::string(StepKindName(steps[i].kind)) + ")";
  }
  return out + "]";
}

// Appends ` name=value` for each field of a table (event_fields.h): empty
// strings and bytes are left out, a nested table's fields are prefixed with
// its name (start.workflow=...), a list of tables is its count.
struct Line {
  std::string& out;
  std::string prefix;

  template <typename F>
  void operator()(const char* name, const F& f) {
    const std::string key = prefix + name;
    if constexpr (std::is_same_v<F, std::string>) {
      if (!f.empty()) Put(key, Quoted(f));
    } else if constexpr (std::is_same_v<F, Bytes>) {
      if (!f.empty()) Put(key, Preview(f));
    } else if constexpr (std::is_same_v<F, bool>) {
      Put(key, f ? "true" : "false");
    } else if constexpr (std::is_same_v<F, RunId>) {
      Put(key, f.ToString());
    } else if constexpr (std::is_enum_v<F>) {
      Put(key, EnumText(f));
    } else if constexpr (std::is_arithmetic_v<F>) {
      std::ostringstream number;
      number << f;
      Put(key, number.str());
    } else if constexpr (std::is_same_v<F, StepDefs>) {
      Put(key, Steps(f));
    } else if constexpr (Table<F>) {
      Line nested{out, key + "."};
      Fields(nested, f);
    } else {  // a list of tables or numbers: how many
      Put(key, std::to_string(f.size()));
    }
  }

  void Put(const std::string& key, std::string_view value) {
    out += ' ';
    out += key;
    out += '=';
    out += value;
  }
};

template <typename E, std::size_t N>
std::string_view NameIn(const std::array<std::string_view, N>& names, E value) {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : std::string_view("unknown");
}

}  // namespace

std::string_view StepKindName(StepKind kind) { return NameIn(kStepKindNames, kind); }
std::string_view PauseReasonName(PauseReason reason) { return NameIn(kPauseReasonNames, reason); }
std::string_view ActorKindName(ActorKind kind) { return NameIn(kActorKindNames, kind); }

std::string DescribeBody(const EventBody& body) {
  std::string out(EventTypeName(body));
  Line line{out, ""};
  std::visit([&](const auto& b) { Fields(line, b); }, body);
  return out;
}

std::string DescribeEvent(const Event& event) {
  if (!event.actor.has_value()) return DescribeBody(event.body);
  const Actor& a = *event.actor;
  std::string who(ActorKindName(a.kind));
  who += ':' + a.subject;
  if (!a.tenant.empty()) who += '@' + a.tenant;
  return "[" + who + "] " + DescribeBody(event.body);
}

}  // namespace rwd
