#!/usr/bin/env bash
# Benchmark what signing and attaching evidence adds to a release: polyarch
# sign of a published 5-platform busybox index (each child signed, its SBOM
# and provenance attached and signed, the index signed last), its rerun, a
# signature-only run and verify --signatures: wall time and requests through
# a counting proxy. Goal: under 10% of a release of the same platforms (give
# its wall time with -release-seconds). See bench/README.md.
#
#   bash bench/evidence.sh [evidencebench flags, e.g. -rounds 9 -release-seconds 20]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"
for a in amd64 arm64 armhf ppc64el s390x; do
  [ -x ".cache/rootfs/$a/bin/busybox" ] || { echo "evidence.sh: busybox rootfs .cache/rootfs/$a missing: run scripts/setup.sh" >&2; exit 1; }
done
echo "==> building polyarch and evidencebench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/" ./evidencebench) # bench/ is its own module
"$bin/evidencebench" -polyarch "$bin/polyarch" -rootfs .cache/rootfs \
  -json "bench/results/evidence-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
