#!/bin/sh
# x0xctl proof rescore on a real gate bundle (a local fleet of 4, baseline and
# phase_b): it reproduces the recorded verdict (exit 0); after a post snapshot
# or a Phase B check is tampered with it names the new violation (exit 1);
# --write-to writes a new bundle that verifies, and refuses to write into the
# bundle itself (exit 2).
# Usage: proof_rescore_cli_test.sh path/to/x0xctl    (prints "proof rescore CLI: ok")
set -eu
X=$1
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"  # no fleet.toml here: the gate starts its own local fleet

. "$here/expect.sh"

expect 0 "Verdict: GO" "$X" gate --scenarios baseline,phase_b --local-nodes 4 --proof-dir "$d/b"
expect 0 "^bundle ok: [0-9]* files verified$" "$X" proof verify "$d/b"
grep -q '"passed_checks": 50' "$d/b/scenarios/phase_b/phase-b.json" || { echo "FAILED: phase-b.json lacks 50 passed checks"; exit 1; }
grep -q '^##### Phase B: 50/50 checks passed$' "$d/b/summary.md" || { echo "FAILED: summary.md lacks the Phase B table"; exit 1; }
grep -q '<table class="phase-b">' "$d/b/report.html" || { echo "FAILED: report.html lacks the Phase B grid"; exit 1; }
expect 0 "^rescore reproduces the recorded verdict: GO$" "$X" proof rescore "$d/b"
expect 0 "^Wrote $d/again " "$X" proof rescore "$d/b" --write-to "$d/again"
expect 0 "^bundle ok: 6 files verified$" "$X" proof verify "$d/again"
expect 2 "must not be the bundle itself" "$X" proof rescore "$d/b" --write-to "$d/b"
post=$(ls "$d/b/diagnostics/baseline/"*-post.json | head -1)
node=$(basename "$post" -post.json)
sed 's/"timed_out": [0-9]*/"timed_out": 999999/' "$post" > "$d/post.json" && cp "$d/post.json" "$post"
expect 1 "only rescored: baseline / max_dispatcher_timed_out_delta / $node" "$X" proof rescore "$d/b"
expect 1 "^diagnostics/baseline/$node-post.json: sha256 differs from the manifest$" "$X" proof verify "$d/b"
# One Phase B check turned into a failure: the rescore counts 49 < 50 and names it.
cp -r "$d/b" "$d/c"
sed '0,/"outcome": "pass"/s//"outcome": "fail"/' "$d/b/scenarios/phase_b/phase-b.json" > "$d/pb.json" && cp "$d/pb.json" "$d/c/scenarios/phase_b/phase-b.json"
expect 1 "only rescored: phase_b / min_phase_b_checks" "$X" proof rescore "$d/c"
expect 1 "phase B checks passed 49 < gate 50" "$X" proof rescore "$d/c"
echo "proof rescore CLI: ok"
