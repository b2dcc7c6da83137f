#!/usr/bin/env bash
# Backup and restore throughput of restic and cairn on the remote backends (SFTP via
# OpenSSH's sshd, REST via rest-server 0.14.0, S3 via versitygw 1.8.0), all
# on loopback, from the Go benchmarks BenchmarkRemoteBackup (each run backs
# BENCH_REMOTE_MIB, default 256, MiB up into a fresh repository) and
# BenchmarkRemoteRestore (each run restores it into an empty directory
# with an empty cache). Prints the
# median of BENCH_RUNS runs (default 3) per tool and backend, and the ratio
# cairn/restic.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
out=$(go test -run '^$' -bench 'Remote(Backup|Restore)' -benchtime 1x -count "$runs" ./cmd/cairn 2>&1 | grep '^BenchmarkRemote')
printf "%-14s %-14s %10s %10s %7s\n" step metric restic cairn ratio
echo "$out" | awk '
function median(key,    n, i, j, t, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++) a[i] = vals[key, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	split($1, p, "/"); op = tolower(p[1]); sub(/^benchmarkremote/, "", op)
	be = op " " p[2]; tool = p[3]; sub(/-[0-9]+$/, "", tool)
	for (i = 3; i < NF; i += 2) {
		m = $(i + 1); v = $i
		if (m == "ns/op") { m = "wall-s"; v = v / 1e9 }
		k = be SUBSEP tool SUBSEP m
		vals[k, ++cnt[k]] = v
		metrics[m] = 1; backends[be] = 1
	}
}
END {
	for (be in backends) for (m in metrics) {
		r = median(be SUBSEP "restic" SUBSEP m); c = median(be SUBSEP "cairn" SUBSEP m)
		printf "%-14s %-14s %10.2f %10.2f %7.2f\n", be, m, r, c, (r > 0 ? c / r : 0)
	}
}' | sort
