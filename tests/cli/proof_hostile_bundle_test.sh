#!/bin/sh
# x0xctl proof verify, render and rescore on bundles made by someone hostile:
# manifest paths that leave the bundle, a FIFO, symlinked files and folders,
# a rendered/ that points outside, a verdict that names a profile file. Each is
# refused and named (exit 1 "hostile bundle" or the verify problem lines),
# nothing outside the bundle is read or written, nothing hangs.
# Usage: proof_hostile_bundle_test.sh path/to/x0xctl   (prints "proof hostile bundles: ok")
set -eu
X=$1
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
. "$here/expect.sh"
sum() { sha256sum < "$1" | cut -c1-64; }

# A clean bundle to start from, and a file outside it.
b=$d/bundle
mkdir -p "$b/raw" "$d/outside"
cp "$here/../data/verdicts/nogo_stale_peer.json" "$b/verdict.json"
printf 'hello\n' > "$b/raw/a.txt"
printf 'secret\n' > "$d/outside/secret.txt"
manifest() {  # extra manifest entries (JSON members, each with a trailing comma)
  printf '{"complete": true, "files": {%s "verdict.json": {"sha256": "%s"}, "raw/a.txt": {"sha256": "%s"}}}\n' \
    "$1" "$(sum "$b/verdict.json")" "$(sum "$b/raw/a.txt")" > "$b/manifest.json"
}
manifest ""
expect 0 "^bundle ok: 2 files verified$" "$X" proof verify "$b"

# Manifest entries outside the bundle are named, never opened.
manifest "\"$d/outside/secret.txt\": {\"sha256\": \"$(sum "$d/outside/secret.txt")\"}, \"../outside/secret.txt\": {\"sha256\": \"x\"},"
expect 1 "^$d/outside/secret.txt: an absolute path leaves the bundle$" "$X" proof verify "$b"
expect 1 "^../outside/secret.txt: leaves the bundle (..)$" "$X" proof verify "$b"

# A FIFO (listed or not) is refused at once, not read (timeout: a hang fails).
mkfifo "$b/raw/pipe"
manifest '"raw/pipe": {"sha256": "x"},'
expect 1 "^raw/pipe: not a regular file" timeout 20 "$X" proof verify "$b"
manifest ""
expect 1 "^raw/pipe: not a regular file$" timeout 20 "$X" proof verify "$b"
rm "$b/raw/pipe"

# Symlinks: a listed symlinked file, an unlisted symlinked folder.
ln -s "$d/outside/secret.txt" "$b/raw/link.txt"
manifest "\"raw/link.txt\": {\"sha256\": \"$(sum "$d/outside/secret.txt")\"},"
expect 1 "^raw/link.txt: is a symlink" "$X" proof verify "$b"
rm "$b/raw/link.txt"
ln -s "$d/outside" "$b/raw/linkdir"
manifest ""
expect 1 "^raw/linkdir: is a symlink" "$X" proof verify "$b"
rm "$b/raw/linkdir"

# render: a rendered/ that points outside is refused and nothing is written there;
# a rendered file that is a symlink is replaced in the bundle, its target untouched.
ln -s "$d/outside" "$b/rendered"
expect 1 "hostile bundle: .*rendered is a symlink or not a folder" "$X" proof render "$b"
test "$(ls "$d/outside")" = "secret.txt"
rm "$b/rendered"
mkdir "$b/rendered"
ln -s "$d/outside/secret.txt" "$b/rendered/summary.md"
expect 0 "Rendered" "$X" proof render "$b"
test "$(cat "$d/outside/secret.txt")" = "secret"
test -f "$b/rendered/summary.md" && test ! -L "$b/rendered/summary.md"
rm -r "$b/rendered"
expect 2 "must be a new or empty folder" "$X" proof render "$b" --out "$d/outside"
# verdict.json itself as a symlink: hostile, not followed.
mv "$b/verdict.json" "$d/verdict.json" && ln -s "$d/verdict.json" "$b/verdict.json"
expect 1 "hostile bundle: .*verdict.json: is a symlink" "$X" proof render "$b"
rm "$b/verdict.json" && mv "$d/verdict.json" "$b/verdict.json"

# rescore never loads a profile from a path the bundle names (here a FIFO: reading it would hang).
mkfifo "$d/evil.toml"
sed -e "s|\"gate\": \"limited-production\"|\"gate\": \"$d/evil.toml\"|" \
    -e "s|\"gate_source\": \"built-in:limited-production\"|\"gate_source\": \"$d/evil.toml\"|" "$b/verdict.json" > "$d/v.json"
mv "$d/v.json" "$b/verdict.json"
grep -q "$d/evil.toml" "$b/verdict.json"
mkdir -p "$b/scenarios"
expect 2 "not a built-in profile, and the bundle has no gate.toml; pass --gate" timeout 20 "$X" proof rescore "$b"
echo "proof hostile bundles: ok"
