#include "rewind/inspect/event_json.h"

#include <array>
#include <limits>
#include <type_traits>
#include <utility>

#include "rewind/base/base64.h"
#include "rewind/journal/hash.h"
#include "rewind/schemas/event_fields.h"

namespace rwd::inspect {
namespace {

using nlohmann::json;
using schema_fields::Fields;
using schema_fields::Table;

// ---- names ----

template <typename E>
struct EnumNames;
template <>
struct EnumNames<StepKind> {
  static constexpr const auto& kNames = kStepKindNames;  // the schema's vocabulary (events.h)
};
template <>
struct EnumNames<PauseReason> {
  static constexpr const auto& kNames = kPauseReasonNames;
};
template <>
struct EnumNames<ActorKind> {
  static constexpr const auto& kNames = kActorKindNames;
};

template <typename E>
std::string_view EnumName(E e) {
  const auto i = static_cast<std::size_t>(e);
  return i < EnumNames<E>::kNames.size() ? EnumNames<E>::kNames[i] : std::string_view("unknown");
}

// ---- bytes ----

// Valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF);
// `text` also refuses control characters other than \t, \n and \r.
bool IsUtf8(ByteView b, bool text) {
  for (std::size_t i = 0; i < b.size();) {
    const std::uint8_t c = b[i];
    if (c < 0x80) {
      if (text && ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)) return false;
      ++i;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 3, cp = c & 0x07;
    else return false;
    if (i + n >= b.size()) return false;  // cut short
    for (std::size_t k = 1; k <= n; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (text && cp < 0xA0) return false;  // C1 controls
    i += n + 1;
  }
  return true;
}

Result<Bytes> FromBase64(std::string_view s, const std::string& where) {
  auto out = Base64Decode(s);
  if (!out) return Err(Code::kInvalidArgument, where + ": not base64");
  return std::move(*out);
}

// ---- writing ----

struct Writer {
  json& out;
  template <typename F>
  void operator()(const char* name, const F& f) {
    out[name] = ToJson(f);
  }

  template <typename F>
  static json ToJson(const F& f) {
    if constexpr (std::is_same_v<F, Bytes>) {
      return BytesJson(f);
    } else if constexpr (std::is_same_v<F, std::string>) {
      return StringJson(f);
    } else if constexpr (std::is_same_v<F, RunId>) {
      return f.ToString();
    } else if constexpr (std::is_enum_v<F>) {
      return std::string(EnumName(f));
    } else if constexpr (Table<F>) {
      json o = json::object();
      Writer w{o};
      Fields(w, f);
      return o;
    } else if constexpr (requires { f.begin(); } && !std::is_same_v<F, std::string>) {
      json a = json::array();
      for (const auto& x : f) a.push_back(ToJson(x));
      return a;
    } else {
      return f;
    }
  }
};

// ---- reading ----

struct Reader {
  const json& in;
  std::string where;
  Status status;
  std::size_t seen = 0;

  template <typename F>
  void operator()(const char* name, F& f) {
    if (!status.ok()) return;
    const std::string at = where.empty() ? name : where + "." + name;
    auto it = in.find(name);
    if (it == in.end()) {
      // Added with schema version 2: documents of earlier builds lack it.
      if (std::string_view(name) == "definition_stored") return;
      status = Status(Code::kInvalidArgument, at + ": missing");
      return;
    }
    ++seen;
    status = FromJson(*it, f, at);
  }

  static Status Wrong(const std::string& at, std::string_view expected) {
    return Status(Code::kInvalidArgument, at + ": expected " + std::string(expected));
  }

  template <typename F>
  static Status FromJson(const json& j, F& f, const std::string& at) {
    if constexpr (std::is_same_v<F, bool>) {
      if (!j.is_boolean()) return Wrong(at, "true or false");
      f = j.get<bool>();
    } else if constexpr (std::is_same_v<F, double>) {
      if (!j.is_number()) return Wrong(at, "a number");
      f = j.get<double>();
    } else if constexpr (std::is_integral_v<F>) {
      if (!j.is_number_integer()) return Wrong(at, "an integer");
      if (j.is_number_unsigned()) {
        const auto v = j.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<F>::max())) return Wrong(at, "a smaller number");
        f = static_cast<F>(v);
      } else {
        const auto v = j.get<std::int64_t>();
        if (v < static_cast<std::int64_t>(std::numeric_limits<F>::min()) ||
            (v > 0 && static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<F>::max()))) {
          return Wrong(at, "a number in range");
        }
        f = static_cast<F>(v);
      }
    } else if constexpr (std::is_same_v<F, std::string> || std::is_same_v<F, Bytes>) {
      // Text as a string, anything else as base64: one spelling per value.
      constexpr bool kText = std::is_same_v<F, Bytes>;
      if (j.is_string()) {
        const auto& s = j.get_ref<const std::string&>();
        f.assign(s.begin(), s.end());
        if (!IsUtf8(AsBytes(s), kText)) return Wrong(at, "text, or {\"base64\": ...} for anything else");
      } else if (j.is_object() && j.size() == 1 && j.contains("base64") && j["base64"].is_string()) {
        auto bytes = FromBase64(j["base64"].get_ref<const std::string&>(), at);
        if (!bytes.has_value()) return bytes.error();
        if (IsUtf8(*bytes, kText)) return Wrong(at, "a string for text");
        f.assign(bytes->begin(), bytes->end());
      } else {
        return Wrong(at, "a string or {\"base64\": ...}");
      }
    } else if constexpr (std::is_same_v<F, RunId>) {
      if (!j.is_string()) return Wrong(at, "a run id");
      auto id = RunId::Parse(j.get_ref<const std::string&>());
      if (!id.has_value() || id->ToString() != j.get_ref<const std::string&>()) return Wrong(at, "32 lowercase hex digits");
      f = *id;
    } else if constexpr (std::is_enum_v<F>) {
      if (!j.is_string()) return Wrong(at, "a name");
      const auto& names = EnumNames<F>::kNames;
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == j.get_ref<const std::string&>()) {
          f = static_cast<F>(i);
          return Status::Ok();
        }
      }
      return Wrong(at, "one of the names of its kind");
    } else if constexpr (Table<F>) {
      return ReadTable(j, f, at);
    } else if constexpr (std::is_same_v<F, StepDefs>) {
      std::vector<StepDef> steps;
      REWIND_RETURN_IF_ERROR(FromJson(j, steps, at));
      f = std::move(steps);
    } else {  // a vector
      if (!j.is_array()) return Wrong(at, "an array");
      f.clear();
      f.resize(j.size());
      for (std::size_t i = 0; i < j.size(); ++i) {
        REWIND_RETURN_IF_ERROR(FromJson(j[i], f[i], at + "[" + std::to_string(i) + "]"));
      }
    }
    return Status::Ok();
  }

  template <typename T>
  static Status ReadTable(const json& j, T& t, const std::string& at) {
    if (!j.is_object()) return Wrong(at.empty() ? "event" : at, "an object");
    Reader r{j, at};
    Fields(r, t);
    REWIND_RETURN_IF_ERROR(r.status);
    if (r.seen != j.size()) {
      return Status(Code::kInvalidArgument, (at.empty() ? "body" : at) + ": has fields it should not have");
    }
    return Status::Ok();
  }
};

