#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: Catch2 unit tests and
# the integration tests (ctest), plus the shared Jinja2 conformance corpus when ../shared
# is present. Set FERRY_SANITIZE=1 to run everything under ASan+UBSan in build-asan/, or
# FERRY_TSAN=1 under ThreadSanitizer in build-tsan/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
if [[ "${FERRY_SANITIZE:-0}" == 1 ]]; then
  export BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DFERRY_SANITIZE=ON -DFERRY_BUILD_BENCH=OFF"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
elif [[ "${FERRY_TSAN:-0}" == 1 ]]; then
  # -O1: ThreadSanitizer slows code 5-15x; at -O0 the runaway-Lua tests crawl.
  export BUILD_DIR=build-tsan BUILD_TYPE=Debug CMAKE_ARGS="-DFERRY_TSAN=ON -DFERRY_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS=-O1 -DCMAKE_C_FLAGS=-O1"
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
fi
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR
scripts/build.sh
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" --timeout 300
