#!/usr/bin/env bash
# The orchestrator's own cost during a soak: x0xctl soak on the embedded
# default with compressed windows (default 120 windows of 3 s), its RSS and
# CPU time sampled from /proc after every window, CPU per window over the
# first and last 20 windows, and the bundle's size per window.
# Usage: tests/bench/soak_bench.sh [build-dir] [windows] [interval-secs]
set -euo pipefail
build="${1:-build}"
windows="${2:-120}"
interval="${3:-3}"
x0xctl="$(cd "$build" && pwd)/cli/x0xctl"
work=$(mktemp -d /tmp/x0x-soak-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$x0xctl" soak --duration "$((windows * interval))s" --interval "${interval}s" --warmup 1 \
  --discover-secs 8 --settle-secs 8 --soak-dir "$work/soak" > "$work/soak.out" 2>&1 &
pid=$!
tck=$(getconf CLK_TCK)
echo "window rss_kb cpu_s" > "$work/samples"
last=0
while kill -0 "$pid" 2>/dev/null; do
  done_windows=$(grep -c '^[0-9TZ]* window [0-9]*: \(GO\|NO-GO\|missing\|SKIPPED\)' "$work/soak.out" || true)
  if [ "$done_windows" -gt "$last" ] && [ -r "/proc/$pid/status" ]; then
    rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
    set -- $(sed 's/.*) //' "/proc/$pid/stat")
    echo "$done_windows $rss $(python3 -c "print((${12}+${13})/$tck)")" >> "$work/samples"
    last=$done_windows
  fi
  sleep 0.2
done
wait "$pid" || true
tail -1 "$work/soak.out"
python3 - "$work" "$windows" <<'PY'
import json, os, sys
work, n = sys.argv[1], int(sys.argv[2])
rows = [l.split() for l in open(os.path.join(work, "samples")).read().splitlines()[1:]]
rows = [(int(w), int(r), float(c)) for w, r, c in rows]
soak = json.load(open(os.path.join(work, "soak", "soak.json")))
print(f"verdict {soak['verdict']}, {len(soak['windows'])} windows")
def per_window(a, b):
    return (b[2] - a[2]) / (b[0] - a[0]) if b[0] > a[0] else float('nan')
first = [r for r in rows if r[0] <= 21]
last = [r for r in rows if r[0] >= rows[-1][0] - 20]
print(f"x0xctl RSS: window {rows[0][0]} {rows[0][1]} kB, window {rows[len(rows)//2][0]} {rows[len(rows)//2][1]} kB, "
      f"window {rows[-1][0]} {rows[-1][1]} kB (max {max(r[1] for r in rows)} kB)")
print(f"x0xctl CPU per window: windows {first[0][0]}-{first[-1][0]} {per_window(first[0], first[-1])*1000:.0f} ms, "
      f"windows {last[0][0]}-{last[-1][0]} {per_window(last[0], last[-1])*1000:.0f} ms")
def du(p):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(p) for f in fs)
total = du(os.path.join(work, "soak"))
wins = [du(os.path.join(work, "soak", "windows", d)) for d in sorted(os.listdir(os.path.join(work, "soak", "windows")))]
top = {f: os.path.getsize(os.path.join(work, "soak", f)) for f in ["soak.json", "timeline.csv", "summary.md", "report.html", "manifest.json"]}
print(f"bundle: {total/1e6:.1f} MB for {len(wins)} windows; a window's gate bundle {sum(wins)/len(wins)/1e3:.0f} kB on average; "
      + ", ".join(f"{k} {v/1e3:.0f} kB" for k, v in top.items()))
PY
