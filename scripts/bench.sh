#!/usr/bin/env bash
# Side-by-side benchmark of cairn and restic on the same generated data set
# (tools/benchgen), each with its own fresh local repository and cache:
#
#   1 first backup, 2 unchanged backup (parent detection), [5 % of the
#   files changed], 3 backup after the change, 4 restore of the latest
#   snapshot.
#
# Each step runs restic first, then cairn (the other way round in even
# runs). A cairn command that does not
# exist yet (`cairn backup --help` fails) shows as n/a. Reported per step:
# wall seconds, user+sys CPU seconds, peak RSS (GNU time), the size of
# the repository afterwards, and the load: CPU the rest of the machine used
# during the step (see scripts/bench-lib.sh); a step with more than
# BENCH_NOISE busy cores of it in some run is marked contaminated (*).
# Medians, then every run's wall ratio with its load, go to the terminal
# and to BENCH_RESULTS. The script fails only when a command fails.
#
# Knobs (environment):
#   BENCH_SIZE   data set size, K/M/G suffix          (default 2G)
#   BENCH_SEED   benchgen seed                        (default 1)
#   BENCH_DIR    work directory; the data set in it is reused when size,
#                seed and generator match             (default $TMPDIR/cairn-bench)
#   BENCH_RUNS   runs of the whole sequence; cells show the median (default 1)
#   RESTIC_BIN   restic binary (default ../shared/bin/restic-0.19.1 when
#                present, else restic on PATH)
#   BENCH_NOISE  load (busy cores) that marks a step contaminated (default 0.15)
#   CAIRN_BIN    cairn binary, relative to the repository root (default bin/cairn)
#   BENCH_RESULTS  where to write the table           (default bench-results.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

BENCH_SIZE=${BENCH_SIZE:-2G}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench}
RESULTS=${BENCH_RESULTS:-bench-results.txt}
bench_setup
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(realpath "$BENCH_DIR")

# --- the data set -----------------------------------------------------------
#
# Step 3 needs the data changed, and both tools must see the same change, so
# it is made once, between the step-2 and step-3 runs. The stamp beside the
# data records size, seed and a hash of the generator's source, and whether
# the data was mutated. Mutated (or stale, or interrupted) data is simply
# generated again at the start of the next run: that costs seconds, which is
# little next to the backups, and it is always right.

DATA=$BENCH_DIR/data
STAMP=$BENCH_DIR/data.stamp
BENCHGEN=$BENCH_DIR/benchgen
go build -o "$BENCHGEN" ./tools/benchgen
GEN_ID="size=$BENCH_SIZE seed=$BENCH_SEED gen=$(cat tools/benchgen/*.go | sha256sum | cut -c1-16)"

fresh_data() {
	if [ "$(cat "$STAMP" 2>/dev/null)" = "$GEN_ID fresh" ]; then
		return
	fi
	rm -rf "$DATA" "$STAMP"
	"$BENCHGEN" -out "$DATA" -size "$BENCH_SIZE" -seed "$BENCH_SEED"
	echo "$GEN_ID fresh" >"$STAMP"
}

mutate_data() {
	echo "$GEN_ID mutated" >"$STAMP" # before the change, in case it is cut short
	"$BENCHGEN" -out "$DATA" -mutate 5 -seed "$BENCH_SEED"
}

# --- measuring ----------------------------------------------------------------

DATA_DESC=""
STEPS=(1 2 3 4)
declare -A STEP_NAME=([1]="1 first backup" [2]="2 unchanged backup" [3]="3 backup after 5% change" [4]="4 restore latest")

# measure TOOL STEP RUN CMD...: runs CMD under GNU time with the tool's
# repository environment, and records wall, cpu, rss and load.
measure() {
	local tool=$1 step=$2 run=$3
	shift 3
	bench_measure "$tool,$step" "$run" "$BENCH_DIR/$tool.step$step.log" "$@"
}

# repo_size TOOL STEP RUN: records the repository size in MiB.
repo_size() {
	local bytes
	bytes=$(du -sb "$BENCH_DIR/repos/$1/repo" | cut -f1)
	cell[$1,$2,repo,$3]=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
}

# tool_cmd TOOL: sets CMD to the tool with its repository, password and
# cache, as a command GNU time can run (env execs the tool, so time sees it).
# Passwords from the caller's environment would compete with the file.
tool_cmd() {
	local bin=$RESTIC_BIN dir=$BENCH_DIR/repos/$1 v unset=()
	[ "$1" = cairn ] && bin=$CAIRN_BIN
	for v in RESTIC_PASSWORD RESTIC_PASSWORD_COMMAND CAIRN_PASSWORD CAIRN_PASSWORD_COMMAND; do
		unset+=(-u "$v")
	done
	CMD=(env "${unset[@]}" RESTIC_CACHE_DIR="$dir/cache" CAIRN_CACHE_DIR="$dir/cache"
		"$bin" -r "$dir/repo" --password-file "$BENCH_DIR/repos/password")
}

