#!/usr/bin/env bash
# Benchmark what `polyarch build` adds to raw `buildctl build`: the same
# Dockerfile and five platforms (linux/amd64 native, arm64, arm/v7, ppc64le
# and s390x under QEMU) on one buildkitd, pushing to one embedded registry,
# each tool building the five one after another and all at once, taking
# turns. Goal: polyarch/buildctl wall time <= 1.05. See bench/README.md.
# Needs root (buildkitd with runc) and what scripts/setup.sh installs.
#
#   bash bench/build.sh [buildbench flags, e.g. -rounds 4 -loop 50000]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"

die() { echo "build.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root: the local builder runs buildkitd with runc"
for tool in buildkitd buildctl; do
  [ -x "$bin/$tool" ] || die "$bin/$tool missing: run scripts/setup.sh"
done
command -v runc >/dev/null || die "runc missing: run scripts/setup.sh"
for q in qemu-aarch64 qemu-arm qemu-ppc64le qemu-s390x; do
  grep -qx enabled "/proc/sys/fs/binfmt_misc/$q" 2>/dev/null || die "QEMU binfmt handler $q not enabled: run scripts/setup.sh"
done
for a in amd64 arm64 armhf ppc64el s390x; do
  [ -x ".cache/rootfs/$a/bin/busybox" ] || die "busybox rootfs .cache/rootfs/$a missing: run scripts/setup.sh"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/polyarch-buildbench.XXXXXX")"
cleanup() {
  # buildbench stops the builder itself; this is for when it could not.
  # buildkitd runs in its own session, so nothing else would stop it, and
  # its overlay mounts must be gone before the directory is removed.
  if [ -e "$work/builder/buildkitd.pid" ]; then
    "$bin/polyarch" builder stop --builder-dir "$work/builder" >/dev/null 2>&1 || true
  fi
  if grep -q " $work/" /proc/mounts; then
    echo "build.sh: mounts left below $work; not removing it" >&2
    return
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> building polyarch and buildbench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/" ./buildbench) # bench/ is its own module

"$bin/buildbench" -work "$work" -polyarch "$bin/polyarch" -buildctl "$bin/buildctl" -rootfs .cache/rootfs \
  -buildkit-version "$(cat "$bin/.buildkit.version" 2>/dev/null || echo unknown)" \
  -json "bench/results/build-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
