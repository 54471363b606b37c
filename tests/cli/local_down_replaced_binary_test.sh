#!/usr/bin/env bash
# `x0xctl local down` after the node binary was replaced under a running fleet
# (a rebuild or an upgrade: a new file renamed over the old path, so the running
# processes' /proc/PID/exe reads "<path> (deleted)"): every recorded process is
# still stopped, none is left orphaned. Stops what it started, also on failure.
set -euo pipefail
x0xctl="$1"
build=$(cd "$(dirname "$x0xctl")/.." && pwd)
work=$(mktemp -d /tmp/x0x-replaced-binary-XXXXXX)
cleanup() {
  # Whatever down left: the recorded PIDs (saved before down, which removes the record) in our folder.
  for pid in $(cat "$work/pids" 2>/dev/null); do
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in "$work"/*) kill "$pid" 2>/dev/null || true ;; esac
  done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin"
cp "$x0xctl" "$build/node/x0x-lean-node" "$build/runners/x0x-test-runner" "$work/bin/"
"$work/bin/x0xctl" local up --nodes 2 --dir "$work/fleet" >/dev/null
grep -oE '"(node|runner)_pid": [0-9]+' "$work/fleet/local-fleet.json" | tr -dc '0-9\n' > "$work/pids"
cp "$work/bin/x0x-lean-node" "$work/bin/.x0x-lean-node.new"
mv -f "$work/bin/.x0x-lean-node.new" "$work/bin/x0x-lean-node"
pids=$(cat "$work/pids")
node_pid=$(grep -oE '"node_pid": [0-9]+' "$work/fleet/local-fleet.json" | head -1 | tr -dc '0-9')
readlink "/proc/$node_pid/exe" | grep -q "(deleted)" || { echo "the binary was not replaced under the node"; exit 1; }

"$work/bin/x0xctl" local down --dir "$work/fleet" | tee "$work/down.out"
grep -q "Stopped 4 process(es)" "$work/down.out"
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null | cut -c1-${#work})" = "$work" ]; then
    echo "process $pid is still running after down"; exit 1
  fi
done
echo "local down after a replaced binary: ok"
