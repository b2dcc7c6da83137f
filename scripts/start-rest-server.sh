#!/usr/bin/env bash
# Builds rest-server from the pinned tools module (tools/servers) and runs it
# in the foreground on 127.0.0.1, without authentication unless flags say
# otherwise. The binary is cached like the tests cache it.
#
#   scripts/start-rest-server.sh [DATA_DIR [PORT [rest-server flags...]]]
#
# Example: scripts/start-rest-server.sh /tmp/rs 8000 --append-only
# Then use the repository rest:http://127.0.0.1:8000/<name>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$(mktemp -d)}
port=${2:-8000}
shift $(( $# > 2 ? 2 : $# ))

bin=${TMPDIR:-/tmp}/cairn-rest-server-0.14.0
if [ ! -x "$bin" ]; then
	echo "building rest-server 0.14.0 into $bin" >&2
	(cd "$root/tools/servers" && go build -o "$bin.tmp$$" github.com/restic/rest-server/cmd/rest-server)
	mv "$bin.tmp$$" "$bin"
fi

extra=("$@")
if [ ${#extra[@]} -eq 0 ]; then
	extra=(--no-auth)
fi
mkdir -p "$data"
echo "rest-server on http://127.0.0.1:$port/ serving $data" >&2
exec "$bin" --listen "127.0.0.1:$port" --path "$data" "${extra[@]}"
