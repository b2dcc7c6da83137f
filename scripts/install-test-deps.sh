#!/usr/bin/env bash
# Installs what `make test` needs that Go does not fetch by itself: the
# Debian restic package (0.14.0 on bookworm), used by the interop tests.
# Under CI=true anything missing is an error; elsewhere it is a warning and
# the tests that need it skip.
set -euo pipefail

need_apt=()
command -v restic >/dev/null 2>&1 || need_apt+=(restic)

if [ ${#need_apt[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing ${need_apt[*]} (Debian packages)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
	elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
		sudo apt-get update -qq
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
	elif [ "${CI:-}" = true ]; then
		echo "missing ${need_apt[*]} and no way to install it" >&2
		exit 1
	else
		echo "warning: missing ${need_apt[*]}; interop tests will skip" >&2
	fi
fi
command -v restic >/dev/null 2>&1 && restic version
exit 0
