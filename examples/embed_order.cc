// Embedding Rewind: an order workflow with C++ step handlers.
//
//   embed_order [--data DIR]       (default: a fresh directory under /tmp)
//
// validate -> reserve -> charge -> approve (an approval gate) -> ship.
// "charge" takes the payment on its first attempt, but the answer is lost (a
// network timeout), so the attempt fails and is retried. The retry carries
// the same idempotency key, and the payment provider, which deduplicates by
// key as real ones do, answers with the first payment: the card is charged
// once. The run then waits for an operator's approval. Approving continues it. Then the example travels
// back to the state right after "reserve", and re-runs the order from "charge"
// (a resume): validate and reserve keep their memoized outputs.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "rewind/executor/engine.h"

namespace {

using rwd::Bytes;
using rwd::Result;
using rwd::StepContext;

Result<Bytes> Validate(const StepContext& c) {
  if (c.input.empty()) return rwd::Err(rwd::Code::kInvalidArgument, "empty order");  // permanent
  return rwd::ToBytes("valid");
}

Result<Bytes> Reserve(const StepContext& c) { return rwd::ToBytes("reservation for " + c.idempotency_key); }

// A payment provider keeping its payments by the caller's idempotency key:
// a request with a key it has seen returns that payment instead of a new one.
class PaymentProvider {
 public:
  std::string Charge(const std::string& idempotency_key) {
    std::lock_guard<std::mutex> lock(mu_);
    return payments_.emplace(idempotency_key, "payment-" + std::to_string(payments_.size() + 1)).first->second;
  }
  std::size_t payments() {
    std::lock_guard<std::mutex> lock(mu_);
    return payments_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> payments_;
};

PaymentProvider provider;

Result<Bytes> Charge(const StepContext& c) {
  // Every attempt of this step in one epoch has the same key, so a retry
  // never charges the card twice.
  const std::string payment = provider.Charge(c.idempotency_key);
  if (c.attempt == 1) return rwd::Err(rwd::Code::kUnavailable, "card network timeout");  // the answer was lost
  return rwd::ToBytes(payment);
}

Result<Bytes> Ship(const StepContext& c) {
  return rwd::ToBytes("shipped after approval: " + std::string(rwd::AsChars(c.dependencies->at("approve"))));
}

int Fail(const rwd::Status& s) {
  std::fprintf(stderr, "embed_order: %s\n", s.ToString().c_str());
  return 1;
}

void Show(const char* when, const rwd::RunState& s) {
  std::printf("%-28s run %s %s:", when, s.run.ToString().c_str(), std::string(RunStatusName(s.status)).c_str());
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    std::printf(" %s=%s/%u", s.definition->steps[i].id.c_str(),
                std::string(StepStatusName(s.steps[i].status)).c_str(), s.steps[i].total_attempts);
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  if (argc == 3 && std::strcmp(argv[1], "--data") == 0) {
    dir = argv[2];
  } else if (argc == 1) {
    char tmpl[] = "/tmp/rewind-embed-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  } else {
    std::fprintf(stderr, "usage: %s [--data DIR]\n", argv[0]);
    return 2;
  }

  rwd::Workflow order("order");
  order.Step("validate", Validate);
  order.Step("reserve", Reserve);
  order.Step("charge", Charge).Retry({.max_attempts = 3, .initial_backoff_ms = 50});
  order.Approval("approve");
  order.Step("ship", Ship);

  rwd::EngineOptions options;
  options.journal.directory = dir;
  options.workflows.push_back(std::move(order));
  auto engine = rwd::Engine::Open(std::move(options));
  if (!engine.has_value()) return Fail(engine.error());
  rwd::Engine& e = **engine;
  const rwd::Principal shop{"default", "shop", {}};
  const rwd::Principal ops{"default", "alice", {std::string(rwd::kOperatorRole)}};
  using namespace std::chrono_literals;

  auto run = e.Start({.workflow = "order", .input = rwd::ToBytes(R"({"order":42})"), .actor = shop});
  if (!run.has_value()) return Fail(run.error());
  auto paused = e.Await(*run, shop, 10s);
  if (!paused.has_value()) return Fail(paused.error());
  Show("waiting for approval", *paused);

  if (auto s = e.Approve(*run, "approve", ops, rwd::ToBytes("ticket OPS-7")); !s.ok()) return Fail(s);
  auto done = e.Await(*run, shop, 10s);
  if (!done.has_value()) return Fail(done.error());
  Show("approved and shipped", *done);
  std::printf("%-28s %s\n", "output", std::string(rwd::AsChars(done->output)).c_str());
  std::printf("%-28s %zu payment(s) for %u charge attempts\n", "payment provider", provider.payments(),
              done->steps[2].total_attempts);
  if (provider.payments() != 1) return Fail(rwd::Status(rwd::Code::kInternal, "the retried charge paid twice"));

  auto earlier = e.StateAtStep(*run, "reserve", shop);
  if (!earlier.has_value()) return Fail(earlier.error());
  Show("time travel: after reserve", *earlier);

  rwd::ResumeRequest again{.run = *run, .from_step = "charge", .actor = ops, .reason = "re-charge after refund"};
  auto resumed = e.Resume(again);
  if (!resumed.has_value()) return Fail(resumed.error());
  std::printf("%-28s kept %zu step(s), re-runs %zu from '%s' in epoch %u\n", "resumed", resumed->kept.size(),
              resumed->reset.size(), resumed->from_step_id.c_str(), resumed->epoch);
  auto gate = e.Await(*run, shop, 10s);
  if (!gate.has_value()) return Fail(gate.error());
  if (auto s = e.Approve(*run, "approve", ops, rwd::ToBytes("ticket OPS-8")); !s.ok()) return Fail(s);
  auto final_state = e.Await(*run, shop, 10s);
  if (!final_state.has_value()) return Fail(final_state.error());
  Show("after the resume", *final_state);
  // The resume asked for the charge again (a new epoch, a new key).
  std::printf("%-28s %zu payment(s)\n", "payment provider", provider.payments());
  return provider.payments() == 2 && final_state->status == rwd::RunStatus::kCompleted ? 0 : 1;
}
