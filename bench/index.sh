#!/usr/bin/env bash
# Benchmark polyarch's index commands against peer tools, taking turns on
# loopback registries (`polyarch registry serve`):
#   (a) publish a 5-platform index from arch-named repositories in one
#       registry: `polyarch manifest push from-args` vs `crane index append`,
#       `regctl index create`, `docker manifest create` + `push`;
#   (b) cold copy of a 4-platform x 4-layer x 32 MiB image between two
#       registries: `polyarch copy` vs `crane copy`, `regctl image copy`;
#   (c) the same publish again, a no-op republish.
# Requests and blob bytes are counted by one reverse proxy for every tool.
# See bench/README.md.
#
#   bash bench/index.sh [indexbench flags, e.g. -publish-rounds 4 -copy-rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/polyarch-indexbench.XXXXXX")"
# indexbench stops its registries itself (and the kernel kills them and the
# tools if it dies); what is left is the scratch space: the image, registry
# roots, the tools' private Docker config and HOME.
trap 'rm -rf "$work"' EXIT

scripts/go-tools.sh # the pinned crane and regctl
docker="$(command -v docker)" || { echo "index.sh: Docker's CLI (docker) not found; only the client is needed, no engine" >&2; exit 1; }

echo "==> building polyarch, genimage and indexbench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/" ./genimage ./indexbench) # bench/ is its own module

echo "==> generating the copy scenario's image (4 platforms x 4 layers x 32 MiB of random data) in $work/layout"
"$bin/genimage" -out "$work/layout"

echo "==> measuring: the tools take turns, who goes first rotating"
"$bin/indexbench" -layout "$work/layout" -work "$work" \
  -polyarch "$bin/polyarch" -crane "$bin/crane" -regctl "$bin/regctl" -docker "$docker" \
  -json "bench/results/index-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
