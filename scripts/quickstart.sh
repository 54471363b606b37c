#!/usr/bin/env bash
# Quickstart (1): install what is missing, build, and run the main job on the
# embedded default: `x0xctl gate` with no fleet.toml starts a local fleet of
# 6 lean nodes with a runner each, runs the limited-production gate (baseline:
# Phase A over all 30 directed pairs; fanout_burst; phase_b: contacts and
# named groups, 70 checks), harvests, scores, writes a proof bundle under
# build/proofs/, and stops the fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${X0X_BUILD_DIR:-build}"  # no fleet.toml here: the embedded default
exec ./cli/x0xctl gate "$@"
