#!/usr/bin/env bash
# One entry point for newcomers and CI.
#   ./dev.sh run    install what is missing, build the two tools it needs (rewind,
#                   journal-inspect), run the walkthrough (examples/walkthrough.sh)
#                   on the embedded journal in $REWIND_DATA (default ./rewind-data)
#   ./dev.sh test   install what is missing (with the browser the Run Console's
#                   tests drive), build, run the whole test suite
#   ./dev.sh build  install what is missing and build (Release with debug info) into build/
#   ./dev.sh bench  the benchmark suite in Release (scripts/bench.sh; arguments pass through)
#   ./dev.sh sanitize [address|thread]  the test suite under sanitizers, and the fuzz targets
#                   (scripts/sanitize.sh; CI runs it after ./dev.sh test)
set -euo pipefail
cd "$(dirname "$0")"
build_dir=${REWIND_BUILD_DIR:-build}

# build [TARGET...]: configures build/ and builds the targets (default: all),
# printing the build's progress.
build() {
  scripts/setup.sh
  source scripts/compiler-cache.sh
  local werror=OFF
  [[ "${CI:-}" == true ]] && werror=ON
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DREWIND_WERROR="$werror" "${launcher[@]}" >/dev/null
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$build_dir" "${targets[@]}"
}

case "${1:-}" in
  build) build ;;
  run)
    # Only the two tools the walkthrough runs, not the tests and benchmarks.
    build rewind journal-inspect
    REWIND="$build_dir/tools/rewind" JOURNAL_INSPECT="$build_dir/tools/journal-inspect" examples/walkthrough.sh
    ;;
  test)
    REWIND_WITH_BROWSER=1 build
    cd "$build_dir"
    ctest --output-on-failure --timeout 600 -j"$(nproc)"
    ;;
  bench)
    shift
    scripts/bench.sh "$@"
    ;;
  sanitize)
    shift
    scripts/sanitize.sh "$@"
    ;;
  *)
    echo "usage: $0 run|test|build|bench|sanitize" >&2
    exit 2
    ;;
esac
