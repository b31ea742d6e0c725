#!/usr/bin/env bash
# Publishes the multi-arch busybox base image the examples build FROM, as
# REGISTRY/base/busybox:latest (linux/amd64, arm64, arm/v7, ppc64le, s390x),
# from the root filesystems scripts/busybox-rootfs.sh prepares. Idempotent:
# the images are reproducible, so a second run changes nothing.
#
#   scripts/base-image.sh 127.0.0.1:5000
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY=${1:?usage: scripts/base-image.sh REGISTRY (host:port)}
POLYARCH=${POLYARCH:-bin/polyarch}
declare -A platform=([amd64]=linux/amd64 [arm64]=linux/arm64 [armhf]=linux/arm/v7 [ppc64el]=linux/ppc64le [s390x]=linux/s390x)
for deb in amd64 arm64 armhf ppc64el s390x; do
	"$POLYARCH" import ".cache/rootfs/$deb" --platform "${platform[$deb]}" --cmd /bin/sh "$REGISTRY/base/busybox:$deb" >/dev/null
done
# The per-arch tags use Debian's architecture names: map them in the template.
"$POLYARCH" manifest push from-args \
	--platforms linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le,linux/s390x \
	--template "$REGISTRY"'/base/busybox:{{if eq .Arch "arm"}}armhf{{else if eq .Arch "ppc64le"}}ppc64el{{else}}{{.Arch}}{{end}}' \
	--target "$REGISTRY/base/busybox:latest" >/dev/null
echo "==> base image $REGISTRY/base/busybox:latest ready (5 platforms)" >&2
