#!/bin/sh
# An embedded-default run that was SIGKILLed leaves its fleet folder (node keys,
# API tokens) in the temporary directory: the next run removes it, and leaves
# alone a folder whose x0xctl still runs and one kept on purpose for diagnosis.
# Runs in a private TMPDIR. Usage: embedded_killed_run_test.sh path/to/x0xctl
set -eu
X=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sh -c 'exit 0' & dead=$!
wait "$dead" || true
mkdir -p "$t/x0x-gate-$dead-abcd/nyc/data" "$t/x0x-verify-$$-beef/nyc/data" "$t/x0x-gate-$dead-kept/nyc"
echo "token" > "$t/x0x-gate-$dead-abcd/nyc/data/api-token"
echo "token" > "$t/x0x-verify-$$-beef/nyc/data/api-token"   # $$: this script, alive
touch "$t/x0x-gate-$dead-kept/KEPT-FOR-DIAGNOSIS"
mkdir -p "$t/cwd"
cd "$t/cwd"
TMPDIR=$t "$X" verify --phase a > "$t/out.txt" 2>&1 || { cat "$t/out.txt"; exit 1; }
grep -q "Removed 1 local fleet folder(s) left by killed runs" "$t/out.txt" || { cat "$t/out.txt"; exit 1; }
test ! -e "$t/x0x-gate-$dead-abcd" || { echo "the killed run's folder is still there"; exit 1; }
test -e "$t/x0x-verify-$$-beef/nyc/data/api-token" || { echo "a live run's folder was removed"; exit 1; }
test -e "$t/x0x-gate-$dead-kept" || { echo "a kept folder was removed"; exit 1; }
for d in "$t"/x0x-verify-*; do
  case "$d" in *-beef) ;; *) echo "this run left $d behind"; exit 1 ;; esac
done
echo "embedded killed-run cleanup: ok"
