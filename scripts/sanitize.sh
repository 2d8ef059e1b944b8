#!/usr/bin/env bash
# The whole test suite under sanitizers (CI runs it after ./dev.sh test).
#   scripts/sanitize.sh [address|thread]...   default: address, then thread
#
#   address  clang-19 with AddressSanitizer, LeakSanitizer and
#            UndefinedBehaviorSanitizer in build-sanitize-address/: the ctest
#            suite, then every libFuzzer target (fuzz/*_fuzzer.cc, built in the
#            same directory) for REWIND_FUZZ_SECONDS (default 10) seconds each
#            through scripts/fuzz.sh.
#   thread   g++ with ThreadSanitizer in build-sanitize-thread/: the ctest suite.
#
# Any report ends the process that made it (compiled with
# -fno-sanitize-recover; halt_on_error below), so the test or fuzz target
# fails. The simulation and two tests that start the tools by the hundred
# run fewer rounds than in ./dev.sh test (below);
# a test's variable set in the environment wins. The benchmark programs are
# not built: no test needs them in these builds. Warnings are not errors here:
# the plain build judges them (-Werror in CI), and clang-19 warns inside
# libstdc++ 12's headers in C++23. Thread-safety warnings are the exception:
# the clang build makes them errors (-Werror=thread-safety, rewind_warnings in
# CMakeLists.txt), as the g++ build cannot check the annotations.
set -euo pipefail
cd "$(dirname "$0")/.."

modes=("$@")
[[ ${#modes[@]} -eq 0 ]] && modes=(address thread)
for mode in "${modes[@]}"; do
  case "$mode" in
    address | thread) ;;
    *)
      echo "usage: $0 [address|thread]..." >&2
      exit 2
      ;;
  esac
done

REWIND_WITH_CLANG=1 scripts/setup.sh

# The simulation runs 200 seeds instead of 1,000 (under ThreadSanitizer
# 1,000 take about 4 minutes), and the race and crash tests fewer rounds:
# structure checks and commands beside a live writer 200 instead of 1,000
# (1,000 checks took 2 minutes under ThreadSanitizer), the kills of a driver
# mid-step 30 instead of 100, the kills of a serving process 10 instead of
# 50. Every other test runs as in ./dev.sh test.
export REWIND_SIM_SEEDS=${REWIND_SIM_SEEDS:-200}
export REWIND_RACES=${REWIND_RACES:-200}
export REWIND_OVERLAP_ROUNDS=${REWIND_OVERLAP_ROUNDS:-30}
export REWIND_SERVE_CRASH_ROUNDS=${REWIND_SERVE_CRASH_ROUNDS:-10}

# Children the tests start (the tools, the crash children) inherit these.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

source scripts/compiler-cache.sh

# configure_and_test DIR CMAKE_ARGS...: configures DIR, builds it, runs ctest.
configure_and_test() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREWIND_BUILD_TESTS=ON \
    -DREWIND_BUILD_BENCH=OFF -DREWIND_BROWSER_TESTS=OFF "${launcher[@]}" "$@" >/dev/null
  local start=$SECONDS
  cmake --build "$dir" -j"$(nproc)"
  echo "== $dir built in $((SECONDS - start)) s" >&2
  start=$SECONDS
  (cd "$dir" && ctest --output-on-failure --timeout 900 -j"$(nproc)")
  echo "== $dir: tests passed in $((SECONDS - start)) s" >&2
}

for mode in "${modes[@]}"; do
  case "$mode" in
    address)
      dir=build-sanitize-address
      configure_and_test "$dir" -DCMAKE_CXX_COMPILER=clang++-19 \
        -DREWIND_SANITIZE=address,undefined -DREWIND_FUZZ=ON
      start=$SECONDS
      REWIND_FUZZ_BUILD_DIR="$dir" scripts/fuzz.sh "${REWIND_FUZZ_SECONDS:-10}"
      echo "== fuzz targets ran in $((SECONDS - start)) s" >&2
      ;;
    thread)
      configure_and_test build-sanitize-thread -DCMAKE_CXX_COMPILER=g++ -DREWIND_SANITIZE=thread
      ;;
  esac
done
echo "sanitizer suites passed: ${modes[*]}" >&2
