#!/usr/bin/env bash
# One-shot check on a lent GPU machine (CMake + nvcc + Python, no Node, no network):
#   1. configure with CUDA forced ON (no Node addon), build clipkit_tests + clipkit_bench
#   2. run the C++ tests: CPU kernels vs double references, CUDA kernels vs CPU kernels
#   3. run the microbenchmarks (quick mode) with CUDA rows, preprocessing included
# Prints a short table; full logs and the benchmark JSON go to $OUT (default ./device-out).
# Every step has a timeout so the whole run stays well inside 8 minutes.
# Env: CLIPKIT_CUDA_ARCHS (default: only the GPU present, from nvidia-smi, to keep the build
#      short; else 80 and 90), CLIPKIT_JOBS (default 16).
set -uo pipefail

out="${OUT:-$PWD/device-out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$(dirname "$0")/.."

gpu_arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .')"
if [[ "$gpu_arch" =~ ^[0-9]+$ ]]; then default_archs="${gpu_arch}-real"; else default_archs="80-real;90-real"; fi
archs="${CLIPKIT_CUDA_ARCHS:-$default_archs}"
jobs="${CLIPKIT_JOBS:-16}"
build=build-device
status=0
declare -a summary=()

step() {  # step NAME TIMEOUT_S LOGFILE CMD...
  local name="$1" limit="$2" log="$3"
  shift 3
  local start=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" >"$out/$log" 2>&1
  rc=$?
  local verdict=ok
  ((rc == 124 || rc == 137)) && verdict="TIMEOUT (${limit}s)"
  ((rc != 0 && rc != 124 && rc != 137)) && verdict="FAILED (rc=$rc)"
  summary+=("$(printf '%-10s %-16s %4ds  %s' "$name" "$verdict" $((SECONDS - start)) "$out/$log")")
  echo "== $name: $verdict"
  ((rc != 0)) && tail -n 40 "$out/$log"
  return $rc
}

{
  echo "date: $(date -u +%FT%TZ)"
  uname -a
  nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv 2>&1 || true
  nvcc --version 2>&1 | tail -n 2 || true
  cmake --version | head -n 1
  nproc
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

generator=()
command -v ninja >/dev/null 2>&1 && [[ ! -f "$build/CMakeCache.txt" ]] && generator=(-G Ninja)

if step configure 120 configure.log cmake -S . -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCLIPKIT_CUDA=ON -DCLIPKIT_NODE_ADDON=OFF \
    -DCLIPKIT_TESTS=ON -DCLIPKIT_BENCH=ON "-DCMAKE_CUDA_ARCHITECTURES=$archs" &&
   step build 240 build.log cmake --build "$build" -j "$jobs"; then
  step tests 120 tests.log "$build/clipkit_tests" || status=1
  if [[ -x "$build/clipkit_bench" ]]; then
    step bench 150 bench.log "$build/clipkit_bench" --quick --preprocess --json "$out/bench.json" || status=1
  else
    summary+=("bench      missing (no bench/*.cc)")
  fi
else
  status=1
fi

echo
echo "== device check summary ($out)"
printf '%s\n' "${summary[@]}"
if [[ -f "$out/tests.log" ]]; then
  echo "-- tests:"
  grep -E '^(FAIL|SKIP)|tests, [0-9]+ failed' "$out/tests.log" || true
fi
if [[ -f "$out/bench.json" ]] && command -v python3 >/dev/null 2>&1; then
  echo "-- bench (quick):"
  python3 - "$out/bench.json" <<'PY' || true
import json, sys
data = json.load(open(sys.argv[1]))
peak = data.get("peak", {})
print(f"CPU FMA peak {peak.get('fma_gflops', '?')} GFLOP/s, read {peak.get('read_gbs', '?')} GB/s")
for r in data.get("results", []):
    rate, unit = (r["gflops"], "GFLOP/s") if "gflops" in r else (r.get("gbs", 0.0), "GB/s")
    frac = r.get("fraction_of_peak")
    line = f"{r.get('kernel', '?'):<22} {r.get('device', '?'):<5} {r.get('shape', ''):<42} {rate:9.1f} {unit:<8}"
    if isinstance(frac, (int, float)):
        line += f" {100 * frac:4.0f}%"
    print(line)
PY
fi
exit $status
