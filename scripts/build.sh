#!/usr/bin/env bash
# Configures and builds Ferry into build/ (Release unless BUILD_TYPE says otherwise).
#   BUILD_DIR=build-asan CMAKE_ARGS="-DFERRY_SANITIZE=ON" scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
read -r -a extra <<< "${CMAKE_ARGS:-}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${extra[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
