#!/usr/bin/env bash
# The long modes of the reliability tests, for a machine left alone for hours.
#   scripts/long-tests.sh [FUZZ_SECONDS]     default: 3600 s per fuzz target
# Builds the test suite (build/, as ./dev.sh build does), then runs:
#   * the engine crash harness with 10,000 kill points (a fresh journal every 500);
#   * the journal crash test with 10,000 kill points;
#   * the projection rebuild crash test with 1,000 kill points;
#   * the deterministic simulation with 100,000 seeds;
#   * rewind and journal-inspect on 2,000 randomly damaged journals each;
#   * the load bench: 5,000 runs in flight for 5 minutes (bench/load_bench.cc);
#   * every libFuzzer target for FUZZ_SECONDS (scripts/fuzz.sh).
# Each prints its seed (REWIND_*_SEED=... reproduces a schedule) and what it
# survived; the script stops at the first failure. Override the counts with
# REWIND_ENGINE_CRASH_ROUNDS, REWIND_CRASH_ROUNDS, REWIND_REBUILD_CRASH_ROUNDS,
# REWIND_SIM_SEEDS, REWIND_DAMAGE_ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_seconds=${1:-3600}
build_dir=${REWIND_BUILD_DIR:-build}
./dev.sh build

run() {
  echo "== $*" >&2
  "$@"
}

export REWIND_ENGINE_CRASH_ROUNDS=${REWIND_ENGINE_CRASH_ROUNDS:-10000}
export REWIND_CRASH_ROUNDS=${REWIND_CRASH_ROUNDS:-10000}
export REWIND_REBUILD_CRASH_ROUNDS=${REWIND_REBUILD_CRASH_ROUNDS:-1000}
export REWIND_SIM_SEEDS=${REWIND_SIM_SEEDS:-100000}
export REWIND_DAMAGE_ROUNDS=${REWIND_DAMAGE_ROUNDS:-2000}
run "$build_dir/tests/executor/engine_crash_test"
run "$build_dir/tests/journal/journal_crash_test" --gtest_filter='JournalCrashTest.AcknowledgedEvents*'
run "$build_dir/tests/projections/rebuild_crash_test"
run "$build_dir/tests/executor/simulation_test"
run "$build_dir/tests/tools/rewind_damage_test"
run "$build_dir/tests/tools/inspect_damage_test"
run "$build_dir/bench/load_bench" --seconds 300 --in-flight 5000 --dir "${TMPDIR:-/tmp}"
run scripts/fuzz.sh "$fuzz_seconds"
echo "long tests passed" >&2
