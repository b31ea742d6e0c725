#!/usr/bin/env bash
# Benchmark a release split across CI runners: three runners at once (each
# its own clone and builder node, `polyarch release --platform P`) plus the
# merge job (`polyarch publish`), against one `polyarch release` of all
# three platforms on one builder, every turn a new commit; and the publish
# step alone: wall time and requests through a counting proxy. Goal: the
# publish step adds under 10 requests per platform and under 1 s on
# loopback. See bench/README.md. Needs root and what scripts/setup.sh installs.
#
#   bash bench/fanout.sh [fanoutbench flags, e.g. -rounds 5]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"

die() { echo "fanout.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root: the builder nodes run buildkitd with runc"
[ -x "$bin/buildkitd" ] || die "$bin/buildkitd missing: run scripts/setup.sh"
command -v runc >/dev/null || die "runc missing: run scripts/setup.sh"
for q in qemu-aarch64 qemu-arm; do
  grep -qx enabled "/proc/sys/fs/binfmt_misc/$q" 2>/dev/null || die "QEMU binfmt handler $q not enabled: run scripts/setup.sh"
done
for a in amd64 arm64 armhf; do
  [ -x ".cache/rootfs/$a/bin/busybox" ] || die "busybox rootfs .cache/rootfs/$a missing: run scripts/setup.sh"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/polyarch-fanoutbench.XXXXXX")"
cleanup() {
  # fanoutbench stops its builders itself; this is for when it could not.
  for d in "$work"/builder*; do
    [ -e "$d/buildkitd.pid" ] && "$bin/polyarch" builder stop --builder-dir "$d" >/dev/null 2>&1 || true
  done
  if grep -q " $work/" /proc/mounts; then
    echo "fanout.sh: mounts left below $work; not removing it" >&2
    return
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> building polyarch and fanoutbench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/" ./fanoutbench) # bench/ is its own module

"$bin/fanoutbench" -work "$work" -polyarch "$bin/polyarch" -rootfs .cache/rootfs \
  -json "bench/results/fanout-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
