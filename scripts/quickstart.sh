#!/usr/bin/env bash
# Quickstart (1): install what is missing, build, and run the main job on the
# embedded default: `x0xctl verify` with no fleet.toml starts a local fleet of
# 6 lean nodes with a runner each, runs Phase A (all 30 directed pairs), and
# stops the fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${X0X_BUILD_DIR:-build}"  # no fleet.toml here: the embedded default
exec ./cli/x0xctl verify "$@"
