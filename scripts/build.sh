#!/usr/bin/env bash
# Configures and builds everything into ./build (incremental; ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${X0X_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${X0X_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
