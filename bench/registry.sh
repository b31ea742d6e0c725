#!/usr/bin/env bash
# Benchmark polyarch's embedded registry against plain distribution v3:
# push, pull and manifest GETs of one 512 MiB, 4-platform image index, with
# crane as the client, taking turns on loopback. See bench/README.md.
#
#   bash bench/registry.sh [registrybench flags, e.g. -rounds 4]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/polyarch-bench.XXXXXX")"
# registrybench stops its servers itself (and the kernel kills them if it
# dies); what is left is the scratch space: image, roots, pulls, logs.
trap 'rm -rf "$work"' EXIT

scripts/go-tools.sh # the pinned crane (and regctl)

echo "==> building polyarch, plainregistry, genimage and registrybench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/" ./plainregistry ./genimage ./registrybench) # bench/ is its own module

echo "==> generating the image (4 platforms x 128 MiB of random data) in $work/layout"
"$bin/genimage" -out "$work/layout"

echo "==> measuring: polyarch and plain distribution take turns, each on a fresh root"
"$bin/registrybench" -layout "$work/layout" -work "$work" \
  -polyarch "$bin/polyarch" -plain "$bin/plainregistry" -crane "$bin/crane" \
  -json "bench/results/registry-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
