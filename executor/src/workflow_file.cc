#include "rewind/executor/workflow_file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <system_error>
#include <vector>

#include "rewind/base/file.h"
#include "rewind/base/mutex.h"
#include "rewind/executor/http_step.h"
#include "rewind/executor/shell_step.h"

namespace rwd {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kKindCommand = "command";
constexpr std::string_view kKindHttp = "http";
// The handler names a code step's record carries: how to read its config.
constexpr std::string_view kShellHandler = "shell";
constexpr std::string_view kHttpHandler = "http";
constexpr std::size_t kMaxFileBytes = 16u << 20;
// Keeps due times (microseconds since the epoch) far from overflow.
constexpr std::uint64_t kMaxSleepMs = 100ull * 365 * 24 * 3600 * 1000;
constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

// ---------------------------------------------------------------------------
// Where things are in the text.

struct LineColumn {
  std::size_t line = 1;
  std::size_t column = 1;
};

LineColumn Locate(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  LineColumn lc;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      line_start = i + 1;
    }
  }
  lc.column = offset - line_start + 1;
  return lc;
}

// RFC 6901: "~" -> "~0", "/" -> "~1".
std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// RFC 6901: the inverse of PointerToken.
std::string UnescapeToken(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[++i] == '0' ? '~' : '/';
    } else {
      out += token[i];
    }
  }
  return out;
}

// Byte offsets of every value and object key of a document nlohmann accepted,
// by JSON pointer, and the first key repeated within one object. The values
// form a tree in which each member holds only its own key or index, not its
// whole pointer, so the index takes space and time linear in the text however
// deep or wide the document is; and an explicit stack, not recursion: nesting
// depth is the file's choice.
class PositionIndex {
 public:
  // A key that repeats an earlier one in its object: where, and the key.
  struct Duplicate {
    std::size_t offset = 0;
    std::string key;
  };

  explicit PositionIndex(std::string_view text) : text_(text) { Scan(); }

  // Offset of the value at `pointer`, else of its nearest ancestor.
  std::size_t Value(const std::string& pointer) const { return nodes_[Find(pointer).first].value; }
  // Offset of the key naming the member at `pointer`, else as Value().
  std::size_t Key(const std::string& pointer) const {
    const auto [node, found] = Find(pointer);
    return found && nodes_[node].key ? *nodes_[node].key : nodes_[node].value;
  }
  // The first member whose key repeats an earlier one.
  const std::optional<Duplicate>& duplicate() const { return duplicate_; }

 private:
  struct Node {
    std::size_t value = 0;
    std::optional<std::size_t> key;  // object members
  };
  struct Frame {
    bool object = false;
    std::size_t node = 0;
    std::size_t count = 0;
    std::set<std::string> keys;
  };

