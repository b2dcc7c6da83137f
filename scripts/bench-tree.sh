#!/usr/bin/env bash
# Many-small-files benchmark: cairn against restic on a generated tree of
# BENCH_TREE_FILES files in BENCH_TREE_DIRS directories (tools/treegen),
# each tool with its own fresh local repository and cache:
#
#   1 first backup, 2 unchanged backup (same tree, parent detected).
#
# Reported per step: wall seconds, user+sys CPU seconds and peak RSS (GNU
# time), the median over BENCH_RUNS runs, with cairn/restic ratios. The
# table also goes to BENCH_RESULTS.
#
# Knobs (environment):
#   BENCH_TREE_FILES  number of files           (default 1000000)
#   BENCH_TREE_DIRS   number of directories     (default 1000)
#   BENCH_DIR         work directory; the tree in it is reused when the
#                     parameters match          (default $TMPDIR/cairn-bench-tree)
#   BENCH_RUNS        runs; cells show the median (default 1)
#   RESTIC_BIN        restic binary (default ../shared/bin/restic-0.19.1 when
#                     present, else restic on PATH)
#   CAIRN_BIN         cairn binary, relative to the repository root (default bin/cairn)
#   BENCH_RESULTS     where to write the table  (default bench-tree-results.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=${BENCH_TREE_FILES:-1000000}
DIRS=${BENCH_TREE_DIRS:-1000}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-tree}
BENCH_RUNS=${BENCH_RUNS:-1}
if [ -z "${RESTIC_BIN:-}" ]; then
	RESTIC_BIN=restic
	[ -x ../shared/bin/restic-0.19.1 ] && RESTIC_BIN=$(realpath ../shared/bin/restic-0.19.1)
fi
CAIRN_BIN=${CAIRN_BIN:-bin/cairn}
RESULTS=${BENCH_RESULTS:-bench-tree-results.txt}

die() { echo "bench-tree: $*" >&2; exit 1; }

[[ $BENCH_RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, not '$BENCH_RUNS'"
[[ $FILES =~ ^[0-9]+$ && $DIRS =~ ^[1-9][0-9]*$ ]] || die "BENCH_TREE_FILES and BENCH_TREE_DIRS must be numbers"
RESTIC_BIN=$(command -v "$RESTIC_BIN") || die "restic not found (set RESTIC_BIN)"
[[ $CAIRN_BIN == */* ]] && CAIRN_BIN=$(realpath -m "$CAIRN_BIN")
[ -x "$CAIRN_BIN" ] || die "cairn binary $CAIRN_BIN missing (make build)"
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(realpath "$BENCH_DIR")

TIME=/usr/bin/time
"$TIME" -f '%e' true >/dev/null 2>&1 ||
	die "GNU time is missing: install the Debian package 'time' (apt-get install time) and retry"

# The tree: treegen skips the work when its stamp matches the parameters.
DATA=$BENCH_DIR/data-$FILES-$DIRS
go build -o "$BENCH_DIR/treegen" ./tools/treegen
echo "bench-tree: tree $DATA ($FILES files, $DIRS dirs)"
"$BENCH_DIR/treegen" -out "$DATA" -files "$FILES" -dirs "$DIRS"

declare -A cell
STEPS=(first unchanged)

# measure TOOL STEP RUN CMD...: runs CMD under GNU time into $BENCH_DIR/time.out.
measure() {
	local tool=$1 step=$2 run=$3
	shift 3
	local tf=$BENCH_DIR/time.out log=$BENCH_DIR/$tool-$step.log
	if ! "$TIME" -f '%e %U %S %M' -o "$tf" "$@" >"$log" 2>&1; then
		tail -5 "$log" >&2
		die "$tool $step failed (log: $log)"
	fi
}

export RESTIC_PASSWORD=bench
for run in $(seq "$BENCH_RUNS"); do
	for tool in restic cairn; do
		bin=$RESTIC_BIN
		[ $tool = cairn ] && bin=$CAIRN_BIN
		repo=$BENCH_DIR/repo-$tool cache=$BENCH_DIR/cache-$tool
		rm -rf "$repo" "$cache"
		"$bin" -r "$repo" --cache-dir "$cache" init >/dev/null
		for step in "${STEPS[@]}"; do
			echo "bench-tree: run $run: $tool $step backup"
			(cd "$DATA" && measure $tool "$step" "$run" "$bin" -r "$repo" --cache-dir "$cache" backup --host bench .)
			# measure ran in a subshell (for cd): read its figures here.
			read -r wall user sys rss <"$BENCH_DIR/time.out"
			cell[$tool,$step,wall,$run]=$wall
			cell[$tool,$step,cpu,$run]=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
			cell[$tool,$step,rss,$run]=$(awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }')
		done
	done
done

median() {
	local vals=() r
	for r in $(seq "$BENCH_RUNS"); do vals+=("${cell[$1,$2,$3,$r]}"); done
	printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }'; }

{
	fmt='%-10s %8s %8s %6s   %8s %8s %6s   %8s %8s %6s\n'
	printf "$fmt" "" "wall s" "" "" "cpu s" "" "" "RSS MiB" "" ""
	printf "$fmt" step restic cairn ratio restic cairn ratio restic cairn ratio
	for step in "${STEPS[@]}"; do
		row=()
		for m in wall cpu rss; do
			r=$(median restic "$step" $m) c=$(median cairn "$step" $m)
			row+=("$r" "$c" "$(ratio "$r" "$c")")
		done
		printf "$fmt" "$step" "${row[@]}"
	done
	echo
	echo "tree: $FILES files in $DIRS dirs; runs: $BENCH_RUNS (median shown); ratio = cairn / restic"
	echo "restic: $("$RESTIC_BIN" version | head -1)"
	echo "loadavg at end: $(cat /proc/loadavg)"
} | tee "$RESULTS"
