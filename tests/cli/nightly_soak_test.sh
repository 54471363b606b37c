#!/bin/sh
# The nightly recipe of contrib/nightly/ as the README installs it: the timer
# and service units pass `systemd-analyze verify` (their ExecStart pointed at
# this checkout's script; skipped where systemd-analyze is absent), and two
# short nightly runs of nightly-soak.sh against the embedded default each keep
# a GO bundle with its JUnit, move proofs/latest to the newest, and the second
# is compared with the first by `x0xctl proof diff`.
# Usage: nightly_soak_test.sh path/to/x0xctl    (prints "nightly soak recipe: ok")
set -eu
X=$1
here=$(cd "$(dirname "$0")" && pwd)
nightly=$here/../../contrib/nightly
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$d/units"
  sed "s|^ExecStart=.*|ExecStart=$nightly/nightly-soak.sh|" "$nightly/x0x-soak-nightly.service" > "$d/units/x0x-soak-nightly.service"
  cp "$nightly/x0x-soak-nightly.timer" "$d/units/"
  out=$(cd "$d/units" && systemd-analyze verify ./x0x-soak-nightly.timer ./x0x-soak-nightly.service 2>&1) || {
    echo "systemd-analyze verify failed: $out"; exit 1; }
  # Anything it says is a defect of the units (an unknown key, a bad value).
  if [ -n "$out" ]; then echo "systemd-analyze verify: $out"; exit 1; fi
  echo "units verified by systemd-analyze"
else
  echo "systemd-analyze not installed: units not verified here"
fi

cd "$d"
run() {
  X0XCTL=$X X0X_PROOFS_DIR=$d/proofs X0X_FLEET=$d/none.toml X0X_SOAK_DURATION=10s X0X_SOAK_INTERVAL=10s \
    X0X_SOAK_ARGS="--warmup 0 --discover-secs 8 --settle-secs 8" "$nightly/nightly-soak.sh" > "$d/run$1.out" 2>&1 || {
    echo "nightly run $1 failed:"; cat "$d/run$1.out"; exit 1; }
  grep -q "nightly soak: GO" "$d/run$1.out" || { cat "$d/run$1.out"; exit 1; }
}
run 1
first=$(readlink -f "$d/proofs/latest")
test -f "$first/soak.json"
test -s "$first.junit.xml"
run 2
second=$(readlink -f "$d/proofs/latest")
test "$first" != "$second"
test -s "$second.diff.txt" || { echo "no diff written"; cat "$d/run2.out"; exit 1; }
test -s "$second.diff.html"
grep -q "compared with $first" "$d/run2.out"
"$X" proof verify "$second" > /dev/null
echo "nightly soak recipe: ok"
