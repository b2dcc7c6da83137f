#!/usr/bin/env bash
# How cairn and restic scale with the size of the index: for each blob count
# N, a restic repository (version 2) with one small snapshot (three files)
# plus N synthetic blobs written by tools/scalegen (tiny blobs, 5 % trees,
# packs of ~2,000 blobs, index files of 50,000 blobs), and then, for each
# tool, wall time, user+sys CPU and peak RSS (GNU time) of commands that
# load the whole index:
#
#   backup of the three small files, check, prune --dry-run,
#   stats --mode raw-data, restore latest, copy of the snapshot into a
#   fresh repository (--from-repo).
#
# prune runs with --dry-run only: nothing references the synthetic blobs,
# so a real prune would delete their packs and change the fixture for
# everything after it. backup adds a snapshot (no new data) on every run,
# which the later commands see; the copy names the fixture's snapshot.
#
# Each tool has its own cache directory, warmed by one untimed `list blobs`.
# Runs alternate which tool goes first. The table per N shows medians over
# BENCH_RUNS, and after the last N a line per command with the bytes of RSS
# per extra blob between the first and the last N. The table also goes to
# BENCH_RESULTS. A cairn command that does not exist yet shows as n/a; a
# command that fails stops the benchmark with its stderr and a non-zero exit.
#
# Knobs (environment):
#   BENCH_SCALE_BLOBS  blob counts                     (default "1000000 5000000")
#   BENCH_SEED         scalegen seed                   (default 1)
#   BENCH_DIR          work directory; the repository for an N is reused
#                      when N, seed and generator match (default $TMPDIR/cairn-bench-scale)
#   BENCH_RUNS         runs per N; cells show the median (default 1)
#   RESTIC_BIN         restic binary (default ../shared/bin/restic-0.19.1 when
#                      present, else restic on the PATH)
#   CAIRN_BIN          cairn binary, relative to the repository root (default bin/cairn)
#   BENCH_NOISE        load (busy cores) that marks a step contaminated (default 0.15)
#   BENCH_RESULTS      where to write the table        (default bench-scale-results.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_NAME=bench-scale
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

