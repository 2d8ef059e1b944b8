#!/usr/bin/env bash
# Rewind as an outside project uses it: installs the build in BUILD_DIR into a
# fresh prefix, configures examples/ as a project of its own on that prefix
# (find_package(rewind CONFIG REQUIRED), rewind::engine) in C++20 mode, so the
# package must bring C++23 and its dependencies itself, builds it, and runs
# the embedding example.
#   tests/install/consume.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/examples" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_STANDARD=20 -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build "$work/consumer"
"$work/consumer/journal_tour" --data "$work/tour"
"$work/consumer/embed_order" --data "$work/embed"
echo "installed package: headers $(find "$work/prefix/include" -name '*.h' | wc -l), libraries" \
  "$(find "$work/prefix/lib" -name '*.a' | wc -l), built and ran examples/ as an outside project"
