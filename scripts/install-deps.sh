#!/usr/bin/env bash
# Installs the Debian 12 packages Ferry builds and tests with, and only those missing:
# quick (no apt at all) when everything is already there. Idempotent; needs root for apt.
#
#   scripts/install-deps.sh           build dependencies
#   scripts/install-deps.sh --test    build + test dependencies (python3-jinja2 oracle, ...)
#   scripts/install-deps.sh --bench   build + benchmark dependencies (bench/*.sh: nginx mock, wrk,
#                                     mimalloc for a FERRY_ALLOCATOR=mimalloc build)
#   scripts/install-deps.sh --fuzz    build + fuzzing dependencies (scripts/fuzz.sh: Clang and
#                                     its libFuzzer runtime)
# Options combine (--test --bench); an unknown one is an error (a second option was
# ignored in silence, and the benchmarks then found no wrk).
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config git python3
  liblua5.4-dev libuv1-dev libcurl4-openssl-dev rapidjson-dev liblmdb-dev
  libssl-dev libyaml-cpp-dev libhttp-parser-dev catch2 libhowardhinnant-date-dev tzdata
)
test_pkgs=(python3 python3-jinja2 lmdb-utils openssl prometheus)
bench_pkgs=(nginx-light wrk curl python3 libmimalloc-dev)  # mimalloc: FERRY_ALLOCATOR=mimalloc
fuzz_pkgs=(clang libclang-rt-14-dev)

pkgs=("${build_pkgs[@]}")
for option in "$@"; do
  case "$option" in
    --test) pkgs+=("${test_pkgs[@]}") ;;
    --bench) pkgs+=("${bench_pkgs[@]}") ;;
    --fuzz) pkgs+=("${fuzz_pkgs[@]}") ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$option' (--test, --bench, --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