BENCH_SCALE_BLOBS=${BENCH_SCALE_BLOBS:-1000000 5000000}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-scale}
RESULTS=${BENCH_RESULTS:-bench-scale-results.txt}
bench_setup
read -r -a COUNTS <<<"$BENCH_SCALE_BLOBS"
[ ${#COUNTS[@]} -gt 0 ] || die "BENCH_SCALE_BLOBS is empty"
for n in "${COUNTS[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALE_BLOBS must list positive numbers, not '$n'"
done
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(realpath "$BENCH_DIR")

SCALEGEN=$BENCH_DIR/scalegen
go build -o "$SCALEGEN" ./tools/scalegen
GEN_HASH=$(cat tools/scalegen/*.go | sha256sum | cut -c1-16)
TOOLS=(restic cairn)
STEPS=(backup check prune stats restore copy)

# --- the fixture ----------------------------------------------------------------
#
# $BENCH_DIR/n$N holds repo/, password, data/ (the three files) and snapshot
# (the ID of the fixture's snapshot). The stamp records N, seed and a hash of
# the generator's source; anything else (or an interrupted generation)
# makes it again.

# fixture N: sets FIX to the fixture directory for N blobs, made if needed.
fixture() {
	local n=$1 want
	FIX=$BENCH_DIR/n$n
	want="blobs=$n seed=$BENCH_SEED gen=$GEN_HASH"
	if [ "$(cat "$FIX/stamp" 2>/dev/null)" = "$want" ]; then
		echo "bench-scale: reusing $FIX ($want)"
		return
	fi
	echo "bench-scale: making $FIX ($want)"
	rm -rf "$FIX"
	mkdir -p "$FIX/data"
	head -c 24 /dev/urandom | base64 >"$FIX/password"
	printf 'alpha\n' >"$FIX/data/a.txt"
	head -c 5000 /dev/urandom >"$FIX/data/b.bin"
	seq 1 2000 >"$FIX/data/c.txt"
	local base=(env -u RESTIC_PASSWORD -u RESTIC_PASSWORD_COMMAND RESTIC_CACHE_DIR="$FIX/cache-restic"
		"$RESTIC_BIN" -r "$FIX/repo" --password-file "$FIX/password")
	"${base[@]}" init -q --repository-version 2 >/dev/null
	"${base[@]}" backup --json --host bench "$FIX/data" |
		sed -n 's/.*"snapshot_id":"\([0-9a-f]\{64\}\)".*/\1/p' >"$FIX/snapshot"
	[ -s "$FIX/snapshot" ] || die "could not read the fixture's snapshot ID"
	"$SCALEGEN" -repo "$FIX/repo" -password-file "$FIX/password" -blobs "$n" -seed "$BENCH_SEED"
	echo "$want" >"$FIX/stamp"
}

# --- measuring ------------------------------------------------------------------

# tool_cmd TOOL REPO: sets CMD to the tool on REPO with the fixture's
# password and the tool's own cache. Passwords from the caller's
# environment would compete with the file.
tool_cmd() {
	local bin=$RESTIC_BIN
	[ "$1" = cairn ] && bin=$CAIRN_BIN
	CMD=(env -u RESTIC_PASSWORD -u RESTIC_PASSWORD_COMMAND -u CAIRN_PASSWORD -u CAIRN_PASSWORD_COMMAND
		-u RESTIC_REPOSITORY -u RESTIC_FROM_REPOSITORY
		RESTIC_CACHE_DIR="$FIX/cache-$1" CAIRN_CACHE_DIR="$FIX/cache-$1"
		"$bin" -r "$2" --password-file "$FIX/password")
}

# measure N TOOL STEP RUN CMD...: runs CMD under GNU time, records wall,
# user+sys, peak RSS (KiB) and load, and stops the benchmark if CMD fails.
measure() {
	local n=$1 tool=$2 step=$3 run=$4
	shift 4
	bench_measure "$n,$tool,$step" "$run" "$BENCH_DIR/$tool.$step.log" "$@"
}

# step N TOOL STEP RUN: one timed command.
step() {
	local n=$1 tool=$2 st=$3 run=$4 repo=$FIX/repo
	if [ "$tool" = cairn ]; then
		have_cairn "$st" || return 0
	fi
	echo "bench-scale: $n blobs, run $run: $tool $st"
	case $st in
	backup)
		tool_cmd "$tool" "$repo"
		measure "$n" "$tool" "$st" "$run" "${CMD[@]}" backup -q --host bench "$FIX/data"
		;;
	check)
		tool_cmd "$tool" "$repo"
		measure "$n" "$tool" "$st" "$run" "${CMD[@]}" check
		;;
	prune)
		tool_cmd "$tool" "$repo"
		measure "$n" "$tool" "$st" "$run" "${CMD[@]}" prune --dry-run
		;;
	stats)
		tool_cmd "$tool" "$repo"
		measure "$n" "$tool" "$st" "$run" "${CMD[@]}" stats --mode raw-data
		;;
	restore)
		rm -rf "$FIX/restore-$tool"
		tool_cmd "$tool" "$repo"
		measure "$n" "$tool" "$st" "$run" "${CMD[@]}" restore -q latest --target "$FIX/restore-$tool"
		rm -rf "$FIX/restore-$tool"
		;;
	copy)
		# A fresh destination made by restic for both tools, untimed.
		local dst=$FIX/copy-$tool
		rm -rf "$dst"
		tool_cmd restic "$dst"
		"${CMD[@]}" init -q --repository-version 2 >/dev/null
		tool_cmd "$tool" "$dst"
		measure "$n" "$tool" "$st" "$run" "${CMD[@]}" copy -q --from-repo "$repo" \
			--from-password-file "$FIX/password" "$(cat "$FIX/snapshot")"
		rm -rf "$dst"
		;;
	esac
}

