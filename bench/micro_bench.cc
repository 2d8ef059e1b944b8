// micro_bench: the per-event costs underneath every figure of the suite, with
// Google Benchmark: Encode, Decode, one fold step (Evolve), Decode + Evolve,
// and the decider (Decide, Plan).
//
// The events are those of one clean run of the mixed journal's "checkout"
// workflow (histories.h: 12 events, a 5-step definition in the first). Each
// iteration handles all 12; items/s is events/s. Run it with
// --benchmark_format=json (or --json FILE, which the suite uses) for scripts.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_util.h"
#include "bench/histories.h"
#include "rewind/fold/decide.h"
#include "rewind/fold/run_state.h"
#include "rewind/schemas/events.h"

namespace rwd {
namespace {

struct Corpus {
  RunId run = RunId::New();
  std::vector<Bytes> encoded;
  std::vector<Event> events;
};

const Corpus& TheCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    Result<std::vector<Bytes>> encoded = bench::CleanCheckoutRun(c.run);
    if (!encoded.has_value()) {
      std::fprintf(stderr, "micro_bench: %s\n", encoded.error().ToString().c_str());
      std::exit(1);
    }
    c.encoded = std::move(*encoded);
    for (const Bytes& bytes : c.encoded) c.events.push_back(*Decode(bytes, &bench::StoredDefinitionFinder()));
    return c;
  }();
  return corpus;
}

void SetEvents(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(TheCorpus().events.size()));
}

void BM_Encode(benchmark::State& state) {
  const Corpus& c = TheCorpus();
  for (auto _ : state) {
    for (const Event& event : c.events) benchmark::DoNotOptimize(Encode(event));
  }
  SetEvents(state);
}
BENCHMARK(BM_Encode);

void BM_Decode(benchmark::State& state) {
  const Corpus& c = TheCorpus();
  for (auto _ : state) {
    for (const Bytes& bytes : c.encoded) benchmark::DoNotOptimize(Decode(bytes, &bench::StoredDefinitionFinder()));
  }
  SetEvents(state);
}
BENCHMARK(BM_Decode);

Status FoldDecoded(const Corpus& c) {
  RunState run;
  run.run = c.run;
  for (const Event& event : c.events) REWIND_RETURN_IF_ERROR(Evolve(run, event));
  benchmark::DoNotOptimize(run);
  return Status::Ok();
}

void BM_Evolve(benchmark::State& state) {
  const Corpus& c = TheCorpus();
  for (auto _ : state) {
    if (!FoldDecoded(c).ok()) state.SkipWithError("the run does not fold");
  }
  SetEvents(state);
}
BENCHMARK(BM_Evolve);

void BM_DecodeEvolve(benchmark::State& state) {
  const Corpus& c = TheCorpus();
  for (auto _ : state) {
    RunState run;
    run.run = c.run;
    for (const Bytes& bytes : c.encoded) {
      Result<Event> event = Decode(bytes, &bench::StoredDefinitionFinder());
      if (!event.has_value() || !Evolve(run, std::move(*event)).ok()) state.SkipWithError("the run does not fold");
    }
    benchmark::DoNotOptimize(run);
  }
  SetEvents(state);
}
BENCHMARK(BM_DecodeEvolve);

// The state after RunStarted, StepStarted(0), StepCompleted(0): Decide starts step 1.
RunState MidRun() {
  const Corpus& c = TheCorpus();
  RunState run;
  run.run = c.run;
  for (std::size_t i = 0; i < 3; ++i) (void)Evolve(run, c.events[i]);
  return run;
}

void BM_Decide(benchmark::State& state) {
  const RunState run = MidRun();
  for (auto _ : state) benchmark::DoNotOptimize(Decide(run, bench::kStartUs));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decide);

void BM_Plan(benchmark::State& state) {
  const RunState mid = MidRun();
  for (auto _ : state) {
    RunState run = mid;
    benchmark::DoNotOptimize(Plan(run, bench::kStartUs));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Plan);

}  // namespace
}  // namespace rwd

// --json FILE (the suite's rows, one per benchmark) besides Google
// Benchmark's own flags.
int main(int argc, char** argv) {
  std::string json;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json" && i + 1 < argc) {
      json = argv[++i];
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  // Collects each run's figures for the suite besides the console table.
  class Rows : public benchmark::ConsoleReporter {
   public:
    explicit Rows(rwd::bench::JsonRows& rows) : rows_(rows) {}
    void ReportRuns(const std::vector<Run>& runs) override {
      ConsoleReporter::ReportRuns(runs);
      for (const Run& run : runs) {
        if (run.error_occurred) continue;
        const auto items = run.counters.find("items_per_second");
        rows_.Add({{"name", run.benchmark_name()},
                   {"ns_per_iteration", run.GetAdjustedRealTime()},
                   {"items_per_s", items == run.counters.end() ? 0.0 : static_cast<double>(items->second)}});
      }
    }

   private:
    rwd::bench::JsonRows& rows_;
  };
  rwd::bench::JsonRows rows("micro", json);
  Rows reporter(rows);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (rwd::Status s = rows.Write(); !s.ok()) {
    std::fprintf(stderr, "micro_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
