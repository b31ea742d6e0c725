#!/usr/bin/env bash
# polyarch's main job on one machine: set up, start the embedded registry
# (127.0.0.1:5000, data and log in out/) and the local builder node, publish
# the busybox base image, then `polyarch release` the three examples: build
# every platform (natively or under QEMU), test each per-arch image, publish
# each multi-arch index, and write the HTML reports.
#
#   scripts/quickstart.sh         run it (idempotent: a running registry is kept)
#   scripts/quickstart.sh stop    stop the registry and the local builder it started
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
	[ -x bin/polyarch ] && bin/polyarch builder stop
	exit 0
fi

scripts/setup.sh

if running; then
	echo "==> registry already running (pid $(cat "$PIDFILE")) on $ADDR"
else
	echo "==> starting the embedded registry on $ADDR (data: $OUT/registry, log: $OUT/registry.log)"
	nohup bin/polyarch registry serve --addr "$ADDR" --root "$OUT/registry" >"$OUT/registry.log" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 100); do
		curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1 && break
		running || { cat "$OUT/registry.log"; echo "registry failed to start" >&2; exit 1; }
		sleep 0.1
	done
	curl -fsS "http://$ADDR/v2/" >/dev/null || { cat "$OUT/registry.log"; exit 1; }
fi

scripts/base-image.sh "$ADDR"
# The builder example builds FROM a Go toolchain image and follows upstream
# repositories made here (nothing is fetched).
scripts/go-image.sh "$ADDR"
scripts/upstream-fixture.sh examples/builder
echo "==> starting the local builder node (buildkitd with runc; QEMU for foreign platforms)"
bin/polyarch builder start

failed=()
reports=()
for example in agent validation builder; do
	echo
	echo "==> polyarch release -f examples/$example/polyarch.yaml"
	html=$OUT/reports/$example.html
	if ! bin/polyarch release -f "examples/$example/polyarch.yaml" --registry "$ADDR" \
		--quiet-build --log-dir "$OUT/logs/$example" --report "$OUT/reports/$example.json" --html "$html"; then
		failed+=("$example")
	fi
	reports+=("$html")
done

echo
if [ ${#failed[@]} -eq 0 ]; then
	echo "==> released all three examples to $ADDR"
else
	echo "==> release FAILED for: ${failed[*]} (logs: $OUT/logs/<example>/, reports below)" >&2
fi
echo "    HTML reports: ${reports[*]}"
echo "    look:  bin/polyarch inspect $ADDR/antrea/antrea-agent-ubuntu:v1.4.0"
echo "           bin/polyarch resolve $ADDR/maistra/maistra-builder:2.4 --all"
echo "           bin/polyarch drift -f examples/builder/polyarch.yaml"
echo "    stop:  scripts/quickstart.sh stop"
[ ${#failed[@]} -eq 0 ]
