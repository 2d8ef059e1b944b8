#include "tools/rewind/remote.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "rewind/base/bytes.h"
#include "rewind/base/time.h"
#include "rewind/inspect/event_json.h"
#include "rewind/server/client.h"
#include "rewind/server/local_access.h"
#include "tools/rewind/render.h"

namespace rwd::cli {
namespace {

using nlohmann::json;
using server::HttpAnswer;
using server::HttpCall;
using server::ServerUrl;

// How long a command waits for a stream that was cut to come back (a server
// restarting) before it gives up.
constexpr auto kReconnectFor = std::chrono::seconds(30);
constexpr std::uint64_t kEventsPage = 10'000;

// A path segment with everything but RFC 3986's unreserved characters escaped.
std::string Segment(std::string_view text) {
  return PercentEncode(text, [](unsigned char b) { return std::isalnum(b) || b == '-' || b == '.' || b == '_' || b == '~'; });
}

// Text as a JSON string; InvalidArgument naming `what` when it is not UTF-8
// (the API takes text).
Result<json> Text(const std::string& text, const char* what) {
  try {
    (void)json(text).dump();
  } catch (const json::exception&) {
    return Err(Code::kInvalidArgument, std::string(what) + " is not UTF-8 text, which a server takes");
  }
  return json(text);
}

std::string StringOf(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

// The server's error answer as a Status of the code it names.
Status ProblemStatus(const HttpAnswer& a) {
  const json p = a.json();
  Code code = Code::kInternal;
  if (p.is_object() && p.contains("code") && p["code"].is_string()) {
    for (int i = 0; i <= static_cast<int>(Code::kUnauthenticated); ++i) {
      if (CodeName(static_cast<Code>(i)) == p["code"].get<std::string>()) code = static_cast<Code>(i);
    }
  }
  const std::string detail = p.is_object() && p.contains("detail") && p["detail"].is_string()
                                 ? p["detail"].get<std::string>()
                                 : "HTTP " + std::to_string(a.status);
  return Status(code == Code::kOk ? Code::kInternal : code, detail);
}

// The event of an events route or stream entry (the record's fields dropped).
Result<Event> EventOf(json record) {
  for (const char* field : {"run_id", "seq", "position", "prev_hash", "hash"}) record.erase(field);
  return inspect::EventFromJson(record);
}

class Remote {
 public:
  Remote(ServerUrl url, std::string token, std::string tenant)
      : url_(std::move(url)), token_(std::move(token)), tenant_(std::move(tenant)) {}

  const std::string& tenant() const { return tenant_; }
  const ServerUrl& url() const { return url_; }
  const std::string& token() const { return token_; }
  std::string Runs() const { return "/v1/tenants/" + Segment(tenant_) + "/runs"; }
  std::string Run(const RunId& run) const { return Runs() + "/" + run.ToString(); }

  // The answer of a 2xx, else the problem as a Status.
  Result<HttpAnswer> Call(const std::string& method, const std::string& target, const json* body = nullptr) const {
    HttpCall call{method, target, token_, body == nullptr ? std::string() : body->dump(), {}};
    HttpAnswer a = server::Http(url_, call);
    if (a.status == 0) {
      return Err(Code::kUnavailable, "cannot reach the server at " + url_.ToString() + ": " + a.error);
    }
    if (a.status < 200 || a.status > 299) return Err(ProblemStatus(a));
    return a;
  }
  Result<json> CallJson(const std::string& method, const std::string& target, const json* body = nullptr) const {
    REWIND_ASSIGN_OR_RETURN(HttpAnswer a, Call(method, target, body));
    json j = a.json();
    if (j.is_discarded()) return Err(Code::kInternal, "the server at " + url_.ToString() + " answered no JSON");
    return j;
  }

  // The run's events after `after_seq`, with the position of the last one.
  Status Events(const RunId& run, std::uint64_t after_seq,
                const std::function<Status(const Event&, std::uint64_t position)>& visit) const {
    for (;;) {
      REWIND_ASSIGN_OR_RETURN(json page, CallJson("GET", Run(run) + "/events?after_seq=" + std::to_string(after_seq) +
                                                             "&limit=" + std::to_string(kEventsPage)));
      for (const json& record : page["events"]) {
        REWIND_ASSIGN_OR_RETURN(Event e, EventOf(record));
        REWIND_RETURN_IF_ERROR(visit(e, record["position"].get<std::uint64_t>()));
        after_seq = record["seq"].get<std::uint64_t>();
      }
      if (page["next_after_seq"].is_null()) return Status::Ok();
    }
  }

 private:
  ServerUrl url_;
  std::string token_;
  std::string tenant_;
};

// A run being followed: its state folded here, and where its stream stands.
struct Followed {
  std::optional<RunState> state;
  std::uint64_t position = 0;   // of the last event folded
  std::uint64_t until_seq = 0;  // Await waits for at least this many events
  bool print = false;
};

class RemoteControl final : public RunControl {
 public:
  RemoteControl(Remote remote, bool as_json) : remote_(std::move(remote)), json_(as_json) {}

  Result<RunId> Start(Workflow workflow, Bytes input, std::string idempotency_key) override {
    REWIND_ASSIGN_OR_RETURN(RunStarted mine, workflow.Definition());
    REWIND_ASSIGN_OR_RETURN(json served, remote_.CallJson("GET", "/v1/workflows"));
    const json* found = nullptr;
    for (const json& w : served["workflows"]) {
      if (w["name"] == mine.workflow) found = &w;
    }
    const std::string where = "the server at " + remote_.url().ToString();
    if (found == nullptr) {
      return Err(Code::kFailedPrecondition,
                 where + " does not run workflow '" + mine.workflow + "': start it with --workflows naming this file");
    }
    if ((*found)["definition_hash"] != HexEncode(DefinitionHash(mine))) {
      return Err(Code::kFailedPrecondition, where + " runs another definition of workflow '" + mine.workflow +
                                                "' (version " + StringOf((*found)["version"]) +
                                                "): restart it with this file, or run the file it has");
    }
    REWIND_ASSIGN_OR_RETURN(json text, Text(std::string(AsChars(input)), "the input"));
    const json body{{"workflow", mine.workflow}, {"input", text}, {"idempotency_key", idempotency_key}};
    REWIND_ASSIGN_OR_RETURN(json created, remote_.CallJson("POST", remote_.Runs(), &body));
    REWIND_ASSIGN_OR_RETURN(RunId run, RunId::Parse(StringOf(created["run_id"])));
    followed_[run] = Followed{.until_seq = 1, .print = true};
    return run;
  }

  Result<ResumeResult> Resume(ResumeRequest r) override {
    if (r.reason.empty()) {
      return Err(Code::kInvalidArgument, "--reason: the server records why a run is resumed; say why");
    }
    REWIND_ASSIGN_OR_RETURN(json data, Text(std::string(AsChars(r.data)), "the resume data"));
    json body{{"reason", r.reason}, {"dry_run", r.dry_run}};
    if (!r.from_step.empty()) body["from_step"] = r.from_step;
    if (!r.request_id.empty()) body["request_id"] = r.request_id;
    if (!r.data.empty()) body["data"] = data;
    REWIND_ASSIGN_OR_RETURN(json j, remote_.CallJson("POST", remote_.Run(r.run) + "/resume", &body));
    ResumeResult out;
    out.from_step_id = StringOf(j["from_step"]);
    for (const json& k : j["kept"]) out.kept.push_back(StringOf(k));
    for (const json& k : j["reset"]) out.reset.push_back(StringOf(k));
    out.epoch = j["epoch"].get<std::uint32_t>();
    out.seq = j["seq"].get<std::uint64_t>();
    out.repeated = j["repeated"].get<bool>();
    if (!r.dry_run) Expect(r.run, out.seq);
    return out;
  }

  Status Decide(const RunId& run, const std::string& step, bool approve, const std::string& note) override {
    REWIND_ASSIGN_OR_RETURN(json text, Text(note, "the note"));
    const json body{{"decision", approve ? "approve" : "reject"}, {"note", text}};
    return Act(run, "/approvals/" + Segment(step), body);
  }
  Status Pause(const RunId& run, const std::string& reason) override {
    return Act(run, "/pause", json{{"reason", reason}});
  }
  Status Cancel(const RunId& run, const std::string& reason) override {
    return Act(run, "/cancel", json{{"reason", reason}});
  }
  Status Signal(const RunId& run, const std::string& name, const std::string& payload) override {
    REWIND_ASSIGN_OR_RETURN(json text, Text(payload, "the payload"));
    return Act(run, "/signals/" + Segment(name), json{{"payload", text}});
  }
  Result<RunId> Fork(const RunId& run, const std::string& from_step, std::optional<std::uint64_t> at_seq) override {
    json body{{"from_step", from_step}};
    if (at_seq) body["at_seq"] = *at_seq;
    REWIND_ASSIGN_OR_RETURN(json created, remote_.CallJson("POST", remote_.Run(run) + "/fork", &body));
    REWIND_ASSIGN_OR_RETURN(RunId child, RunId::Parse(StringOf(created["run_id"])));
    followed_[child] = Followed{.until_seq = 1, .print = true};
    return child;
  }
  Status Recover(const RunId& run) override {
    // The server recovered every run when it started, and drives them.
    auto known = remote_.Call("GET", remote_.Run(run));
    return known.has_value() ? Status::Ok() : known.error();
  }

  Status Watch(const RunId& run) override {
    Followed& f = followed_[run];
    f.print = false;
    REWIND_RETURN_IF_ERROR(Catch(run, f));
    f.print = true;
    return Status::Ok();
  }

  Result<RunState> Await(const RunId& run) override {
    Followed& f = followed_[run];
    REWIND_RETURN_IF_ERROR(Catch(run, f));
    // Stopped, with the attempts in flight settled (a paused or failed run
    // still records their outcomes; a cancelled one none), as Engine::Await.
    auto done = [&] {
      if (!f.state || f.state->seq < f.until_seq || !f.state->Stopped()) return false;
      return f.state->status == RunStatus::kCancelled ||
             std::none_of(f.state->steps.begin(), f.state->steps.end(),
                          [](const StepState& s) { return s.status == StepStatus::kRunning; });
    };
    auto lost_since = std::chrono::steady_clock::now();
    while (!done()) {
      server::SseClient stream(remote_.url(), remote_.Run(run) + "/stream", remote_.token(),
                               std::to_string(f.position));
      std::size_t used = 0;
      Status folded;
      while (!done() && folded.ok() && !stream.closed()) {
        const auto& events = stream.ReadUntil([&](const auto& got) { return got.size() > used; }, 1000);
        for (; used < events.size() && folded.ok(); ++used) folded = Fold(run, f, events[used].data);
      }
      REWIND_RETURN_IF_ERROR(folded);
      if (done()) break;
      if (stream.status() != 0 && stream.status() != 200) {
        return Err(Code::kUnavailable, "the server at " + remote_.url().ToString() +
                                           " refused the run's stream (HTTP " + std::to_string(stream.status()) + ")");
      }
      if (stream.attached() || used > 0) lost_since = std::chrono::steady_clock::now();
      if (std::chrono::steady_clock::now() - lost_since > kReconnectFor) {
        return Err(Code::kUnavailable,
                   "lost the server at " + remote_.url().ToString() + " while following run " + run.ToString());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return *f.state;
  }

 private:
  // An action whose answer is the run's state: its ETag is the seq to await.
  Status Act(const RunId& run, const std::string& what, const json& body) {
    REWIND_ASSIGN_OR_RETURN(HttpAnswer a, remote_.Call("POST", remote_.Run(run) + what, &body));
    const json state = a.json();
    if (state.is_object() && state.contains("seq") && state["seq"].is_number_unsigned()) {
      Expect(run, state["seq"].get<std::uint64_t>());
    }
    return Status::Ok();
  }
  void Expect(const RunId& run, std::uint64_t seq) {
    Followed& f = followed_[run];
    f.until_seq = std::max(f.until_seq, seq);
  }

  // Folds the events the run has beyond what `f` holds.
  Status Catch(const RunId& run, Followed& f) {
    return remote_.Events(run, f.state ? f.state->seq : 0,
                          [&](const Event& e, std::uint64_t position) { return Apply(run, f, e, position); });
  }

  // One stream entry: an event the run has not had yet is folded.
  Status Fold(const RunId& run, Followed& f, const json& record) {
    if (!record.is_object() || !record.contains("seq") || !record["seq"].is_number_unsigned()) {
      return Status(Code::kInternal, "the server's stream sent an entry that is not an event");
    }
    const std::uint64_t seq = record["seq"].get<std::uint64_t>();
    const std::uint64_t have = f.state ? f.state->seq : 0;
    if (seq <= have) return Status::Ok();       // seen before (a reconnect)
    if (seq != have + 1) return Catch(run, f);  // a gap: read what is missing
    REWIND_ASSIGN_OR_RETURN(Event e, EventOf(record));
    return Apply(run, f, e, record["position"].get<std::uint64_t>());
  }

  Status Apply(const RunId& run, Followed& f, const Event& e, std::uint64_t position) {
    if (!f.state) {
      REWIND_ASSIGN_OR_RETURN(f.state, rwd::Fold(run, std::span<const Event>(&e, 1)));
    } else {
      REWIND_RETURN_IF_ERROR(Evolve(*f.state, e));
    }
    f.position = position;
    if (f.print && !json_) {
      for (const std::string& line : ProgressLines(*f.state, {e}, NowUnixMicros())) std::cout << line << '\n';
      std::cout.flush();
    }
    return Status::Ok();
  }

  Remote remote_;
  bool json_;
  std::map<RunId, Followed> followed_;
};

// The server to call and the token to call it with; nullopt when none.
Result<std::optional<Remote>> Locate(const Context& c, const Principal& me) {
  if (!c.server.empty()) {
    REWIND_ASSIGN_OR_RETURN(ServerUrl url, server::ParseServerUrl(c.server));
    url.ca_file = c.ca_file;
    if (c.token.empty()) {
      return Err(Code::kUnauthenticated, "--server " + c.server + " needs a token: give --token or set REWIND_TOKEN");
    }
    Remote remote(url, c.token, c.tenant);
    if (c.tenant_given) return std::optional<Remote>(std::move(remote));
    REWIND_ASSIGN_OR_RETURN(json who, remote.CallJson("GET", "/v1/me"));
    return std::optional<Remote>(Remote(url, c.token, StringOf(who["tenant"])));
  }
  REWIND_ASSIGN_OR_RETURN(std::optional<server::LocalAccess> access, server::ReadLocalAccess(c.data_dir));
  if (!access) return std::optional<Remote>();
  auto url = server::ParseServerUrl(access->url);
  if (!url.has_value()) return std::optional<Remote>();  // not one this build reaches
  url->ca_file = access->ca_file;  // the server's own certificate, pinned
  url->verify_host = false;
  std::string token = c.token;
  if (token.empty()) {
    REWIND_ASSIGN_OR_RETURN(token, server::MintLocalToken(*access, me, NowUnixMicros() / 1'000'000));
  }
  // A file left by a server that stopped without removing it: nothing
  // answers at its url, or another server took its port since (and refuses
  // a token minted with this file's secret).
  const HttpAnswer alive = server::Http(
      *url, HttpCall{
                .method = "GET", .target = c.token.empty() ? "/v1/me" : "/healthz", .token = token, .timeout_ms = 2000});
  if (alive.status != 200) return std::optional<Remote>();
  return std::optional<Remote>(Remote(*url, token, c.tenant));
}

}  // namespace

Result<std::unique_ptr<RunControl>> FindServer(const Context& c, const Principal& me) {
  REWIND_ASSIGN_OR_RETURN(std::optional<Remote> remote, Locate(c, me));
  if (!remote) return std::unique_ptr<RunControl>();
  return std::unique_ptr<RunControl>(std::make_unique<RemoteControl>(std::move(*remote), c.json));
}

Result<RunHistory> RemoteHistory(const Context& c, const Principal& me, const RunId& run) {
  REWIND_ASSIGN_OR_RETURN(std::optional<Remote> remote, Locate(c, me));
  if (!remote) return Err(Code::kUnavailable, "no server to ask");
  std::vector<Event> events;
  REWIND_RETURN_IF_ERROR(remote->Events(run, 0, [&](const Event& e, std::uint64_t) {
    events.push_back(e);
    return Status::Ok();
  }));
  return RunHistory::Of(run, std::move(events));
}

}  // namespace rwd::cli
