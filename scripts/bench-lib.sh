# Shared pieces of the bench scripts (bench.sh, bench-scale.sh,
# bench-tree.sh); source it after setting BENCH_NAME and cd'ing to the
# repository root.
#
# bench_setup resolves and checks the knobs every script has:
#   BENCH_RUNS   runs; cells show the median (default 1)
#   RESTIC_BIN   restic binary (default ../shared/bin/restic-0.19.1 when
#                present, else restic on the PATH)
#   CAIRN_BIN    cairn binary, relative to the repository root (default bin/cairn)
#   BENCH_NOISE  other load, in busy cores, above which a step is marked
#                contaminated (default 0.15)
#
# bench_measure records, for one command, wall seconds, user+sys CPU
# seconds and peak RSS (GNU time), and the CPU the rest of the machine
# used meanwhile: busy time from /proc/stat (user, nice, system, irq,
# softirq, steal) over the step, minus the command's own CPU, divided by
# the wall time. That is the "load" a step is marked by: another program,
# a noisy neighbour's steal time, or writeback the kernel does for it.

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

bench_setup() {
	BENCH_RUNS=${BENCH_RUNS:-1}
	BENCH_NOISE=${BENCH_NOISE:-0.15}
	if [ -z "${RESTIC_BIN:-}" ]; then
		RESTIC_BIN=restic
		[ -x ../shared/bin/restic-0.19.1 ] && RESTIC_BIN=$(realpath ../shared/bin/restic-0.19.1)
	fi
	CAIRN_BIN=${CAIRN_BIN:-bin/cairn}
	[[ $BENCH_RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, not '$BENCH_RUNS'"
	[[ $BENCH_NOISE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_NOISE must be a number of cores, not '$BENCH_NOISE'"
	RESTIC_BIN=$(command -v "$RESTIC_BIN") || die "restic not found (set RESTIC_BIN)"
	[[ $CAIRN_BIN == */* ]] && CAIRN_BIN=$(realpath -m "$CAIRN_BIN")
	[ -x "$CAIRN_BIN" ] || die "cairn not found at $CAIRN_BIN (run make build or set CAIRN_BIN)"
	CLK_TCK=$(getconf CLK_TCK)

	# GNU time gives peak RSS; bash's time keyword does not.
	TIME=/usr/bin/time
	if ! "$TIME" -f '%e' true >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "$BENCH_NAME: installing GNU time (Debian package time)"
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
		fi
		"$TIME" -f '%e' true >/dev/null 2>&1 ||
			die "GNU time is missing: install the Debian package 'time' (apt-get install time) and retry"
	fi
}

have_cairn() { "$CAIRN_BIN" "$1" --help >/dev/null 2>&1; }

declare -A cell # [KEY,METRIC,RUN] = value; KEY names the tool and step

# busy_ticks: the machine's busy clock ticks so far, all CPUs.
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# bench_measure KEY RUN LOG CMD...: runs CMD under GNU time with its output
# in LOG and records wall, cpu, rss (KiB) and load under KEY for RUN. A
# failing command stops the benchmark with its last lines and exit 1.
bench_measure() {
	local key=$1 run=$2 log=$3
	shift 3
	local tf=$log.time b0 b1
	sync # write back what the last step left dirty, untimed
	b0=$(busy_ticks)
	if ! "$TIME" -f '%e %U %S %M' -o "$tf" "$@" >"$log" 2>&1; then
		echo "$BENCH_NAME: failed: $*" >&2
		echo "$BENCH_NAME: last lines of its output ($log):" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	b1=$(busy_ticks)
	local wall user sys rss
	read -r wall user sys rss < <(tail -n 1 "$tf")
	cell[$key,wall,$run]=$wall
	cell[$key,cpu,$run]=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
	cell[$key,rss,$run]=$rss
	cell[$key,load,$run]=$(awk -v b="$((b1 - b0))" -v hz="$CLK_TCK" -v u="$user" -v s="$sys" -v w="$wall" \
		'BEGIN { o = b / hz - u - s; if (o < 0) o = 0; if (w < 0.01) w = 0.01; printf "%.2f", o / w }')
}

# median KEY METRIC: the median over the runs, or n/a.
median() {
	local vals=() r
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		[ -n "${cell[$1,$2,$r]:-}" ] && vals+=("${cell[$1,$2,$r]}")
	done
	if [ ${#vals[@]} -eq 0 ]; then
		echo n/a
		return
	fi
	printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}

# ratio A B: B / A with two decimals, or n/a.
ratio() {
	if [ "$1" = n/a ] || [ "$2" = n/a ]; then
		echo n/a
	else
		awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }'
	fi
}

# mib KIB: KiB as whole MiB.
mib() {
	if [ "$1" = n/a ]; then echo n/a; else awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; fi
}

# noise KEY...: "max-load/contaminated-runs" over the runs of the steps
# KEY..., e.g. "0.04" when clean or "0.62 2/3*" when 2 of 3 runs of any of
# them had more than BENCH_NOISE cores of other load.
noise() {
	local r k l max=0 bad=0 dirty
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		dirty=0
		for k in "$@"; do
			l=${cell[$k,load,$r]:-}
			[ -n "$l" ] || continue
			max=$(awk -v a="$max" -v b="$l" 'BEGIN { print (b > a) ? b : a }')
			awk -v l="$l" -v t="$BENCH_NOISE" 'BEGIN { exit !(l > t) }' && dirty=1
		done
		bad=$((bad + dirty))
	done
	if [ "$bad" -gt 0 ]; then
		printf '%.2f %d/%d*\n' "$max" "$bad" "$BENCH_RUNS"
	else
		printf '%.2f\n' "$max"
	fi
}

# noise_legend: the line explaining the load column.
noise_legend() {
	echo "load = other busy cores during the step (/proc/stat minus the command's own CPU), the largest over the runs of both tools; * = runs above $BENCH_NOISE cores (contaminated)"
}
