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
#   BENCH_NOISE       load (busy cores) that marks a step contaminated (default 0.15)
#   BENCH_RESULTS     where to write the table  (default bench-tree-results.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_NAME=bench-tree
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

FILES=${BENCH_TREE_FILES:-1000000}
DIRS=${BENCH_TREE_DIRS:-1000}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-tree}
RESULTS=${BENCH_RESULTS:-bench-tree-results.txt}
bench_setup
[[ $FILES =~ ^[0-9]+$ && $DIRS =~ ^[1-9][0-9]*$ ]] || die "BENCH_TREE_FILES and BENCH_TREE_DIRS must be numbers"
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(realpath "$BENCH_DIR")

# The tree: treegen skips the work when its stamp matches the parameters.
DATA=$BENCH_DIR/data-$FILES-$DIRS
go build -o "$BENCH_DIR/treegen" ./tools/treegen
echo "bench-tree: tree $DATA ($FILES files, $DIRS dirs)"
"$BENCH_DIR/treegen" -out "$DATA" -files "$FILES" -dirs "$DIRS"

STEPS=(first unchanged)

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
			# Relative paths, as restic users back up a tree they cd into.
			bench_measure "$tool,$step" "$run" "$BENCH_DIR/$tool-$step.log" \
				env -C "$DATA" "$bin" -r "$repo" --cache-dir "$cache" backup --host bench .
		done
	done
done

{
	fmt='%-10s %8s %8s %6s   %8s %8s %6s   %8s %8s %6s   %s\n'
	# shellcheck disable=SC2059
	printf "$fmt" "" "wall s" "" "" "cpu s" "" "" "RSS MiB" "" "" ""
	# shellcheck disable=SC2059
	printf "$fmt" step restic cairn ratio restic cairn ratio restic cairn ratio load
	for step in "${STEPS[@]}"; do
		row=()
		for m in wall cpu rss; do
			r=$(median "restic,$step" $m) c=$(median "cairn,$step" $m)
			[ $m = rss ] && r=$(mib "$r") c=$(mib "$c")
			row+=("$r" "$c" "$(ratio "$r" "$c")")
		done
		# shellcheck disable=SC2059
		printf "$fmt" "$step" "${row[@]}" "$(noise "restic,$step" "cairn,$step")"
	done
	echo
	echo "tree: $FILES files in $DIRS dirs; runs: $BENCH_RUNS (median shown); ratio = cairn / restic"
	echo "restic: $("$RESTIC_BIN" version | head -1)"
	noise_legend
	echo "loadavg at end: $(cat /proc/loadavg)"
} | tee "$RESULTS"