template <std::size_t... I>
EventBody MakeBody(std::size_t index, std::index_sequence<I...>) {
  EventBody body;
  ((I == index ? (body.template emplace<I>(), 0) : 0), ...);
  return body;
}

}  // namespace

json BytesJson(ByteView bytes) {
  if (IsUtf8(bytes, /*text=*/true)) return std::string(bytes.begin(), bytes.end());
  return json{{"base64", Base64Encode(bytes)}};
}


json StringJson(const std::string& s) {
  if (IsUtf8(AsBytes(s), /*text=*/false)) return s;
  return json{{"base64", Base64Encode(AsBytes(s))}};
}

json EventJson(const Event& event) {
  json out = json::object();
  out["type"] = std::string(EventTypeName(event.body));
  out["unix_us"] = event.unix_us;
  out["schema_version"] = event.schema_version;
  if (event.actor.has_value()) {
    out["actor"] = {{"kind", std::string(EnumName(event.actor->kind))},
                    {"subject", StringJson(event.actor->subject)},
                    {"tenant", StringJson(event.actor->tenant)}};
  } else {
    out["actor"] = nullptr;
  }
  out["body"] = std::visit([](const auto& b) { return Writer::ToJson(b); }, event.body);
  return out;
}

json RecordJson(const EventRecord& r, const Event& e) {
  json j{{"run_id", r.run.ToString()},
         {"seq", r.seq},
         {"position", r.position},
         {"prev_hash", HexEncode(r.prev_hash())},
         {"hash", HexEncode(r.hash())}};
  j.update(EventJson(e));
  return j;
}

Result<Event> EventFromJson(const json& j) {
  auto wrong = [](const std::string& what) { return Err(Code::kInvalidArgument, what); };
  if (!j.is_object()) return wrong("an event is a JSON object");
  for (const char* field : {"type", "unix_us", "schema_version", "actor", "body"}) {
    if (!j.contains(field)) return wrong(std::string(field) + ": missing");
  }
  if (j.size() != 5) return wrong("event: has fields it should not have");
  Event e;
  REWIND_RETURN_IF_ERROR(Reader::FromJson(j["unix_us"], e.unix_us, "unix_us"));
  REWIND_RETURN_IF_ERROR(Reader::FromJson(j["schema_version"], e.schema_version, "schema_version"));
  if (!j["actor"].is_null()) {
    const json& a = j["actor"];
    if (!a.is_object() || a.size() != 3) return wrong("actor: expected null or {kind, subject, tenant}");
    Actor actor;
    for (const char* field : {"kind", "subject", "tenant"}) {
      if (!a.contains(field)) return wrong(std::string("actor.") + field + ": missing");
    }
    REWIND_RETURN_IF_ERROR(Reader::FromJson(a["kind"], actor.kind, "actor.kind"));
    REWIND_RETURN_IF_ERROR(Reader::FromJson(a["subject"], actor.subject, "actor.subject"));
    REWIND_RETURN_IF_ERROR(Reader::FromJson(a["tenant"], actor.tenant, "actor.tenant"));
    e.actor = std::move(actor);
  }
  if (!j["type"].is_string()) return wrong("type: expected a string");
  const auto& type = j["type"].get_ref<const std::string&>();
  constexpr std::size_t kTypes = std::variant_size_v<EventBody>;
  std::size_t index = 0;
  for (; index < kTypes; ++index) {
    if (EventTypeName(MakeBody(index, std::make_index_sequence<kTypes>())) == type) break;
  }
  if (index == kTypes) return wrong("type: '" + type + "' is no event type");
  e.body = MakeBody(index, std::make_index_sequence<kTypes>());
  REWIND_RETURN_IF_ERROR(std::visit([&](auto& b) { return Reader::ReadTable(j["body"], b, "body"); }, e.body));
  return e;
}

}  // namespace rwd::inspect
