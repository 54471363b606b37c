#!/bin/sh
# x0xctl proof rescore on a real gate bundle (a local fleet of 4, baseline):
# it reproduces the recorded verdict (exit 0); after a post snapshot is
# tampered with it names the new violation (exit 1); --write-to writes a new
# bundle that verifies, and refuses to write into the bundle itself (exit 2).
# Usage: proof_rescore_cli_test.sh path/to/x0xctl    (prints "proof rescore CLI: ok")
set -eu
X=$1
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"  # no fleet.toml here: the gate starts its own local fleet

. "$here/expect.sh"

expect 0 "Verdict: GO" "$X" gate --scenarios baseline --local-nodes 4 --proof-dir "$d/b"
expect 0 "^rescore reproduces the recorded verdict: GO$" "$X" proof rescore "$d/b"
expect 0 "^Wrote $d/again " "$X" proof rescore "$d/b" --write-to "$d/again"
expect 0 "^bundle ok: 6 files verified$" "$X" proof verify "$d/again"
expect 2 "must not be the bundle itself" "$X" proof rescore "$d/b" --write-to "$d/b"
post=$(ls "$d/b/diagnostics/baseline/"*-post.json | head -1)
node=$(basename "$post" -post.json)
sed 's/"timed_out": [0-9]*/"timed_out": 999999/' "$post" > "$d/post.json" && cp "$d/post.json" "$post"
expect 1 "only rescored: baseline / max_dispatcher_timed_out_delta / $node" "$X" proof rescore "$d/b"
expect 1 "^diagnostics/baseline/$node-post.json: sha256 differs from the manifest$" "$X" proof verify "$d/b"
echo "proof rescore CLI: ok"
