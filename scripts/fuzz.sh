#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-19 (AddressSanitizer and
# UndefinedBehaviorSanitizer) into build-fuzz/ and runs each for a while.
#   scripts/fuzz.sh [SECONDS [TARGET...]]   default: 60 s each, every target
# REWIND_FUZZ_BUILD_DIR names another build directory (default build-fuzz).
# Each target runs on a scratch copy of fuzz/corpus/<target>/ under
# build-fuzz/fuzz-out/<target>/, so the inputs libFuzzer adds stay out of the
# repository. A crash fails the script (after the other targets ran) and leaves its input in
# build-fuzz/fuzz-out/<target>/artifacts/; once fixed, add that file to
# fuzz/corpus/<target>/ so ctest replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
# Every target: each fuzz/<name>_fuzzer.cc.
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in fuzz/*_fuzzer.cc; do targets+=("$(basename "$f" .cc)"); done
fi
build_dir=${REWIND_FUZZ_BUILD_DIR:-build-fuzz}

REWIND_WITH_CLANG=1 scripts/setup.sh

# A directory configured already is only built: scripts/sanitize.sh fuzzes in
# its AddressSanitizer build, which has REWIND_FUZZ=ON and the tests too.
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  source scripts/compiler-cache.sh
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREWIND_FUZZ=ON -DREWIND_BUILD_TESTS=OFF -DREWIND_BUILD_BENCH=OFF \
    "${launcher[@]}" >/dev/null
fi
cmake --build "$build_dir" --target "${targets[@]}"

failed=()
for target in "${targets[@]}"; do
  out="$build_dir/fuzz-out/$target"
  rm -rf "$out"
  mkdir -p "$out/corpus" "$out/artifacts"
  cp fuzz/corpus/"$target"/* "$out/corpus/"
  echo "fuzzing $target for ${seconds}s (log: $out/fuzz.log)" >&2
  if ! "$build_dir/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/" "$out/corpus" >"$out/fuzz.log" 2>&1; then
    tail -n 40 "$out/fuzz.log" >&2
    echo "$target FAILED; reproducer in $out/artifacts/" >&2
    failed+=("$target")
    continue
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/fuzz.log")
  echo "$target: $runs runs, $rate exec/s, corpus $(find "$out/corpus" -type f | wc -l) files"
done
[[ ${#failed[@]} -eq 0 ]] || { echo "failed: ${failed[*]}" >&2; exit 1; }
