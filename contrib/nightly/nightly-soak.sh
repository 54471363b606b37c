#!/usr/bin/env bash
# One nightly soak: run `x0xctl soak`, keep the bundle, compare it with the
# previous night's (`x0xctl proof diff`), publish JUnit, and exit with the
# soak's status (0 GO, 1 NO-GO, 3 interrupted or crashed) so the caller — the
# systemd unit or a CI job — fails on NO-GO.
#
# Environment (all optional):
#   X0X_FLEET           inventory; absent file = the embedded local fleet
#   X0X_SOAK_DURATION   counted soak time (default 8h)
#   X0X_SOAK_INTERVAL   window interval (default 30m)
#   X0X_SOAK_GATE       gate profile (default broad-launch)
#   X0X_SOAK_VARIANT    combined | fixed-roster | pubsub-pressure (default combined)
#   X0X_PROOFS_DIR      where bundles are kept (default ./proofs)
#   X0X_SOAK_ARGS       more x0xctl soak flags, space separated
#   X0XCTL              the x0xctl binary (default: x0xctl on PATH)
set -uo pipefail

x0xctl="${X0XCTL:-x0xctl}"
proofs="${X0X_PROOFS_DIR:-proofs}"
mkdir -p "$proofs"
previous=""
if [ -L "$proofs/latest" ]; then previous="$(readlink -f "$proofs/latest")"; fi

bundle="$proofs/nightly-soak-$(date -u +%Y%m%dT%H%M%SZ)"
fleet_args=()
if [ -n "${X0X_FLEET:-}" ] && [ -f "$X0X_FLEET" ]; then fleet_args=(--fleet "$X0X_FLEET"); fi
# shellcheck disable=SC2206
extra=(${X0X_SOAK_ARGS:-})

"$x0xctl" soak "${fleet_args[@]}" \
  --gate "${X0X_SOAK_GATE:-broad-launch}" \
  --variant "${X0X_SOAK_VARIANT:-combined}" \
  --duration "${X0X_SOAK_DURATION:-8h}" --interval "${X0X_SOAK_INTERVAL:-30m}" \
  --soak-dir "$bundle" --junit "$bundle.junit.xml" "${extra[@]}"
status=$?

if [ -d "$bundle" ]; then
  # Tonight's bundle becomes `latest` (the soak only links bundles in its default folder).
  ln -sfn "$(basename "$bundle")" "$proofs/latest.tmp" && mv -Tf "$proofs/latest.tmp" "$proofs/latest"
  if [ -n "$previous" ] && [ -d "$previous" ]; then
    "$x0xctl" proof diff "$previous" "$bundle" --html "$bundle.diff.html" > "$bundle.diff.txt" 2>&1
    echo "compared with $previous: $bundle.diff.txt, $bundle.diff.html"
  fi
fi
case "$status" in
  0) echo "nightly soak: GO ($bundle)" ;;
  1) echo "nightly soak: NO-GO ($bundle)" ;;
  3) echo "nightly soak: INTERRUPTED or crashed ($bundle); resume with: $x0xctl soak --resume $bundle" ;;
  *) echo "nightly soak: x0xctl exited $status" ;;
esac
exit "$status"
