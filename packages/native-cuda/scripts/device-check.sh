#!/usr/bin/env bash
# One-shot check on a lent GPU machine (CMake + nvcc + Python, no Node, no network):
#   1. configure with CUDA forced ON (no Node addon), build clipkit_tests + clipkit_bench
#   2. run the C++ tests: CPU kernels vs double references, CUDA kernels vs CPU kernels
#   3. run the microbenchmarks (quick mode) with CUDA rows
# Prints a short table; full logs and the benchmark JSON go to $OUT (default ./device-out).
# Every step has a timeout so the whole run stays well inside 8 minutes.
# Env: CLIPKIT_CUDA_ARCHS (default "native": only the GPU present, to keep the build short),
#      CLIPKIT_JOBS (default 16).
set -uo pipefail

out="${OUT:-$PWD/device-out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$(dirname "$0")/.."

archs="${CLIPKIT_CUDA_ARCHS:-native}"
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
    step bench 150 bench.log "$build/clipkit_bench" --quick --json "$out/bench.json" || status=1
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
  grep -E '^(FAIL|CUDA tests skipped)|tests, [0-9]+ failed' "$out/tests.log" || true
fi
if [[ -f "$out/bench.json" ]] && command -v python3 >/dev/null 2>&1; then
  echo "-- bench (quick):"
  python3 - "$out/bench.json" <<'PY' || true
import json, sys
data = json.load(open(sys.argv[1]))
rows = data.get("rows", data) if isinstance(data, dict) else data
for r in rows if isinstance(rows, list) else []:
    if not isinstance(r, dict):
        continue
    name = r.get("kernel") or r.get("name") or "?"
    parts = [str(r.get(k)) for k in ("device", "shape") if r.get(k) is not None]
    value = r.get("value", r.get("gflops", r.get("gbps")))
    unit = r.get("unit", "")
    frac = r.get("fraction_of_peak", r.get("fraction"))
    line = f"{name:<28} {' '.join(parts):<34} {value!s:>10} {unit}"
    if isinstance(frac, (int, float)):
        line += f"  ({100 * frac:.0f}% of peak)"
    print(line)
PY
fi
exit $status
