#!/usr/bin/env bash
# The C++ half of `npm test`: builds the standalone kernel tests CPU-only, twice, and runs them
# with CTest (every ISA the machine has, see CMakeLists.txt):
#   build-test/  -O2 (asserts on), also builds clipkit_bench so CI proves it compiles
#   build-asan/  -O1 with AddressSanitizer + UndefinedBehaviorSanitizer
# Exits non-zero when a build or a test fails. CLIPKIT_JOBS sets the build parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${CLIPKIT_JOBS:-2}"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

configure() {
  local dir="$1"
  shift
  local gen=()
  # The generator can only be chosen when the directory is first configured.
  [[ -f "$dir/CMakeCache.txt" ]] || gen=("${generator[@]}")
  cmake -S . -B "$dir" "${gen[@]}" -DCLIPKIT_CUDA=OFF -DCLIPKIT_NODE_ADDON=OFF -DCLIPKIT_TESTS=ON \
    -DCMAKE_BUILD_TYPE=Release "$@" >"$dir/configure.log" 2>&1 || {
    cat "$dir/configure.log"
    return 1
  }
}

echo "== C++ tests: -O2 (build-test)"
mkdir -p build-test build-asan
configure build-test -DCMAKE_CXX_FLAGS_RELEASE=-O2 -DCLIPKIT_BENCH=ON -DCLIPKIT_SANITIZE=OFF
cmake --build build-test -j "$jobs"
ctest --test-dir build-test --output-on-failure

echo "== C++ tests: AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
configure build-asan "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g" -DCLIPKIT_BENCH=OFF -DCLIPKIT_SANITIZE=ON
cmake --build build-asan -j "$jobs" --target clipkit_tests
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  ctest --test-dir build-asan --output-on-failure
