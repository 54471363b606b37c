#!/usr/bin/env bash
# Quickstart (1): install what is missing, build, and run the main job on the
# embedded default: a local mesh of 6 lean nodes, a publish and all-pairs DMs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec "${X0X_BUILD_DIR:-build}/cli/x0xctl" demo "$@"
