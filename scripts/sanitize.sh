#!/usr/bin/env bash
# The sanitizer pass (CI runs it after the test suite). Usage: scripts/sanitize.sh [asan] [tsan]
# (both when none is named).
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan: the unit tests, the lean
#         node, the node's integration tests (mesh, churn, quiescence, stress, faults, robustness) and the
#         hostile-peer suite (tests/adversarial), all run.
#   tsan  ThreadSanitizer, in build-tsan: the lean node and the node's integration tests, run.
# Only those targets are built. Every report is fatal (halt_on_error, non-zero exit code), and every
# sanitized process — the test binaries and the lean nodes they start, whose stderr goes to a log
# file the test deletes — writes its report to a file under <build dir>/sanitizer-reports/. Any
# file there fails the pass, even when the test that caused it passed; the reports are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(asan tsan)
for k in "${kinds[@]}"; do
  case "$k" in asan|tsan) ;; *) echo "sanitize.sh: unknown pass '$k' (asan, tsan)" >&2; exit 2 ;; esac
done

scripts/install-deps.sh

# -O1 with line tables (-g1): reports name file:line, and the build and the run stay cheap.
# Unity builds for the libraries (the tests opt out) halve their compile time on a clean clone.
configure() {  # build dir, sanitizers
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_UNITY_BUILD=ON -DX0X_SANITIZE="$2" >/dev/null
}

# The runtime options of every sanitized process; the lean nodes inherit them from the test.
sanitizer_env() {  # reports dir
  local common="halt_on_error=1:exitcode=66:print_summary=1"
  export ASAN_OPTIONS="$common:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:log_path=$1/asan"
  export UBSAN_OPTIONS="$common:print_stacktrace=1:log_path=$1/ubsan"
  export TSAN_OPTIONS="$common:second_deadlock_stack=1:log_path=$1/tsan"
}

# Fails (and prints them) if any sanitized process left a report.
check_reports() {  # reports dir, pass name
  local files
  files=$(find "$1" -type f | sort)
  [ -z "$files" ] && return 0
  echo "sanitize.sh: $2: $(echo "$files" | wc -l) sanitizer report(s):" >&2
  for f in $files; do
    echo "----- $f" >&2
    head -n 200 "$f" >&2
  done
  return 1
}

# The test binaries must start sanitized lean nodes, or a report in a node could not happen.
require_instrumented() {  # binary, runtime library name
  if ! grep -q "$2" <<<"$(ldd "$1")"; then
    echo "sanitize.sh: $1 is not linked with $2" >&2
    exit 1
  fi
}

run_pass() {  # name, build dir, sanitizers, runtime lib, targets, ctest label regex
  local name=$1 dir=$2 sanitizers=$3 runtime=$4 targets=$5 labels=$6
  echo "== sanitize.sh: $name ($sanitizers) in $dir"
  # Explicit returns: run_pass is called as `run_pass … || status=1`, where bash
  # ignores set -e, so a failed build would otherwise run the previous binaries.
  configure "$dir" "$sanitizers" || { echo "sanitize.sh: $name: configure FAILED" >&2; return 1; }
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$(nproc)" --target $targets || { echo "sanitize.sh: $name: build FAILED" >&2; return 1; }
  require_instrumented "$dir/node/x0x-lean-node" "$runtime"
  local reports="$root/$dir/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  local rc=0
  (
    sanitizer_env "$reports"
    cd "$dir"
    ctest --output-on-failure --timeout 900 -j "$(nproc)" -L "$labels"
  ) || rc=$?
  check_reports "$reports" "$name" || rc=1
  if [ "$rc" -ne 0 ]; then
    echo "sanitize.sh: $name FAILED" >&2
    return 1
  fi
  echo "sanitize.sh: $name passed: no sanitizer report"
}

status=0
for k in "${kinds[@]}"; do
  case "$k" in
    asan) run_pass asan build-asan address,undefined libasan "x0x_unit_tests x0x_node_integration_tests x0x_adversarial_tests" '^(unit|node|adversarial)$' || status=1 ;;
    tsan) run_pass tsan build-tsan thread libtsan "x0x_node_integration_tests" '^node$' || status=1 ;;
  esac
done
exit $status
