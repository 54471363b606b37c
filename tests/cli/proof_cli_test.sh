#!/bin/sh
# x0xctl proof verify and render on a hand-made bundle (manifest by sha256sum,
# verdict.json from a fixture): clean → 0; render adds rendered/ and the bundle
# still verifies; an edited rendered file, a changed byte, an extra and a
# deleted file are each named (exit 1); a directory without manifest → 2.
# Usage: proof_cli_test.sh path/to/x0xctl    (prints "proof CLI: ok")
set -eu
X=$1
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
b=$d/bundle
mkdir -p "$b/raw"
cp "$here/../data/verdicts/nogo_stale_peer.json" "$b/verdict.json"
printf 'hello\n' > "$b/raw/a.txt"
printf 'world\n' > "$b/raw/b.txt"
sum() { sha256sum < "$1" | cut -c1-64; }
printf '{"complete": true, "files": {"verdict.json": {"sha256": "%s"}, "raw/a.txt": {"sha256": "%s"}, "raw/b.txt": {"sha256": "%s"}}}\n' \
  "$(sum "$b/verdict.json")" "$(sum "$b/raw/a.txt")" "$(sum "$b/raw/b.txt")" > "$b/manifest.json"

. "$here/expect.sh"

expect 0 "^bundle ok: 3 files verified$" "$X" proof verify "$b"
expect 0 "Rendered .*rendered" "$X" proof render "$b"
for f in summary.md summary.csv report.html junit.xml; do test -s "$b/rendered/$f"; done
grep -q "### Overall verdict: \*\*NO-GO\*\*" "$b/rendered/summary.md"
expect 0 "^note: rendered/report.html: not in the manifest, identical to a fresh render" "$X" proof verify "$b"
echo "<!-- edited -->" >> "$b/rendered/report.html"
expect 1 "^rendered/report.html: not listed in the manifest$" "$X" proof verify "$b"
rm -r "$b/rendered"
expect 0 "Rendered $d/out" "$X" proof render "$b" --out "$d/out"
test -s "$d/out/junit.xml"
printf 'hellO\n' > "$b/raw/a.txt"
expect 1 "^raw/a.txt: sha256 differs from the manifest$" "$X" proof verify "$b"
echo extra > "$b/raw/planted.txt"
expect 1 "^raw/planted.txt: not listed in the manifest$" "$X" proof verify "$b"
rm "$b/raw/b.txt"
expect 1 "^raw/b.txt: listed in the manifest but missing$" "$X" proof verify "$b"
expect 2 "is not a bundle (no manifest.json)" "$X" proof verify "$d"
expect 2 "verdict.json: missing (not a gate bundle)" "$X" proof render "$d"
echo "proof CLI: ok"
