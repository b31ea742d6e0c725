#!/usr/bin/env bash
# polyarch's main job on one machine: set up, then start the embedded
# registry in the background on 127.0.0.1:5000 (data and log in out/).
#
#   scripts/quickstart.sh         set up and start (idempotent: a running registry is kept)
#   scripts/quickstart.sh stop    stop what it started
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/out
ADDR=${POLYARCH_REGISTRY_ADDR:-127.0.0.1:5000}
PIDFILE=$OUT/registry.pid
mkdir -p "$OUT"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
	if running; then
		kill -TERM "$(cat "$PIDFILE")"
		echo "==> stopped the registry (pid $(cat "$PIDFILE"))"
		rm -f "$PIDFILE"
	else
		echo "==> no registry started by quickstart is running"
	fi
	exit 0
fi

scripts/setup.sh

if running; then
	echo "==> registry already running (pid $(cat "$PIDFILE")) on $ADDR"
else
	echo "==> starting the embedded registry on $ADDR (data: $OUT/registry, log: $OUT/registry.log)"
	nohup bin/polyarch registry serve --addr "$ADDR" --root "$OUT/registry" >"$OUT/registry.log" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 50); do
		curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1 && break
		running || { cat "$OUT/registry.log"; echo "registry failed to start" >&2; exit 1; }
		sleep 0.1
	done
	curl -fsS "http://$ADDR/v2/" >/dev/null || { cat "$OUT/registry.log"; exit 1; }
fi
cat <<MSG
==> ready: an OCI registry at $ADDR
    push to it:  bin/crane copy SOMEWHERE/image:tag $ADDR/org/image:tag
    look inside: bin/crane catalog $ADDR
    stop it:     scripts/quickstart.sh stop
MSG
