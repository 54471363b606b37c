#!/usr/bin/env bash
# x0xctl local up / status / verify --fleet / a second up / chaos restart / down, end to end,
# in a temporary directory. Stops what it started, also on failure.
set -euo pipefail
x0xctl="$1"
dir=$(mktemp -d /tmp/x0x-local-cli-XXXXXX)
cleanup() { "$x0xctl" local down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

"$x0xctl" local up --nodes 4 --dir "$dir"
test -f "$dir/fleet.toml"
"$x0xctl" local status --dir "$dir" | grep -q "4/4 nodes up with their runner"

# A second up on a running directory says so and starts no twins.
before=$(pgrep -c -f "$dir/" || true)
"$x0xctl" local up --nodes 4 --dir "$dir" | grep -q "already running"
after=$(pgrep -c -f "$dir/" || true)
test "$before" = "$after"

"$x0xctl" verify --fleet "$dir/fleet.toml" --json "$dir/verify.json" --junit "$dir/phase-a.xml" | tee "$dir/verify.out"
grep -q "Phase A: 12/12 delivered" "$dir/verify.out"
grep -q "Phase B: 50/50 checks passed" "$dir/verify.out"   # 10N+10 for N = 4
grep -q '"delivered_pairs": 12' "$dir/verify.json"
grep -q '"expected_checks": 50' "$dir/verify.json"
test "$(grep -c '<testcase' "$dir/phase-a.xml")" -eq 12   # one JUnit case per directed pair
grep -q 'failures="0"' "$dir/phase-a.xml"

# chaos restart on a `local up` fleet: a new process on the same address,
# recorded in local-fleet.json, back in the mesh.
pid_of() { grep -A1 "\"name\": \"$1\"" "$dir/local-fleet.json" | grep node_pid | tr -dc 0-9; }
old=$(pid_of sfo)
"$x0xctl" chaos restart --fleet "$dir/fleet.toml" --hosts sfo
new=$(pid_of sfo)
test -n "$new" && test "$new" != "$old"
if kill -0 "$old" 2>/dev/null; then echo "the old node process $old still runs"; exit 1; fi
"$x0xctl" local status --dir "$dir" | grep -q "4/4 nodes up with their runner"
"$x0xctl" verify --phase a --fleet "$dir/fleet.toml" | grep -q "Phase A: 12/12 delivered"

"$x0xctl" local down --dir "$dir" | grep -q "Stopped 8 process(es)"
# (`! cmd` would not stop the script under set -e, hence the ifs.)
if "$x0xctl" local status --dir "$dir" >/dev/null; then echo "local status succeeds after down"; exit 1; fi
test -f "$dir/nyc/node.log" && test -f "$dir/nyc/runner.log"   # logs are kept
echo "local fleet CLI: ok"
