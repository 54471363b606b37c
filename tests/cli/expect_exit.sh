#!/bin/sh
# expect_exit.sh CODE -- command [args...]
# Runs the command (its output passes through, stderr merged into stdout) and
# then prints "expect_exit: exit CODE as expected" only if it exited with CODE.
# CTest's PASS_REGULAR_EXPRESSION alone ignores the exit code; the CLI tests
# require this marker after their pattern, so both are checked.
if [ $# -lt 3 ] || [ "$2" != "--" ]; then
  echo "usage: expect_exit.sh CODE -- command [args...]" >&2
  exit 2
fi
want=$1
shift 2
"$@" 2>&1
got=$?
if [ "$got" -eq "$want" ]; then
  echo "expect_exit: exit $want as expected"
  exit 0
fi
echo "expect_exit: wanted exit $want, got $got"
exit 1