  // The node at `pointer` and true, else its nearest ancestor and false.
  std::pair<std::size_t, bool> Find(const std::string& pointer) const {
    std::size_t node = 0;
    for (std::size_t at = 0; at < pointer.size();) {  // pointer[at] == '/'
      const std::size_t end = std::min(pointer.find('/', at + 1), pointer.size());
      const auto it = children_.find({node, UnescapeToken(std::string_view(pointer).substr(at + 1, end - at - 1))});
      if (it == children_.end()) return {node, false};
      node = it->second;
      at = end;
    }
    return {node, true};
  }
  // A new member of `parent` named `token`; a repeated key names the later member.
  std::size_t AddChild(std::size_t parent, std::string token) {
    nodes_.emplace_back();
    children_.insert_or_assign({parent, std::move(token)}, nodes_.size() - 1);
    return nodes_.size() - 1;
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  void SkipString() {
    ++pos_;  // the opening quote
    while (!AtEnd() && text_[pos_] != '"') pos_ += text_[pos_] == '\\' ? 2 : 1;
    ++pos_;
  }
  // At a key: records it and returns the member's node.
  std::size_t ReadKey(Frame& frame) {
    const std::size_t start = pos_;
    SkipString();
    std::string key =
        Json::parse(text_.substr(start, std::min(pos_, text_.size()) - start), nullptr, false).get<std::string>();
    if (!frame.keys.insert(key).second && !duplicate_) duplicate_ = Duplicate{start, key};
    const std::size_t node = AddChild(frame.node, std::move(key));
    nodes_[node].key = start;
    SkipSpace();
    ++pos_;  // ':'
    return node;
  }
  void Scan() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // nlohmann skips a UTF-8 BOM too
    std::vector<Frame> stack;
    std::size_t node = 0;
    nodes_.emplace_back();  // the root
    bool want_value = true;
    for (;;) {
      SkipSpace();
      if (AtEnd()) return;
      const char c = text_[pos_];
      if (want_value) {
        nodes_[node].value = pos_;
        if (c == '{' || c == '[') {
          stack.push_back(Frame{c == '{', node, 0, {}});
          ++pos_;
          SkipSpace();
          if (!AtEnd() && (text_[pos_] == '}' || text_[pos_] == ']')) {
            ++pos_;
            stack.pop_back();
            want_value = false;
          } else {
            node = stack.back().object ? ReadKey(stack.back()) : AddChild(stack.back().node, "0");
            stack.back().count = 1;
          }
          continue;
        }
        if (c == '"') {
          SkipString();
        } else {
          while (!AtEnd() && std::string_view(",]} \t\n\r").find(text_[pos_]) == std::string_view::npos) ++pos_;
        }
        want_value = false;
        continue;
      }
      if (stack.empty()) return;
      ++pos_;  // ',' or the closing bracket
      if (c == ',') {
        SkipSpace();
        Frame& top = stack.back();
        node = top.object ? ReadKey(top) : AddChild(top.node, std::to_string(top.count));
        ++top.count;
        want_value = true;
      } else {
        stack.pop_back();
      }
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::vector<Node> nodes_;  // [0] is the root
  std::map<std::pair<std::size_t, std::string>, std::size_t> children_;  // (parent, key or index) -> node
  std::optional<Duplicate> duplicate_;
};

// ---------------------------------------------------------------------------
// Checking values. A Problem names the place (pointer, field path) and what is
// wrong; the caller turns it into a message.

// A place in the document: its pointer, and its field path within a step
// ("retry.max_attempts", "depends_on[1]") or the file.
struct Where {
  std::string pointer;
  std::string field;
  Where Member(std::string_view key) const {
    return Where{pointer + "/" + PointerToken(key), field.empty() ? std::string(key) : field + "." + std::string(key)};
  }
  Where Element(std::size_t i) const {
    return Where{pointer + "/" + std::to_string(i), field + "[" + std::to_string(i) + "]"};
  }
};

struct Problem {
  Where where;
  std::string what;
  bool at_key = false;  // point at the member's key rather than its value
};

template <typename T>
using Checked = std::expected<T, Problem>;

std::unexpected<Problem> Bad(const Where& where, std::string what, bool at_key = false) {
  return std::unexpected<Problem>(Problem{where, std::move(what), at_key});
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Unknown members of `object` are an error naming the first one in the text
// (and the known name it most resembles).
std::optional<Problem> UnknownMember(const Json& object, const Where& where, const PositionIndex* index,
                                     std::initializer_list<std::string_view> known) {
  std::optional<std::pair<std::size_t, std::string>> first;
  for (const auto& item : object.items()) {
    if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
    const std::size_t at = index != nullptr ? index->Key(where.Member(item.key()).pointer) : 0;
    if (!first || at < first->first) first = {at, item.key()};
  }
  if (!first) return std::nullopt;
  std::string what = "unknown field";
  std::string_view best;
  std::size_t best_distance = 3;  // suggest only close names
  for (std::string_view k : known) {
    const std::size_t d = EditDistance(first->second, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  if (!best.empty()) what += " (did you mean " + Quoted(best) + "?)";
  return Problem{where.Member(first->second), what, true};
}

const char* TypeName(const Json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  return "null";
}

Checked<std::string> String(const Json& v, const Where& where, bool allow_empty = false) {
  if (!v.is_string()) return Bad(where, std::string("must be a string, not ") + TypeName(v));
  const std::string& s = v.get_ref<const std::string&>();
  if (!allow_empty && s.empty()) return Bad(where, "must not be empty");
  if (s.find('\0') != std::string::npos) return Bad(where, "must not contain NUL characters");
  return s;
}

// A workflow name or a step id: a string of at most kMaxNameBytes, the limit
// of the names the read models are keyed by (ValidateDefinition's too).
Checked<std::string> Name(const Json& v, const Where& where) {
  auto s = String(v, where);
  if (s && s->size() > kMaxNameBytes) {
    return Bad(where, "must be at most " + std::to_string(kMaxNameBytes) + " bytes, not " + std::to_string(s->size()));
  }
  return s;
}

Checked<std::uint64_t> Integer(const Json& v, const Where& where, std::uint64_t min, std::uint64_t max) {
  if (!v.is_number()) return Bad(where, std::string("must be a number, not ") + TypeName(v));
  std::uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer()) {
    if (v.get<std::int64_t>() < 0) return Bad(where, "must not be negative");
  } else {
    // 3.0 and 1e3 are whole numbers too.
    const double d = v.get<double>();
    if (d < 0) return Bad(where, "must not be negative");
    if (d != std::floor(d)) return Bad(where, "must be a whole number");
    if (d > static_cast<double>(max)) return Bad(where, "must be at most " + std::to_string(max));
    n = static_cast<std::uint64_t>(d);
  }
  if (n < min) return Bad(where, "must be at least " + std::to_string(min));
  if (n > max) return Bad(where, "must be at most " + std::to_string(max));
  return n;
}

Checked<double> Real(const Json& v, const Where& where, double min, double max) {
  if (!v.is_number()) return Bad(where, std::string("must be a number, not ") + TypeName(v));
  const double d = v.get<double>();
  if (d < 0 && min >= 0) return Bad(where, "must not be negative");
  if (!std::isfinite(d) || d < min || d > max) {
    return Bad(where, "must be between " + Json(min).dump() + " and " + Json(max).dump());
  }
  return d;
}

// The "run" of a command step: a script or a non-empty argv.
Checked<ShellCommand> Run(const Json& v, const Where& where) {
  if (v.is_string()) {
    auto script = String(v, where);
    if (!script) return std::unexpected(script.error());
    return ShellCommand::Script(*script);
  }
  if (!v.is_array()) {
    return Bad(where, std::string("must be a string (a /bin/sh script) or an array of strings (argv), not ") +
                          TypeName(v));
  }
  if (v.empty()) return Bad(where, "must not be an empty array");
  ShellCommand command;
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto arg = String(v[i], where.Element(i), /*allow_empty=*/i > 0);
    if (!arg) return std::unexpected(arg.error());
    command.argv.push_back(*arg);
  }
  return command;
}

bool ValidEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Checked<std::map<std::string, std::string>> Env(const Json& v, const Where& where, const PositionIndex* index) {
  if (!v.is_object()) return Bad(where, std::string("must be an object, not ") + TypeName(v));
  // In text order, so the first bad entry is the one reported.
  std::vector<std::pair<std::size_t, std::string>> names;
  for (const auto& item : v.items()) {
    names.emplace_back(index != nullptr ? index->Key(where.Member(item.key()).pointer) : 0, item.key());
  }
  std::sort(names.begin(), names.end());
  std::map<std::string, std::string> env;
  for (const auto& [at, name] : names) {
    const Where w = where.Member(name);
    if (!ValidEnvName(name)) return Bad(w, "is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)", true);
    if (name.rfind("REWIND_", 0) == 0) return Bad(w, "REWIND_ variables are set by the engine", true);
    auto value = String(v[name], w, /*allow_empty=*/true);
    if (!value) return std::unexpected(value.error());
    env[name] = *value;
  }
  return env;
}

Checked<RetryPolicy> Retry(const Json& v, const Where& where, const PositionIndex* index) {
  if (!v.is_object()) return Bad(where, std::string("must be an object, not ") + TypeName(v));
  if (auto p = UnknownMember(v, where, index,
                             {"max_attempts", "initial_backoff_ms", "multiplier", "max_backoff_ms", "jitter"})) {
    return std::unexpected(*p);
  }
  RetryPolicy policy = kDefaultRetry;
  const auto u32 = [&](const char* key, std::uint64_t min, std::uint32_t* out) -> std::optional<Problem> {
    if (!v.contains(key)) return std::nullopt;
    auto n = Integer(v[key], where.Member(key), min, kMaxU32);
    if (!n) return n.error();
    *out = static_cast<std::uint32_t>(*n);
    return std::nullopt;
  };
  const auto real = [&](const char* key, double min, double max, double* out) -> std::optional<Problem> {
    if (!v.contains(key)) return std::nullopt;
    auto d = Real(v[key], where.Member(key), min, max);
    if (!d) return d.error();
    *out = *d;
    return std::nullopt;
  };
  if (auto p = u32("max_attempts", 1, &policy.max_attempts)) return std::unexpected(*p);
  if (auto p = u32("initial_backoff_ms", 0, &policy.initial_backoff_ms)) return std::unexpected(*p);
  if (auto p = real("multiplier", 1.0, 1e6, &policy.multiplier)) return std::unexpected(*p);
  if (auto p = u32("max_backoff_ms", 0, &policy.max_backoff_ms)) return std::unexpected(*p);
  if (auto p = real("jitter", 0.0, 1.0, &policy.jitter)) return std::unexpected(*p);
  return policy;
}

// The canonical record of a command: {"env":{...},"run":...}, compact, keys
// sorted (nlohmann's object is a std::map).
Bytes CommandConfig(const Json& run, const std::map<std::string, std::string>& env) {
  Json config = Json::object();
  config["env"] = Json(env);
  config["run"] = run;
  return ToBytes(config.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// The command a recorded config describes (the inverse of CommandConfig).
Checked<ShellCommand> CommandFromConfig(const Json& config) {
  const Where root{"", ""};
  if (!config.is_object()) return Bad(root, std::string("must be an object, not ") + TypeName(config));
  if (auto p = UnknownMember(config, root, nullptr, {"env", "run"})) return std::unexpected(*p);
  if (!config.contains("run")) return Bad(root.Member("run"), "is required");
  auto command = Run(config["run"], root.Member("run"));
  if (!command) return command;
  if (config.contains("env")) {
    auto env = Env(config["env"], root.Member("env"), nullptr);
    if (!env) return std::unexpected(env.error());
    command->env = std::move(*env);
  }
  return command;
}

// The canonical record of an http call: {"http":{"audience":...,"url":...}},
// compact, keys sorted, "audience" only when given.
Bytes HttpConfig(const HttpStepOptions& options) {
  Json http = Json::object();
  if (!options.audience.empty()) http["audience"] = options.audience;
  http["url"] = options.url;
  return ToBytes(Json{{"http", http}}.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// The "url" of an http step: a string ParseHttpUrl accepts.
Checked<std::string> Url(const Json& v, const Where& where) {
  auto url = String(v, where);
  if (!url) return url;
  if (auto parsed = ParseHttpUrl(*url); !parsed.has_value()) return Bad(where, parsed.error().message());
  return url;
}

// The call a recorded config describes (the inverse of HttpConfig).
Checked<HttpStepOptions> HttpFromConfig(const Json& config) {
  const Where root{"", ""};
  if (!config.is_object()) return Bad(root, std::string("must be an object, not ") + TypeName(config));
  if (auto p = UnknownMember(config, root, nullptr, {"http"})) return std::unexpected(*p);
  const Where at = root.Member("http");
  if (!config.contains("http")) return Bad(at, "is required");
  const Json& http = config["http"];
  if (!http.is_object()) return Bad(at, std::string("must be an object, not ") + TypeName(http));
  if (auto p = UnknownMember(http, at, nullptr, {"audience", "url"})) return std::unexpected(*p);
  if (!http.contains("url")) return Bad(at.Member("url"), "is required");
  HttpStepOptions options;
  auto url = Url(http["url"], at.Member("url"));
  if (!url) return std::unexpected(url.error());
  options.url = *url;
  if (http.contains("audience")) {
    auto audience = String(http["audience"], at.Member("audience"));
    if (!audience) return std::unexpected(audience.error());
    options.audience = *audience;
  }
  return options;
}

// ---------------------------------------------------------------------------
// The file.

// A file names kinds as the schema does (events.h), but calls its code
// steps, which run commands, "command" (and takes "code" as well), and has
// code steps of a second kind, "http".
StepKind KindOf(std::string_view name, bool* known) {
  *known = true;
  if (name == kKindCommand || name == kKindHttp) return StepKind::kCode;
  for (std::size_t i = 0; i < kStepKindNames.size(); ++i) {
    if (name == kStepKindNames[i]) return static_cast<StepKind>(i);
  }
  *known = false;
  return StepKind::kCode;
}

std::string_view KindName(StepKind kind) { return kind == StepKind::kCode ? kKindCommand : StepKindName(kind); }

// One step as the file says it.
struct FileStep {
  std::string label;  // "step 'charge'" or "step 3"
  Where where;        // the step object
  std::string id;
  StepKind kind = StepKind::kCode;
  bool http = false;     // a code step that calls a URL rather than runs a command
  HttpStepOptions call;  // http steps
  std::optional<std::vector<std::string>> depends_on;
  ShellCommand command;
  Json run;
  RetryPolicy retry = kDefaultRetry;
  std::uint32_t timeout_ms = 0;
  std::string signal;
  std::uint64_t sleep_ms = 0;
};

class FileParser {
 public:
  FileParser(std::string_view text, std::string_view source, const Json& doc)
      : text_(text), source_(source), doc_(doc), index_(text) {}

  Result<Workflow> Parse() {
    if (const auto& duplicate = index_.duplicate()) {
      return Err(ErrorAt(duplicate->offset, "", "key " + Quoted(duplicate->key) + " appears twice in one object"));
    }
    if (!doc_.is_object()) return Err(ErrorAt(0, "", "the workflow must be a JSON object"));
    const Where root{"", ""};
    if (auto p = UnknownMember(doc_, root, &index_, {"name", "version", "steps"})) return Err(Report(*p, ""));
    if (!doc_.contains("name")) return Err(Report(Problem{root, "field 'name' is required"}, ""));
    auto name = Name(doc_["name"], root.Member("name"));
    if (!name) return Err(Report(name.error(), ""));
    std::uint32_t version = 1;
    if (doc_.contains("version")) {
      auto v = Integer(doc_["version"], root.Member("version"), 1, kMaxU32);
      if (!v) return Err(Report(v.error(), ""));
      version = static_cast<std::uint32_t>(*v);
    }
    if (!doc_.contains("steps")) return Err(Report(Problem{root, "field 'steps' is required"}, ""));
    const Json& steps = doc_["steps"];
    const Where steps_at = root.Member("steps");
    if (!steps.is_array()) {
      return Err(Report(Problem{steps_at, std::string("must be an array, not ") + TypeName(steps)}, ""));
    }
    if (steps.empty()) return Err(Report(Problem{steps_at, "must list at least one step"}, ""));
    if (steps.size() > kMaxSteps) {
      return Err(Report(Problem{steps_at, "lists " + std::to_string(steps.size()) + " steps; the limit is " +
                                              std::to_string(kMaxSteps)},
                        ""));
    }

    std::vector<FileStep> parsed;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      FileStep step;
      step.where = Where{steps_at.Element(i).pointer, ""};
      step.label = "step " + std::to_string(i + 1);
      if (auto p = ParseStep(steps[i], &step)) return Err(Report(*p, step.label));
      parsed.push_back(std::move(step));
    }
    REWIND_RETURN_IF_ERROR(CheckGraph(parsed));
    return Build(*name, version, parsed);
  }

 private:
  // "<source>:<line>:<column>: <context>: <what>"
  Status ErrorAt(std::size_t offset, const std::string& context, const std::string& what) const {
    const LineColumn lc = Locate(text_, offset);
    return Status(Code::kInvalidArgument, std::string(source_) + ":" + std::to_string(lc.line) + ":" +
                                              std::to_string(lc.column) + ": " +
                                              (context.empty() ? "" : context + ": ") + what);
  }
  Status Report(const Problem& p, const std::string& step_label) const {
    std::string context = step_label;
    if (!p.where.field.empty()) {
      context += (context.empty() ? "" : ", ") + std::string("field ") + Quoted(p.where.field);
    }
    const std::size_t at = p.at_key ? index_.Key(p.where.pointer) : index_.Value(p.where.pointer);
    return ErrorAt(at, context, p.what);
  }

  std::optional<Problem> ParseStep(const Json& v, FileStep* step) {
    const Where& at = step->where;
    if (!v.is_object()) return Problem{at, std::string("must be an object, not ") + TypeName(v)};
    // Every message names the step by its id once it has a usable one.
    if (v.contains("id") && v["id"].is_string() && !v["id"].get_ref<const std::string&>().empty()) {
      step->label = "step " + Quoted(v["id"].get_ref<const std::string&>());
    }
    if (auto p = UnknownMember(v, at, &index_,
                               {"id", "kind", "run", "depends_on", "retry", "timeout_ms", "env", "signal", "sleep_ms",
                                "url", "audience"})) {
      return p;
    }
    if (!v.contains("id")) return Problem{at, "field 'id' is required"};
    auto id = Name(v["id"], at.Member("id"));
    if (!id) return id.error();
    step->id = *id;
    if (v.contains("kind")) {
      auto kind = String(v["kind"], at.Member("kind"));
      if (!kind) return kind.error();
      bool known = false;
      step->kind = KindOf(*kind, &known);
      step->http = *kind == kKindHttp;
      if (!known) {
        return Problem{at.Member("kind"), "unknown kind " + Quoted(*kind) +
                                              " (expected 'command', 'http', 'approval', 'signal' or 'sleep')"};
      }
    }
    if (v.contains("depends_on")) {
      const Json& deps = v["depends_on"];
      const Where dw = at.Member("depends_on");
      if (!deps.is_array()) return Problem{dw, std::string("must be an array of step ids, not ") + TypeName(deps)};
      step->depends_on.emplace();
      for (std::size_t i = 0; i < deps.size(); ++i) {
        auto dep = String(deps[i], dw.Element(i));
        if (!dep) return dep.error();
        step->depends_on->push_back(*dep);
      }
    }
    // Fields that belong to other kinds are errors, not ignored.
    const bool code = step->kind == StepKind::kCode;
    const std::string this_kind =
        " (this is a " + std::string(step->http ? kKindHttp : KindName(step->kind)) + " step)";
    for (const char* key : {"run", "env"}) {
      if ((!code || step->http) && v.contains(key)) {
        return Problem{at.Member(key), "only command steps have it" + this_kind, true};
      }
    }
    for (const char* key : {"retry", "timeout_ms"}) {
      if (!code && v.contains(key)) {
        return Problem{at.Member(key), "only command and http steps have it" + this_kind, true};
      }
    }
    for (const char* key : {"url", "audience"}) {
      if (!step->http && v.contains(key)) return Problem{at.Member(key), "only http steps have it" + this_kind, true};
    }
    if (step->kind != StepKind::kSignal && v.contains("signal")) {
      return Problem{at.Member("signal"), "only signal steps have it", true};
    }
    if (step->kind != StepKind::kSleep && v.contains("sleep_ms")) {
      return Problem{at.Member("sleep_ms"), "only sleep steps have it", true};
    }
    switch (step->kind) {
      case StepKind::kCode: {
        if (step->http) {
          if (auto p = ParseCall(v, step)) return p;
        } else {
          if (!v.contains("run")) return Problem{at, "field 'run' is required for a command step"};
          auto run = Run(v["run"], at.Member("run"));
          if (!run) return run.error();
          step->command = std::move(*run);
          step->run = v["run"];
          if (v.contains("env")) {
            auto env = Env(v["env"], at.Member("env"), &index_);
            if (!env) return env.error();
            step->command.env = std::move(*env);
          }
        }
        if (v.contains("retry")) {
          auto retry = Retry(v["retry"], at.Member("retry"), &index_);
          if (!retry) return retry.error();
          step->retry = *retry;
        }
        if (v.contains("timeout_ms")) {
          auto t = Integer(v["timeout_ms"], at.Member("timeout_ms"), 0, kMaxU32);
          if (!t) return t.error();
          step->timeout_ms = static_cast<std::uint32_t>(*t);
        }
        break;
      }
      case StepKind::kSignal: {
        step->signal = step->id;
        if (v.contains("signal")) {
          auto s = String(v["signal"], at.Member("signal"));
          if (!s) return s.error();
          step->signal = *s;
        }
        break;
      }
      case StepKind::kSleep: {
        if (!v.contains("sleep_ms")) return Problem{at, "field 'sleep_ms' is required for a sleep step"};
        auto ms = Integer(v["sleep_ms"], at.Member("sleep_ms"), 0, kMaxSleepMs);
        if (!ms) return ms.error();
        step->sleep_ms = *ms;
        break;
      }
      case StepKind::kApproval:
        break;
    }
    return std::nullopt;
  }

  // The url and audience of an http step, and its default timeout.
  std::optional<Problem> ParseCall(const Json& v, FileStep* step) const {
    const Where& at = step->where;
    if (!v.contains("url")) return Problem{at, "field 'url' is required for an http step"};
    auto url = Url(v["url"], at.Member("url"));
    if (!url) return url.error();
    step->call.url = *url;
    if (v.contains("audience")) {
      auto audience = String(v["audience"], at.Member("audience"));
      if (!audience) return audience.error();
      step->call.audience = *audience;
    }
    step->timeout_ms = kDefaultHttpTimeoutMs;
    return std::nullopt;
  }

  // Ids unique, dependencies known, listed once, not the step itself, with
  // distinct REWIND_OUTPUT_ names, and no cycle.
  Status CheckGraph(const std::vector<FileStep>& steps) const {
    std::map<std::string, std::size_t> by_id;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto [it, fresh] = by_id.emplace(steps[i].id, i);
      if (!fresh) {
        return Report(Problem{steps[i].where.Member("id"),
                              "the id is already used by step " + std::to_string(it->second + 1)},
                      steps[i].label);
      }
    }
    std::vector<std::vector<std::size_t>> deps(steps.size());
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const FileStep& s = steps[i];
      if (!s.depends_on) {
        if (i > 0) deps[i].push_back(i - 1);
        continue;
      }
      std::map<std::string, std::string> stems;
      for (std::size_t k = 0; k < s.depends_on->size(); ++k) {
        const std::string& dep = (*s.depends_on)[k];
        const Where w = s.where.Member("depends_on").Element(k);
        auto it = by_id.find(dep);
        if (it == by_id.end()) return Report(Problem{w, "unknown step " + Quoted(dep)}, s.label);
        if (it->second == i) return Report(Problem{w, "a step cannot depend on itself"}, s.label);
        const std::string stem = OutputVariableStem(dep);
        auto [seen, fresh] = stems.emplace(stem, dep);
        if (!fresh) {
          return Report(Problem{w, seen->second == dep
                                       ? Quoted(dep) + " is listed twice"
                                       : Quoted(seen->second) + " and " + Quoted(dep) +
                                             " would both be REWIND_OUTPUT_" + stem},
                        s.label);
        }
        deps[i].push_back(it->second);
      }
    }
    // Kahn's algorithm; what stays unordered is on or behind a cycle.
    std::vector<std::size_t> waiting(steps.size());
    std::vector<std::vector<std::size_t>> dependents(steps.size());
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      waiting[i] = deps[i].size();
      if (waiting[i] == 0) ready.push_back(i);
      for (std::size_t d : deps[i]) dependents[d].push_back(i);
    }
    while (!ready.empty()) {
      const std::size_t done = ready.back();
      ready.pop_back();
      for (std::size_t next : dependents[done]) {
        if (--waiting[next] == 0) ready.push_back(next);
      }
    }
    std::size_t at = 0;
    while (at < steps.size() && waiting[at] == 0) ++at;
    if (at == steps.size()) return Status::Ok();
    // After as many hops as there are steps along unordered dependencies the
    // walk is on the cycle; walk it once more to name it.
    const auto next_on_cycle = [&](std::size_t i) {
      for (std::size_t d : deps[i]) {
        if (waiting[d] != 0) return d;
      }
      return i;
    };
    for (std::size_t hop = 0; hop < steps.size(); ++hop) at = next_on_cycle(at);
    std::vector<std::size_t> cycle{at};
    for (std::size_t i = next_on_cycle(at); i != at; i = next_on_cycle(i)) cycle.push_back(i);
    // Report it at a step whose depends_on the file spells out (a default
    // dependency points backwards, so a cycle has at least one).
    std::size_t blame = at;
    for (std::size_t i : cycle) {
      if (steps[i].depends_on) {
        blame = i;
        break;
      }
    }
    std::string path;
    const auto it = std::find(cycle.begin(), cycle.end(), blame);
    std::rotate(cycle.begin(), it, cycle.end());
    for (std::size_t i : cycle) path += steps[i].id + " -> ";
    path += steps[blame].id;
    return Report(Problem{steps[blame].where.Member("depends_on"), "dependency cycle: " + path}, steps[blame].label);
  }

  // The file becomes the definition a run records, and the runnable workflow
  // is rebuilt from that record: a run started from the file and a run
  // recovered from the journal get their handlers from the same code.
  Result<Workflow> Build(const std::string& name, std::uint32_t version, const std::vector<FileStep>& steps) const {
    RunStarted def;
    def.workflow = name;
    def.version = version;
    std::map<std::string_view, std::uint32_t> by_id;  // ids are unique: CheckGraph
    for (std::size_t i = 0; i < steps.size(); ++i) by_id.emplace(steps[i].id, static_cast<std::uint32_t>(i));
    std::size_t dependencies = 0, bytes = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const FileStep& s = steps[i];
      StepDef d;
      d.id = s.id;
      d.kind = s.kind;
      if (!s.depends_on) {
        if (i > 0) d.depends_on = {static_cast<std::uint32_t>(i - 1)};
      } else {
        for (const std::string& dep : *s.depends_on) {
          if (const auto it = by_id.find(dep); it != by_id.end()) d.depends_on.push_back(it->second);
        }
      }
      switch (s.kind) {
        case StepKind::kCode:
          d.retry = s.retry;
          d.timeout_ms = s.timeout_ms;
          d.handler = s.http ? kHttpHandler : kShellHandler;
          d.config = s.http ? HttpConfig(s.call) : CommandConfig(s.run, s.command.env);
          break;
        case StepKind::kSignal:
          d.handler = s.signal;
          break;
        case StepKind::kSleep:
          d.sleep_ms = s.sleep_ms;
          break;
        case StepKind::kApproval:
          break;
      }
      // The limits (CheckLimits), reported where the file goes over them.
      dependencies += d.depends_on.size();
      bytes += d.id.size() + d.handler.size() + d.config.size() + 4 * d.depends_on.size();
      if (d.config.size() > kMaxConfigBytes) {
        return Err(
            Report(Problem{s.where, std::string(s.http ? "its url and audience take " : "its command and env take ") +
                                        std::to_string(d.config.size()) + " bytes; the limit is " +
                                        std::to_string(kMaxConfigBytes)},
                   s.label));
      }
      if (dependencies > kMaxDependencies || bytes > kMaxDefinitionBytes) {
        return Err(Report(Problem{s.where, "the steps up to this one have " + std::to_string(dependencies) +
                                               " dependencies and " + std::to_string(bytes) +
                                               " bytes of definitions; the limits are " +
                                               std::to_string(kMaxDependencies) + " and " +
                                               std::to_string(kMaxDefinitionBytes)},
                          s.label));
      }
      def.steps.push_back(std::move(d));
    }
    // Checked above already; a failure here would be a gap in those checks.
    auto w = WorkflowFromDefinition(def);
    if (!w.has_value()) return Err(Code::kInvalidArgument, std::string(source_) + ": " + w.error().message());
    return w;
  }

  std::string_view text_;
  std::string_view source_;
  const Json& doc_;
  PositionIndex index_;
};

// nlohmann's message without its "[json.exception...] parse error at line L,
// column C: " prefix (we give the position ourselves).
std::string ParserMessage(const std::string& what) {
  const std::size_t column = what.find("column ");
  const std::size_t colon = column == std::string::npos ? std::string::npos : what.find(": ", column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

}  // namespace

Result<Workflow> ParseWorkflowFile(std::string_view json_text, std::string_view source_name) {
  Json doc;
  try {
    doc = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    const LineColumn lc = Locate(json_text, e.byte > 0 ? e.byte - 1 : 0);
    return Err(Code::kInvalidArgument, std::string(source_name) + ":" + std::to_string(lc.line) + ":" +
                                           std::to_string(lc.column) + ": " + ParserMessage(e.what()));
  } catch (const Json::exception& e) {
    // A number too large for a double ("number overflow parsing '1e400'").
    std::string message = e.what();
    const std::size_t end = message.rfind('\'');
    const std::size_t begin = end == std::string::npos ? end : message.rfind('\'', end - 1);
    std::string where(source_name);
    if (begin != std::string::npos) {
      const std::size_t at = json_text.find(message.substr(begin + 1, end - begin - 1));
      if (at != std::string_view::npos) {
        const LineColumn lc = Locate(json_text, at);
        where += ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
      }
    }
    const std::size_t bracket = message.find("] ");
    if (bracket != std::string::npos) message.erase(0, bracket + 2);
    return Err(Code::kInvalidArgument, where + ": " + message);
  }
  return FileParser(json_text, source_name, doc).Parse();
}

Result<Workflow> LoadWorkflowFile(const std::string& path) {
  auto text = ReadWholeFile(path, kMaxFileBytes);
  if (!text.has_value()) {
    const int err = text.error().error;
    if (err == EFBIG) {
      return Err(Code::kInvalidArgument, path + ": larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB");
    }
    const Code code = err == ENOENT || err == ENOTDIR ? Code::kNotFound : Code::kFailedPrecondition;
    return Err(code, std::string("cannot ") + text.error().doing + " workflow file " + path + ": " +
                         std::generic_category().message(err));
  }
  return ParseWorkflowFile(*text, path);
}

Result<Workflow> WorkflowFromDefinition(const RunStarted& recorded) {
  const auto refuse = [&](const StepDef& def, const std::string& what) {
    return Err(Code::kInvalidArgument,
               "workflow '" + recorded.workflow + "' step '" + def.id + "' cannot run from its record: " + what);
  };
  Workflow w(recorded.workflow, recorded.version);
  for (const StepDef& def : recorded.steps) {
    // What the builder cannot express would make the rebuilt definition differ.
    if (def.kind != StepKind::kSleep && def.sleep_ms != 0) {
      return refuse(def, "sleep_ms on a step that does not sleep");
    }
    if (def.kind == StepKind::kCode && def.handler != kShellHandler && def.handler != kHttpHandler) {
      return refuse(def, "handler '" + def.handler + "' is neither a shell command nor an http call");
    }
    if (def.kind != StepKind::kSignal && def.kind != StepKind::kCode && !def.handler.empty()) {
      return refuse(def, "handler '" + def.handler + "' on a step that takes none");
    }
    std::optional<StepBuilder> b;
    switch (def.kind) {
      case StepKind::kCode: {
        const Json config = Json::parse(AsChars(def.config), nullptr, /*allow_exceptions=*/false);
        if (config.is_discarded()) return refuse(def, "its config is not JSON");
        const auto refuse_config = [&](const Problem& p) {
          const std::string& field = p.where.field;
          return refuse(def, "config" + (field.empty() ? std::string() : " field '" + field + "'") + ": " + p.what);
        };
        if (def.handler == kHttpHandler) {
          auto call = HttpFromConfig(config);
          if (!call) return refuse_config(call.error());
          b.emplace(w.Step(def.id, HttpStep(std::move(*call))));
        } else {
          auto command = CommandFromConfig(config);
          if (!command) return refuse_config(command.error());
          b.emplace(w.Step(def.id, ShellStep(std::move(*command))));
        }
        b->Handler(def.handler);
        break;
      }
      case StepKind::kApproval:
        b.emplace(w.Approval(def.id));
        break;
      case StepKind::kSignal:
        b.emplace(w.Signal(def.id, def.handler));
        break;
      case StepKind::kSleep:
        if (def.sleep_ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return refuse(def, "sleep_ms out of range");
        }
        b.emplace(w.Sleep(def.id, std::chrono::milliseconds(static_cast<std::int64_t>(def.sleep_ms))));
        break;
      default:
        return refuse(def, "unknown step kind");
    }
    b->Retry(def.retry).Timeout(std::chrono::milliseconds(def.timeout_ms)).Config(def.config);
    std::vector<std::string> after;
    for (std::uint32_t dep : def.depends_on) {
      if (dep >= recorded.steps.size()) return refuse(def, "it depends on an unknown step");
      after.push_back(recorded.steps[dep].id);
    }
    b->After(after);
  }
  REWIND_ASSIGN_OR_RETURN(const RunStarted rebuilt, w.Definition());
  if (rebuilt.steps != recorded.steps) {
    return Err(Code::kInvalidArgument,
               "workflow '" + recorded.workflow + "': its recorded steps cannot be rebuilt exactly");
  }
  return w;
}

HandlerResolver ShellWorkflowResolver() {
  struct Cache {
    Mutex mu;
    std::map<Hash, std::shared_ptr<const Workflow>> by_hash REWIND_GUARDED_BY(mu);
  };
  auto cache = std::make_shared<Cache>();
  return [cache](const RunStarted& definition) -> std::shared_ptr<const Workflow> {
    const Hash hash = DefinitionHash(definition);
    MutexLock lock(cache->mu);
    auto it = cache->by_hash.find(hash);
    if (it != cache->by_hash.end()) return it->second;
    auto workflow = WorkflowFromDefinition(definition);
    if (!workflow.has_value()) {
      spdlog::debug("resolve workflow={} refused: {}", definition.workflow, workflow.error().message());
      return nullptr;
    }
    auto owned = std::make_shared<const Workflow>(std::move(*workflow));
    cache->by_hash.emplace(hash, owned);
    return owned;
  };
}

}  // namespace rwd
