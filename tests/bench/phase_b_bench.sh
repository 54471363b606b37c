#!/usr/bin/env bash
# Wall time of `x0xctl verify --phase b` on local fleets of N nodes, next to a
# lower bound of the reference harness's pacing for the same N (spec
# mesh-protocol.md §4.2, §2.10): its 2 s SSE warm-up, then one command at a
# time, 9(N-1) of them remote (4 contact steps per member; the public group's
# join, roster read, reply and cache read per member; the private group's
# join per member), each costing at least one command round trip. The round
# trip c is measured here, on a fleet of 2 (its member's 4 contact steps run
# one at a time); the anchor's local calls and every poll that converges on
# its first try count as zero, so the real reference can only be slower.
# Usage: tests/bench/phase_b_bench.sh [build-dir] [N ...]   (default: build 6 20 50)
set -euo pipefail
build="${1:-build}"; shift || true
sizes=("${@:-6 20 50}")
x0xctl="$build/cli/x0xctl"

run_b() {  # N -> prints the path of the --json report; the wall time in $dir/wall
  local n=$1 dir
  dir=$(mktemp -d /tmp/x0x-phase-b-bench-XXXXXX)
  "$x0xctl" local up --nodes "$n" --dir "$dir" >/dev/null
  local start end
  start=$(date +%s.%N)
  "$x0xctl" verify --phase b --fleet "$dir/fleet.toml" --json "$dir/b.json" --discover-secs 60 >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  "$x0xctl" local down --dir "$dir" >/dev/null
  echo "$start $end" > "$dir/wall"
  echo "$dir"
}

two=$(run_b 2)
c=$(python3 - "$two/b.json" <<'PY'
import json, statistics, sys
b = json.load(open(sys.argv[1]))["phase_b"]
lat = [c["latency_ms"] for c in b["checks"] if c["area"] == "contacts" and c["node"] != b["anchor"] and c["latency_ms"]]
print(statistics.median(lat) / 1000 if lat else 0.0)
PY
)
rm -rf "$two"
echo "command round trip c (fleet of 2, median of the member's contact steps): $(python3 -c "print(f'{$c*1000:.1f} ms')")"
printf "%5s %7s %10s %10s %9s %14s %7s  %s\n" nodes checks discover scenarios total reference_min ratio verdict
for n in ${sizes[@]}; do
  dir=$(run_b "$n")
  read -r start end < "$dir/wall"
  python3 - "$dir/b.json" "$n" "$start" "$end" "$c" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["phase_b"]; n = int(sys.argv[2]); total = float(sys.argv[4]) - float(sys.argv[3]); c = float(sys.argv[5])
ref = 2 + 9 * (n - 1) * c
print(f"{n:5d} {b['expected_checks']:7d} {b['discover_secs']:9.2f}s {b['run_secs']:9.2f}s {total:8.2f}s {ref:13.1f}s {ref/total:6.1f}x  {b['verdict']}")
PY
  rm -rf "$dir"
done
