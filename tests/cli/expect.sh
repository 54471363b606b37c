# Sourced by the CLI test scripts. expect RC PATTERN command...: runs the
# command and fails the script unless it exits RC and prints a line matching
# PATTERN (stdout and stderr together).
expect() {
  rc=$1 pattern=$2
  shift 2
  set +e
  out=$("$@" 2>&1)
  got=$?
  set -e
  if [ "$got" -ne "$rc" ] || ! printf '%s\n' "$out" | grep -q -- "$pattern"; then
    printf 'FAILED: %s\n  wanted exit %s and /%s/, got exit %s:\n%s\n' "$*" "$rc" "$pattern" "$got" "$out"
    exit 1
  fi
}
