#!/usr/bin/env bash
# Lock contention side by side: WRITERS processes back up in a loop
# (ROUNDS each) while one process runs `forget --keep-last 2 --prune` in a
# loop, against one repository per tool. Prints how many runs failed.
# Usage: scripts/contention.sh [cairn-binary]   (RESTIC_BIN, WRITERS, ROUNDS)
set -uo pipefail
cd "$(dirname "$0")/.."
CAIRN=$(realpath "${1:-bin/cairn}")
RESTIC=${RESTIC_BIN:-restic}
WRITERS=${WRITERS:-4}
ROUNDS=${ROUNDS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for w in $(seq 1 "$WRITERS"); do
	mkdir -p "$work/data/w$w"
	for f in 1 2 3 4 5; do head -c 262144 /dev/urandom > "$work/data/w$w/f$f"; done
done
export RESTIC_PASSWORD=contention CAIRN_PASSWORD=contention

run_tool() { # name binary
	local name=$1 bin=$2 repo="$work/repo-$1"
	export RESTIC_REPOSITORY=$repo RESTIC_CACHE_DIR="$work/cache-$1" CAIRN_CACHE_DIR="$work/cache-$1"
	"$bin" init -q >/dev/null 2>&1 || { echo "$name: init failed"; return; }
	: > "$work/$name.results"
	for w in $(seq 1 "$WRITERS"); do
		(for r in $(seq 1 "$ROUNDS"); do
			echo "round $r" > "$work/data/w$w/round"
			if "$bin" backup -q --host "h$w" "$work/data/w$w" >/dev/null 2>>"$work/$name.err"; then echo "backup ok"; else echo "backup fail"; fi
		done >> "$work/$name.results") &
	done
	(while [ ! -e "$work/$name.stop" ]; do
		if "$bin" forget -q --keep-last 2 --prune >/dev/null 2>>"$work/$name.err"; then echo "prune ok"; else echo "prune fail"; fi
	done >> "$work/$name.results") &
	local pruner=$!
	while [ "$(grep -c '^backup' "$work/$name.results")" -lt $((WRITERS * ROUNDS)) ]; do sleep 0.2; done
	touch "$work/$name.stop"
	wait
	local bf bt pf pt
	bt=$(grep -c '^backup' "$work/$name.results"); bf=$(grep -c '^backup fail' "$work/$name.results")
	pt=$(grep -c '^prune' "$work/$name.results"); pf=$(grep -c '^prune fail' "$work/$name.results")
	printf '%-7s backups failed %3d of %3d, forget --prune failed %3d of %3d\n' "$name" "$bf" "$bt" "$pf" "$pt"
	"$RESTIC" -r "$repo" check -q >/dev/null 2>&1 && echo "$name: restic check clean" || echo "$name: restic check FAILED"
}
run_tool restic "$(command -v "$RESTIC")"
run_tool cairn "$CAIRN"
