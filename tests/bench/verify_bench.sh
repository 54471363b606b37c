#!/usr/bin/env bash
# Wall time of `x0xctl verify` (Phase A) on local fleets of N nodes, next to
# the lower bound of the reference harness's pacing for the same N:
#   2 s SSE warm-up + 10 s post-discover sleep + 50 ms after each of the
#   N(N-1) commands (fan-out is sequential), with discovery and per-command
#   round trips taken as zero — the reference can only be slower than this.
# Usage: tests/bench/verify_bench.sh [build-dir] [N ...]   (default: build 6 20 50)
set -euo pipefail
build="${1:-build}"; shift || true
sizes=("${@:-6 20 50}")
x0xctl="$build/cli/x0xctl"
printf "%5s %7s %10s %9s %9s %14s %7s\n" nodes pairs discover matrix total reference_min ratio
for n in ${sizes[@]}; do
  dir=$(mktemp -d /tmp/x0x-verify-bench-XXXXXX)
  "$x0xctl" local up --nodes "$n" --dir "$dir" >/dev/null
  start=$(date +%s.%N)
  "$x0xctl" verify --phase a --fleet "$dir/fleet.toml" --json "$dir/a.json" --discover-secs 60 >/dev/null || true
  end=$(date +%s.%N)
  "$x0xctl" local down --dir "$dir" >/dev/null
  python3 - "$dir/a.json" "$n" "$start" "$end" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["phase_a"]; n = int(sys.argv[2]); total = float(sys.argv[4]) - float(sys.argv[3])
ref = 2 + 10 + n * (n - 1) * 0.05
print(f"{n:5d} {n*(n-1):7d} {a['discover_secs']:9.2f}s {a['matrix_secs']:8.2f}s {total:8.2f}s {ref:13.1f}s {ref/total:6.1f}x   ({a['verdict']})")
PY
  rm -rf "$dir"
done
