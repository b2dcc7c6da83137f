#!/usr/bin/env bash
# The main job of cairn on the default (local) backend, end to end, in
# ./demo: a repository with a generated password file, then what cairn can
# do with it so far.
set -euo pipefail
cairn=$(realpath "${1:-bin/cairn}")
cd "$(dirname "$0")/.."
rm -rf demo
mkdir -p demo
head -c 24 /dev/urandom | base64 > demo/password
chmod 600 demo/password
export CAIRN_REPOSITORY="$PWD/demo/repo" CAIRN_PASSWORD_FILE="$PWD/demo/password"

step() { printf '\n$ cairn %s\n' "$*"; "$cairn" "$@"; }

# A small sample tree: text, random data, a symlink, a nested directory.
mkdir -p demo/data/docs/notes demo/data/bin
for i in $(seq 1 50); do echo "note $i: cairn keeps restic repositories healthy" > "demo/data/docs/notes/note-$i.txt"; done
head -c 3000000 /dev/urandom > demo/data/bin/blob.bin
seq 1 200000 > demo/data/docs/numbers.txt
ln -s docs/numbers.txt demo/data/numbers-link

step init
step key list
step backup demo/data
echo "change" >> demo/data/docs/notes/note-1.txt
step backup demo/data
step snapshots
step ls latest
step restore latest --target demo/restored --verify
diff -r demo/data demo/restored/demo/data && echo "restored tree is identical to the source"
if command -v restic >/dev/null 2>&1; then
	export RESTIC_REPOSITORY=$CAIRN_REPOSITORY RESTIC_PASSWORD_FILE=$CAIRN_PASSWORD_FILE
	printf '\n$ restic check --read-data   # restic verifies every byte cairn wrote\n'
	restic check --read-data
fi
printf '\ndemo repository: %s (password in demo/password)\n' "$CAIRN_REPOSITORY"
