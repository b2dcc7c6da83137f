#!/usr/bin/env bash
# Installs what `make test` needs that Go does not fetch by itself: the
# Debian restic package (0.14.0 on bookworm), used by the interop tests, and
# OpenSSH's server and client, which the SFTP tests run on loopback, and
# tmux, in which the terminal test watches the progress line, fuse3
# (fusermount3) for the mount tests, chromium for the web page tests,
# rclone for the rclone backend's, and Node.js with npm for Azurite, the
# Azure Blob Storage emulator. It then builds the pinned test servers
# (rest-server, versitygw, fake-gcs-server) into the cache the tests use,
# all at once.
# Under CI=true anything missing is an error; elsewhere it is a warning and
# the tests that need it skip.
set -euo pipefail

need_apt=()
command -v restic >/dev/null 2>&1 || need_apt+=(restic)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v fusermount3 >/dev/null 2>&1 || need_apt+=(fuse3)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rclone >/dev/null 2>&1 || need_apt+=(rclone)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

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

# The test servers: built once, cached in the temp dir like the tests cache
# them (internal/testservers), so that test packages do not wait on builds.
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=${TMPDIR:-/tmp}
build() { # name module package
	local bin=$tmp/cairn-$1
	[ -x "$bin" ] && return 0
	echo "building $1"
	(cd "$root/tools/$2" && go build -o "$bin.tmp$$" "$3") && mv "$bin.tmp$$" "$bin"
}
# Azurite from npm, pinned (internal/testservers/azure.go names the version),
# into its own prefix beside the Go servers, not into the repository.
azurite() {
	local v=3.35.0 dir=$tmp/cairn-azurite-3.35.0
	[ -x "$dir/node_modules/.bin/azurite-blob" ] && return 0
	command -v npm >/dev/null 2>&1 || { echo "npm missing: cannot install azurite" >&2; return 1; }
	echo "installing azurite $v"
	rm -rf "$dir.tmp$$"
	npm install --prefix "$dir.tmp$$" --no-audit --no-fund --loglevel=error "azurite@$v" >/dev/null &&
		rm -rf "$dir" && mv "$dir.tmp$$" "$dir"
}
azurite &
p3=$!
build rest-server-0.14.0 servers github.com/restic/rest-server/cmd/rest-server &
p1=$!
build versitygw-1.8.0 versitygw github.com/versity/versitygw/cmd/versitygw &
p2=$!
build fake-gcs-server-1.56.1 gcs github.com/fsouza/fake-gcs-server &
p4=$!
status=0
wait $p1 || status=1
wait $p2 || status=1
wait $p3 || status=1
wait $p4 || status=1
if [ $status -ne 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "building the test servers failed" >&2
		exit 1
	fi
	echo "warning: building a test server failed; its tests will skip" >&2
fi
exit 0
