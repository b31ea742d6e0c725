#!/usr/bin/env bash
# Benchmark what signing and attaching evidence adds to a release: polyarch
# sign of a published 5-platform busybox index (each child signed, its SBOM
# and provenance attached and signed, the index signed last), its rerun, a
# signature-only run and verify --signatures: wall time and requests through
# a counting proxy; then the three examples released on the local builder
# without and with a sign: section, each release to a fresh registry. Goal:
# signing adds under 10% to a release of the examples. Needs root (the local
# builder) unless -release "" is given. See bench/README.md.
#
#   bash bench/evidence.sh [evidencebench flags, e.g. -rounds 9 -release-rounds 3 -release agent]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"
for a in amd64 arm64 armhf ppc64el s390x; do
  [ -x ".cache/rootfs/$a/bin/busybox" ] || { echo "evidence.sh: busybox rootfs .cache/rootfs/$a missing: run scripts/setup.sh" >&2; exit 1; }
done
echo "==> building polyarch and evidencebench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/" ./evidencebench) # bench/ is its own module
"$bin/evidencebench" -polyarch "$bin/polyarch" -rootfs .cache/rootfs -repo . \
  -json "bench/results/evidence-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