one_n() {
	local n=$1 run tool st order
	fixture "$n"
	for tool in "${TOOLS[@]}"; do
		[ "$tool" = cairn ] && ! have_cairn list && continue
		echo "bench-scale: $n blobs: warming the $tool cache"
		tool_cmd "$tool" "$FIX/repo"
		"${CMD[@]}" list blobs >/dev/null 2>"$BENCH_DIR/warm.log" || {
			cat "$BENCH_DIR/warm.log" >&2
			die "$tool list blobs failed at $n blobs"
		}
	done
	for ((run = 1; run <= BENCH_RUNS; run++)); do
		order=(restic cairn)
		((run % 2 == 0)) && order=(cairn restic)
		for st in "${STEPS[@]}"; do
			for tool in "${order[@]}"; do
				step "$n" "$tool" "$st" "$run"
			done
		done
	done
}

# --- reporting ------------------------------------------------------------------

table() {
	local n=$1 st m r c row
	local fmt='%-16s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s | %s\n'
	echo "$n blobs (plus the snapshot's):"
	# shellcheck disable=SC2059
	printf "$fmt" "" "wall s" "" "" "cpu s" "" "" "RSS MiB" "" "" ""
	# shellcheck disable=SC2059
	printf "$fmt" command restic cairn ratio restic cairn ratio restic cairn ratio load
	for st in "${STEPS[@]}"; do
		row=()
		for m in wall cpu; do
			r=$(median "$n,restic,$st" "$m")
			c=$(median "$n,cairn,$st" "$m")
			row+=("$r" "$c" "$(ratio "$r" "$c")")
		done
		r=$(median "$n,restic,$st" rss)
		c=$(median "$n,cairn,$st" rss)
		row+=("$(mib "$r")" "$(mib "$c")" "$(ratio "$r" "$c")")
		# shellcheck disable=SC2059
		printf "$fmt" "$(label "$st")" "${row[@]}" "$(noise "$n,restic,$st" "$n,cairn,$st")"
	done
	echo
}

label() {
	case $1 in
	prune) echo "prune --dry-run" ;;
	stats) echo "stats raw-data" ;;
	restore) echo "restore latest" ;;
	*) echo "$1" ;;
	esac
}

# per_blob: (RSS at the last N - RSS at the first N) / (difference of N), in
# bytes, per tool and command.
per_blob() {
	local lo=${COUNTS[0]} hi=${COUNTS[${#COUNTS[@]} - 1]} st tool a b out
	[ "$lo" != "$hi" ] || return 0
	echo "bytes per extra blob = (RSS at $hi - RSS at $lo) / $((hi - lo)):"
	printf '%-16s | %8s %8s %6s\n' command restic cairn ratio
	for st in "${STEPS[@]}"; do
		out=()
		for tool in "${TOOLS[@]}"; do
			a=$(median "$lo,$tool,$st" rss)
			b=$(median "$hi,$tool,$st" rss)
			if [ "$a" = n/a ] || [ "$b" = n/a ]; then
				out+=(n/a)
			else
				out+=("$(awk -v a="$a" -v b="$b" -v d="$((hi - lo))" 'BEGIN { printf "%.0f", (b - a) * 1024 / d }')")
			fi
		done
		printf '%-16s | %8s %8s %6s\n' "$(label "$st")" "${out[@]}" "$(ratio "${out[0]}" "${out[1]}")"
	done
}

for n in "${COUNTS[@]}"; do
	one_n "$n"
done

{
	echo "cairn vs restic at scale, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "fixture: $BENCH_DIR/n<N> (scalegen seed=$BENCH_SEED gen=$GEN_HASH)"
	echo "restic: $("$RESTIC_BIN" version)"
	echo "cairn:  $("$CAIRN_BIN" version 2>/dev/null || echo "unknown ($CAIRN_BIN)")"
	echo "runs: $BENCH_RUNS (median shown); ratio = cairn / restic; n/a = command missing in cairn"
	noise_legend
	echo
	for n in "${COUNTS[@]}"; do
		table "$n"
	done
	per_blob
} | tee "$RESULTS"
