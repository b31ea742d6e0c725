#!/usr/bin/env bash
# Benchmark a real compile workload, the gobuild example (a Go program) for
# linux/amd64, arm64 and s390x, in one run: cross-compiled vs compiled
# under QEMU emulation, a cold build vs a rebuild on a fresh builder node
# from the registry cache, and polyarch build vs raw buildctl with the same
# cache flags. Goals: rebuild/cold <= 0.3, cross/emulated <= 0.25,
# polyarch/buildctl <= 1.05. See bench/README.md. Needs root (buildkitd with
# runc) and what scripts/setup.sh installs.
#
#   bash bench/gobuild.sh [gobuildbench flags, e.g. -rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"

die() { echo "gobuild.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root: the local builder runs buildkitd with runc"
for tool in buildkitd buildctl; do
  [ -x "$bin/$tool" ] || die "$bin/$tool missing: run scripts/setup.sh"
done
command -v runc >/dev/null || die "runc missing: run scripts/setup.sh"
for q in qemu-aarch64 qemu-s390x; do
  grep -qx enabled "/proc/sys/fs/binfmt_misc/$q" 2>/dev/null || die "QEMU binfmt handler $q not enabled: run scripts/setup.sh"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/polyarch-gobuildbench.XXXXXX")"
cleanup() {
  # gobuildbench stops and deletes each builder node itself; this is for
  # those it could not (buildkitd runs in its own session, and its overlay
  # mounts must be gone before the directory is removed).
  for d in "$work"/builders/*/; do
    [ -e "$d/buildkitd.pid" ] && "$bin/polyarch" builder stop --builder-dir "$d" >/dev/null 2>&1 || true
  done
  if grep -q " $work/" /proc/mounts; then
    echo "gobuild.sh: mounts left below $work; not removing it" >&2
    return
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> building polyarch and gobuildbench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/" ./gobuildbench) # bench/ is its own module

"$bin/gobuildbench" -work "$work" -repo "$PWD" -polyarch "$bin/polyarch" -buildctl "$bin/buildctl" \
  -buildkit-version "$(cat "$bin/.buildkit.version" 2>/dev/null || echo unknown)" \
  -json "bench/results/gobuild-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
