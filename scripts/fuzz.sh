#!/usr/bin/env bash
# Runs every Fuzz* target of the module for the given time each.
set -euo pipefail
fuzztime=${1:-10s}
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz $pkg $name ($fuzztime)"
		# Minimizing each new interesting input may take up to a minute
		# by default, during which a worker runs nothing else (seen as
		# "0/sec" for the rest of a short run); a few seconds is enough
		# for the small inputs here, and a failing input is written anyway.
		run() { go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime=3s "$pkg" 2>&1; }
		out=$(run) || {
			# Go's fuzz coordinator gives up with "context deadline exceeded"
			# when a worker is starved of CPU, without a failing input. Try
			# once more in that case only.
			if [[ $out == *"context deadline exceeded"* && $out != *"Failing input written"* ]]; then
				echo "  (fuzz coordinator timed out without an input; retrying once)"
				out=$(run) || false
			else
				false
			fi
		} || {
			# Show why, and the failing input the fuzzer wrote, then fail.
			printf '%s\n' "$out" | grep -v '^fuzz: elapsed' >&2
			for f in $(printf '%s\n' "$out" | sed -n 's/.*Failing input written to \(testdata[^ ]*\).*/\1/p'); do
				echo "--- $dir/$f" >&2
				cat "$dir/$f" >&2
			done
			exit 1
		}
		# Executions in the time given, from the fuzzer's last progress
		# line (its rate there is of the last interval only, often 0).
		printf '%s\n' "$out" | grep -o 'execs: [0-9]*' | tail -1 | sed 's/^execs: \(.*\)/  \1 executions/' || true
	done
done