one_run() {
	local run=$1 tools=(restic) restore_tools=(restic)
	have_cairn backup && tools+=(cairn)
	have_cairn backup && have_cairn restore && restore_tools+=(cairn)
	if ((run % 2 == 0)); then # alternate who goes first
		[ ${#tools[@]} = 2 ] && tools=(cairn restic)
		[ ${#restore_tools[@]} = 2 ] && restore_tools=(cairn restic)
	fi

	fresh_data
	[ -n "$DATA_DESC" ] || DATA_DESC="$(find "$DATA" -type f | wc -l) files, $(find "$DATA" -type d | wc -l) dirs, $(find "$DATA" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }') bytes"
	rm -rf "$BENCH_DIR/repos"
	mkdir -p "$BENCH_DIR/repos"
	head -c 24 /dev/urandom | base64 >"$BENCH_DIR/repos/password"
	for tool in "${tools[@]}"; do
		tool_cmd "$tool"
		"${CMD[@]}" init -q >/dev/null
	done

	for step in 1 2 3; do
		[ "$step" = 3 ] && mutate_data
		for tool in "${tools[@]}"; do
			echo "bench: run $run, step ${STEP_NAME[$step]}: $tool"
			tool_cmd "$tool"
			measure "$tool" "$step" "$run" "${CMD[@]}" backup -q --host bench "$DATA"
			repo_size "$tool" "$step" "$run"
		done
	done
	for tool in "${restore_tools[@]}"; do
		echo "bench: run $run, step ${STEP_NAME[4]}: $tool"
		tool_cmd "$tool"
		# Restored trees stay until the end: on ext4, creating files soon
		# after tens of thousands were deleted costs far more kernel time
		# (the allocator skips recently freed inodes), which would charge
		# one tool for the other's cleanup.
		measure "$tool" 4 "$run" "${CMD[@]}" restore -q --host bench --target "$BENCH_DIR/restore/$tool.$run" latest
		repo_size "$tool" 4 "$run"
	done
}

# --- reporting ----------------------------------------------------------------

table() {
	local fmt='%-26s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s | %9s %9s %6s | %s\n'
	# shellcheck disable=SC2059
	printf "$fmt" "" "wall s" "" "" "cpu s" "" "" "RSS MiB" "" "" "repo MiB" "" "" ""
	# shellcheck disable=SC2059
	printf "$fmt" step restic cairn ratio restic cairn ratio restic cairn ratio restic cairn ratio load
	local step m row r c
	for step in "${STEPS[@]}"; do
		row=()
		for m in wall cpu rss repo; do
			r=$(median "restic,$step" "$m")
			c=$(median "cairn,$step" "$m")
			if [ "$m" = rss ]; then
				row+=("$(mib "$r")" "$(mib "$c")" "$(ratio "$r" "$c")")
			else
				row+=("$r" "$c" "$(ratio "$r" "$c")")
			fi
		done
		# shellcheck disable=SC2059
		printf "$fmt" "${STEP_NAME[$step]}" "${row[@]}" "$(noise "restic,$step" "cairn,$step")"
	done
}

# runs: the wall-time ratio of every run, with each tool's load.
runs() {
	local step run r c
	echo "per run: wall ratio (restic load, cairn load); * = contaminated"
	for step in "${STEPS[@]}"; do
		printf '%-26s |' "${STEP_NAME[$step]}"
		for ((run = 1; run <= BENCH_RUNS; run++)); do
			r=${cell[restic,$step,wall,$run]:-n/a} c=${cell[cairn,$step,wall,$run]:-n/a}
			printf ' %s (%s, %s)%s' "$(ratio "$r" "$c")" "${cell[restic,$step,load,$run]:-n/a}" "${cell[cairn,$step,load,$run]:-n/a}" \
				"$(awk -v a="${cell[restic,$step,load,$run]:-0}" -v b="${cell[cairn,$step,load,$run]:-0}" -v t="$BENCH_NOISE" 'BEGIN { if (a > t || b > t) print "*" }')"
		done
		echo
	done
}

rm -rf "$BENCH_DIR/restore"
for ((run = 1; run <= BENCH_RUNS; run++)); do
	one_run "$run"
done
rm -rf "$BENCH_DIR/restore"

{
	echo "cairn vs restic, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
	echo "data: $DATA ($GEN_ID): $DATA_DESC before the change"
	echo "restic: $("$RESTIC_BIN" version)"
	echo "cairn:  $("$CAIRN_BIN" version 2>/dev/null || echo "not built ($CAIRN_BIN)")"
	echo "runs: $BENCH_RUNS (median shown); ratio = cairn / restic; n/a = command missing in cairn"
	noise_legend
	echo
	table
	echo
	runs
} | tee "$RESULTS"
