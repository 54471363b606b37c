#!/bin/sh
# x0xctl proof diff on real gate bundles: A from `x0xctl gate --gate
# limited-production` on the embedded default (a local fleet of 6, baseline);
# B rescored with --write-to from a copy of A whose sfo post snapshot has 7
# dispatcher timeouts and whose Phase A lost helsinki→sydney (NO-GO, and B's
# own manifest verifies); C rescored from A with broad-launch (GO).
# A→A: "no differences", exit 0; A→B: regression, exit 1, naming the rule,
# the pair and the counter; B→A: recovery, exit 0; A→C: exit 0; --json -
# puts only JSON on stdout (the text on stderr); --html writes a page; a
# tampered bundle is still compared, with "bundle NOT ok" on stderr; usage
# errors (not a bundle, gate against soak, unwritable output) exit 2 and
# write nothing.
# Usage: proof_diff_cli_test.sh path/to/x0xctl    (prints "proof diff CLI: ok")
set -eu
X=$1
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"  # no fleet.toml here: the gate starts its own local fleet

. "$here/expect.sh"
fail() { echo "FAILED: $*"; exit 1; }

expect 0 "Verdict: GO" "$X" gate --gate limited-production --scenarios baseline --discover-secs 5 --settle-secs 3 --proof-dir "$d/a"

# B: the same run with one node's dispatcher timeouts and one lost pair.
cp -r "$d/a" "$d/t"
post="$d/t/diagnostics/baseline/sfo-post.json"
# The first "timed_out" after "pubsub" (the PubSub stream the gate reads) becomes 7.
awk 'BEGIN{p=0} /"pubsub": \{/{p=1} p==1 && /"timed_out": [0-9]+/{sub(/"timed_out": [0-9]+/, "\"timed_out\": 7"); p=2} {print}' "$post" > "$d/post.json"
cp "$d/post.json" "$post"
grep -q '"timed_out": 7' "$post" || fail "could not tamper $post"
pa="$d/t/scenarios/baseline/phase-a.json"
# helsinki→sydney: delivered → failed at "not received". The pair's lines lie
# between "    {" and "    }"; buffer each pair and rewrite the one it is.
awk '
  /^    \{$/ { buf = $0 "\n"; inobj = 1; next }
  inobj && /^    \}/ {
    buf = buf $0 "\n"
    if (buf ~ /"src": "helsinki"/ && buf ~ /"dst": "sydney"/) {
      gsub(/"outcome": "delivered"/, "\"outcome\": \"failed\"", buf)
      gsub(/"stage": null/, "\"stage\": \"not received\"", buf)
      gsub(/"latency_ms": [0-9.e+-]+/, "\"latency_ms\": null", buf)
    }
    printf "%s", buf; buf = ""; inobj = 0; next
  }
  inobj { buf = buf $0 "\n"; next }
  { print }
' "$pa" | sed -e 's/^  "delivered_pairs": 30,/  "delivered_pairs": 29,/' -e 's/^  "received": 30,/  "received": 29,/' > "$d/pa.json"
cp "$d/pa.json" "$pa"
grep -q '"stage": "not received"' "$pa" || fail "could not tamper $pa"
sed 's/"phase_a_received": 30/"phase_a_received": 29/' "$d/t/scenarios/baseline/scenario.json" > "$d/sc.json"
cp "$d/sc.json" "$d/t/scenarios/baseline/scenario.json"
expect 1 "NO-GO" "$X" proof rescore "$d/t" --write-to "$d/b"
expect 0 "^bundle ok: " "$X" proof verify "$d/b"
# C: A rescored against broad-launch (same observations, another gate).
expect 0 "GO" "$X" proof rescore "$d/a" --gate broad-launch --write-to "$d/c"

