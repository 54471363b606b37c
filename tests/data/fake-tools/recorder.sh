#!/bin/sh
# Recorder for tc, iptables, ip6tables, ip and setsid on a test host's PATH
# (installed as symlinks named after the tool). Each call appends
# "<unix time> <tool> <args>" to $X0X_FAKE_DIR/calls.log, then emulates just
# enough state in $X0X_FAKE_DIR for x0xctl's reads and verifications:
#   qdisc.<dev>      the root qdisc line `tc qdisc show dev <dev>` prints
#                    (absent: the kernel default "noqueue 0:")
#   <tool>.rules     one rule spec per line, INPUT chain, first = position 1
#   route.dev        the dev `ip route get` names (default lo)
# A mutating call also logs which chaos markers exist at that moment
# ($X0X_FAKE_MARKERS, a directory), so a test can see the order.
set -u
tool=$(basename "$0")
dir=${X0X_FAKE_DIR:?X0X_FAKE_DIR is not set}
log="$dir/calls.log"
now() { date +%s.%N; }
markers() { ls "${X0X_FAKE_MARKERS:-/nonexistent}" 2>/dev/null | grep '^chaos-.*\.json$' | tr '\n' ' '; }
record() { echo "$(now) $tool $*" >> "$log"; }
record_mutation() { echo "$(now) $tool $* [markers: $(markers)]" >> "$log"; }

case "$tool" in
setsid)
  record "$@"
  exec /usr/bin/setsid "$@"
  ;;
ip)
  record "$@"
  if [ "${1:-}" = route ] && [ "${2:-}" = get ]; then
    dev=$(cat "$dir/route.dev" 2>/dev/null || echo lo)
    echo "${3:-?} dev $dev src 127.0.0.1 uid 0"
    echo "    cache"
    exit 0
  fi
  echo "fake ip: unsupported: $*" >&2; exit 2
  ;;
tc)
  # tc qdisc show [dev D] | tc qdisc replace|add dev D root [handle H] KIND ARGS | tc qdisc del dev D root
  [ "${1:-}" = qdisc ] || { record "$@"; echo "fake tc: unsupported: $*" >&2; exit 2; }
  op=${2:-}
  if [ "$op" = show ]; then
    record "$@"
    if [ "${3:-}" = dev ]; then
      if [ -f "$dir/qdisc.$4" ]; then cat "$dir/qdisc.$4"; else echo "qdisc noqueue 0: root refcnt 2 "; fi
    else
      for f in "$dir"/qdisc.*; do [ -f "$f" ] && cat "$f"; done
    fi
    exit 0
  fi
  record_mutation "$@"
  [ "${3:-}" = dev ] || { echo "fake tc: expected dev" >&2; exit 2; }
  dev=$4; shift 4
  [ "${1:-}" = root ] || { echo "fake tc: only root qdiscs" >&2; exit 2; }
  shift
  case "$op" in
  del)
    [ -f "$dir/qdisc.$dev" ] || { echo "Error: Cannot delete qdisc with handle of zero." >&2; exit 2; }
    rm -f "$dir/qdisc.$dev"; exit 0 ;;
  add|replace)
    if [ "$op" = add ] && [ -f "$dir/qdisc.$dev" ]; then echo "Error: Exclusivity flag on, cannot modify." >&2; exit 2; fi
    handle=8001:
    if [ "${1:-}" = handle ]; then handle=$2; shift 2; fi
    kind=$1; shift
    # The kernel prints tbf's "latency" as "lat".
    params=$(echo "$*" | sed 's/\blatency\b/lat/')
    echo "qdisc $kind $handle root refcnt 2 $params " > "$dir/qdisc.$dev"
    exit 0 ;;
  esac
  echo "fake tc: unsupported: $op" >&2; exit 2
  ;;
iptables|ip6tables)
  rules="$dir/$tool.rules"
  touch "$rules"
  op=${1:-}; chain=${2:-}
  case "$op" in
  -S)
    record "$@"
    echo "-P INPUT ACCEPT"
    while IFS= read -r r; do echo "-A INPUT $r"; done < "$rules"
    exit 0 ;;
  -C)
    shift 2; record "$op" "$chain" "$@"
    grep -qxF -- "$*" "$rules" && exit 0
    echo "$tool: Bad rule (does a matching rule exist in that chain?)." >&2; exit 1 ;;
  -I)
    shift 3; record_mutation "$op" "$chain" 1 "$@"
    { echo "$*"; cat "$rules"; } > "$rules.new" && mv "$rules.new" "$rules"; exit 0 ;;
  -D)
    shift 2; record_mutation "$op" "$chain" "$@"
    grep -qxF -- "$*" "$rules" || { echo "$tool: Bad rule (does a matching rule exist in that chain?)." >&2; exit 1; }
    awk -v r="$*" 'done || $0 != r { print; next } { done = 1 }' "$rules" > "$rules.new" && mv "$rules.new" "$rules"
    exit 0 ;;
  esac
  record "$@"; echo "fake $tool: unsupported: $*" >&2; exit 2
  ;;
esac
echo "fake tool $tool: unknown" >&2
exit 2
