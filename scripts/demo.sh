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

step init
step cat config
step key list
step list keys
if command -v restic >/dev/null 2>&1; then
	printf '\n$ restic cat config   # restic opens the same repository\n'
	RESTIC_REPOSITORY=$CAIRN_REPOSITORY RESTIC_PASSWORD_FILE=$CAIRN_PASSWORD_FILE restic cat config
fi
printf '\ndemo repository: %s (password in demo/password)\n' "$CAIRN_REPOSITORY"
