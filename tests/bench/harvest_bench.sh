#!/usr/bin/env bash
# Wall time of `x0xctl harvest` on local fleets of N nodes (all endpoints,
# log pattern counts and host facts per node, bundle written and manifested).
# Usage: tests/bench/harvest_bench.sh [build-dir] [N ...]   (default: build 6 50)
set -euo pipefail
build="${1:-build}"; shift || true
sizes=("${@:-6 50}")
x0xctl="$build/cli/x0xctl"
for n in ${sizes[@]}; do
  dir=$(mktemp -d /tmp/x0x-harvest-bench-XXXXXX)
  "$x0xctl" local up --nodes "$n" --dir "$dir" >/dev/null
  start=$(date +%s.%N)
  "$x0xctl" harvest --fleet "$dir/fleet.toml" --out "$dir/bundle" >/dev/null
  end=$(date +%s.%N)
  files=$(find "$dir/bundle" -type f | wc -l)
  "$x0xctl" local down --dir "$dir" >/dev/null
  python3 -c "import sys; print(f'harvest of {sys.argv[1]} nodes: {float(sys.argv[3])-float(sys.argv[2]):.2f} s, {sys.argv[4]} files')" "$n" "$start" "$end" "$files"
  rm -rf "$dir"
done
