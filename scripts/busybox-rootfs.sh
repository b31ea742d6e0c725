#!/usr/bin/env bash
# Prepares one busybox root filesystem per architecture from Debian's
# busybox-static packages, in .cache/rootfs/<debian-arch>/, for the
# multi-arch base image that tests and examples build FROM (no base image can
# be pulled here). Idempotent. Needs root for dpkg --add-architecture.
#
#   scripts/busybox-rootfs.sh        prepare amd64 arm64 armhf ppc64el s390x
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=$PWD/.cache
ARCHES=(amd64 arm64 armhf ppc64el s390x)
say() { printf '==> %s\n' "$*" >&2; }

missing=()
for a in "${ARCHES[@]}"; do
	[ -x "$CACHE/rootfs/$a/bin/busybox" ] || missing+=("$a")
done
if [ ${#missing[@]} -eq 0 ]; then
	say "busybox root filesystems present: ${ARCHES[*]}"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "busybox-rootfs: run as root (needs dpkg --add-architecture and apt-get)" >&2
	exit 1
fi
native=$(dpkg --print-architecture)
added=0
for a in "${missing[@]}"; do
	if [ "$a" != "$native" ] && ! dpkg --print-foreign-architectures | grep -qx "$a"; then
		dpkg --add-architecture "$a"
		added=1
	fi
done
if [ $added = 1 ] || ! apt-cache policy "busybox-static:${missing[0]}" 2>/dev/null | grep -q Candidate; then
	say "apt-get update (foreign architectures: ${missing[*]})"
	# A failing index for one foreign architecture must not stop the others.
	apt-get update -qq || true
fi
mkdir -p "$CACHE/debs"
(cd "$CACHE/debs" && for a in "${missing[@]}"; do
	ls busybox-static_*_"$a".deb >/dev/null 2>&1 || apt-get download -qq "busybox-static:$a"
done) 2> >(grep -v "Download is performed unsandboxed" >&2)

# The applet list, from the host's own busybox (same version, same applets).
hostbb=$(mktemp -d)
trap 'rm -rf "$hostbb"' EXIT
dpkg-deb -x "$(ls "$CACHE"/debs/busybox-static_*_"$native".deb 2>/dev/null | head -1 || ls "$CACHE"/debs/busybox-static_*_amd64.deb)" "$hostbb"
applets=$("$hostbb/bin/busybox" --list-full)

for a in "${missing[@]}"; do
	say "busybox rootfs for $a"
	dir=$CACHE/rootfs/$a
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
	dpkg-deb -x "$CACHE"/debs/busybox-static_*_"$a".deb "$dir.tmp"
	rm -rf "$dir.tmp/usr/share"
	mkdir -p "$dir.tmp"/{bin,sbin,usr/bin,usr/sbin,tmp,etc,root,proc,sys,dev}
	chmod 1777 "$dir.tmp/tmp"
	for app in $applets; do
		[ -e "$dir.tmp/$app" ] && continue
		# bin/ls -> busybox; usr/bin/awk -> ../../bin/busybox
		up=$(dirname "$app" | sed -E 's#[^/]+#..#g')
		ln -s "$up/bin/busybox" "$dir.tmp/$app"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$dir.tmp/etc/passwd"
	echo "root:x:0:" >"$dir.tmp/etc/group"
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
done
say "busybox root filesystems ready in $CACHE/rootfs"