expect 0 "^no differences$" "$X" proof diff "$d/a" "$d/a"
expect 1 "^Verdict: GO -> NO-GO$" "$X" proof diff "$d/a" "$d/b"
expect 1 "baseline  *max_dispatcher_timed_out_delta  *pass -> fail .*REGRESSED" "$X" proof diff "$d/a" "$d/b"
expect 1 "helsinki -> sydney .*not received  *NEW FAILURE" "$X" proof diff "$d/a" "$d/b"
expect 1 "sfo  *dispatcher_timed_out  *0  *7  *+7" "$X" proof diff "$d/a" "$d/b"
expect 1 "baseline  *min_phase_a_pairs  *pass -> fail  *- -> helsinki  *30 -> 29 .*REGRESSED" "$X" proof diff "$d/a" "$d/b"
expect 1 "^REGRESSION: B is worse than A" "$X" proof diff "$d/a" "$d/b"
expect 0 "^No regression" "$X" proof diff "$d/b" "$d/a"
expect 0 "gate  *limited-production  *broad-launch" "$X" proof diff "$d/a" "$d/c"

# --json -: only the JSON on stdout, the text on stderr.
set +e
"$X" proof diff "$d/a" "$d/b" --json - --html "$d/diff.html" > "$d/out.json" 2> "$d/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "--json -: exit $rc, wanted 1"
[ "$(head -c 1 "$d/out.json")" = "{" ] || fail "--json -: stdout does not start with {"
[ "$(tail -n 1 "$d/out.json")" = "}" ] || fail "--json -: stdout does not end with }"
grep -q '"regressed": true' "$d/out.json" || fail "--json -: no \"regressed\": true"
grep -q '"change": "newly_failed"' "$d/out.json" || fail "--json -: the failing pair is missing"
! grep -q "proof diff (gate bundles)" "$d/out.json" || fail "--json -: the text went to stdout"
grep -q "^Verdict: GO -> NO-GO$" "$d/err.txt" || fail "--json -: the text is not on stderr"
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$d/out.json" || fail "--json -: stdout is not JSON"
fi
grep -q "<!DOCTYPE html>" "$d/diff.html" || fail "--html: no page"
grep -q '<tr class="regressed">' "$d/diff.html" || fail "--html: no regressed row"
! grep -qi "<script" "$d/diff.html" || fail "--html: has a script"

# A tampered bundle is still compared, with a note.
cp -r "$d/b" "$d/b2"
printf ' ' >> "$d/b2/summary.md"
expect 1 "^B: bundle NOT ok: 1 problem(s), first: summary.md: sha256 differs" "$X" proof diff "$d/a" "$d/b2"
expect 1 "^note: B: bundle NOT ok" "$X" proof diff "$d/a" "$d/b2"

# Usage errors: exit 2, nothing written.
mkdir "$d/empty" "$d/soak"
cp "$here/../data/diff/soak-go.json" "$d/soak/soak.json"
expect 2 "not a gate or soak bundle" "$X" proof diff "$d/a" "$d/empty"
expect 2 "is a gate bundle and .* a soak bundle" "$X" proof diff "$d/a" "$d/soak"
expect 2 "no such directory" "$X" proof diff "$d/a" "$d/b" --json "$d/nowhere/diff.json"
expect 2 "--html needs a FILE" "$X" proof diff "$d/a" "$d/b" --html -
expect 2 "inside bundle" "$X" proof diff "$d/a" "$d/b" --html "$d/b/diff.html"
[ ! -e "$d/b/diff.html" ] || fail "wrote into a bundle"
expect 2 "inside bundle" "$X" proof diff "$d/a" "$d/b" --json "$d/a/scenarios/diff.json"
expect 2 "name the same file" "$X" proof diff "$d/a" "$d/b" --json "$d/x.json" --html "$d/./x.json"
expect 2 "not a gate or soak bundle" "$X" proof diff "$d/a" "$d/empty" --json "$d/late.json"
[ ! -e "$d/late.json" ] || fail "wrote --json after a usage error"
ln -s "$d/a/verdict.json" "$d/empty/verdict.json"
expect 2 "hostile bundle" "$X" proof diff "$d/a" "$d/empty"
echo "proof diff CLI: ok"
