#!/usr/bin/env bash
# Prints, as a Markdown table, the flags restic 0.19.1 has that cairn
# lacks, for every command (and subcommand) cairn has, from the two
# binaries' --help output.
#
#   scripts/flag-diff.sh [CAIRN_BIN] [RESTIC_BIN]
#
# CAIRN_BIN defaults to a fresh build of ./cmd/cairn, RESTIC_BIN to
# $RESTIC_019_BIN or shared/bin/restic-0.19.1.
set -euo pipefail
cd "$(dirname "$0")/.."

cairn=${1:-}
if [ -z "$cairn" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	go build -o "$tmp/cairn" ./cmd/cairn
	cairn=$tmp/cairn
fi
restic=${2:-${RESTIC_019_BIN:-}}
if [ -z "$restic" ]; then
	for p in /work/shared/bin/restic-0.19.1 ../shared/bin/restic-0.19.1; do
		[ -x "$p" ] && restic=$p && break
	done
fi
[ -x "$restic" ] || { echo "flag-diff: no restic 0.19.1 binary (pass it as the second argument)" >&2; exit 1; }

# commands BIN CMD...: the subcommands listed under "Available Commands:".
commands() {
	"$@" --help 2>/dev/null | awk '/^Available Commands:/ {on=1; next} on && /^$/ {on=0} on {print $1}' |
		grep -vx -e help -e completion -e generate || true
}

# flags SECTION BIN CMD...: the long flags of a help section ("Flags:" for
# the command's own, "Global Flags:" for the inherited ones).
flags() {
	local section=$1
	shift
	"$@" --help 2>/dev/null | awk -v s="$section" '$0 == s {on=1; next} on && /^$/ {on=0} on' |
		grep -o -e '^ *-., --[a-z0-9-]*' -e '^ *--[a-z0-9-]*' | sed 's/.*--//' | grep -vx help | sort -u || true
}

# missing SECTION CMD...: restic's flags of the section that cairn lacks.
missing() {
	local section=$1
	shift
	comm -23 <(flags "$section" "$restic" "$@") <(flags "$section" "$cairn" "$@") | sed 's/^/`--/; s/$/`/' | paste -sd ' ' - | sed 's/` `/`, `/g'
}

echo "| command | restic 0.19.1 flags that cairn lacks |"
echo "| --- | --- |"
# The global flags appear as "Flags:" of the root command.
g=$(missing "Flags:")
echo "| (global) | ${g:-none} |"
row() {
	local m
	m=$(missing "Flags:" "$@")
	echo "| $* | ${m:-none} |"
}
for c in $(commands "$cairn"); do
	# Commands restic does not have (e.g. cairn's own) have nothing to compare.
	if ! "$restic" "$c" --help >/dev/null 2>&1; then
		continue
	fi
	subs=$(commands "$cairn" "$c")
	if [ -n "$subs" ]; then
		for s in $subs; do
			"$restic" "$c" "$s" --help >/dev/null 2>&1 && row "$c" "$s"
		done
		for s in $(comm -23 <(commands "$restic" "$c" | sort) <(echo "$subs" | sort)); do
			echo "| $c $s | (the whole subcommand) |"
		done
	else
		row "$c"
	fi
done
for c in $(comm -23 <(commands "$restic" | sort) <(commands "$cairn" | sort)); do
	echo "| $c | (the whole command) |"
done
