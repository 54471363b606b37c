#!/usr/bin/env bash
# Quickstart (2): install what is missing, build, and run the whole test suite.
# Ends with ctest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${X0X_BUILD_DIR:-build}"
exec ctest --output-on-failure --timeout 900 "$@"
