#!/usr/bin/env bash
# Prepares one busybox root filesystem per architecture from Debian's
# busybox-static packages, in .cache/rootfs/<debian-arch>/, for the
# multi-arch base image that tests and examples build FROM (no base image can
# be pulled here). Idempotent. Needs root for dpkg --add-architecture.
#
#   scripts/busybox-rootfs.sh          prepare amd64 arm64 armhf ppc64el s390x
#   scripts/busybox-rootfs.sh --check  prepare nothing; exit 1 if one is missing
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
	[ "${1:-}" = --check ] || say "busybox root filesystems present: ${ARCHES[*]}"
	exit 0
fi
[ "${1:-}" = --check ] && exit 1

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
# The applet list comes from the host's own busybox (same version, same
# applets): from its cached root filesystem, else from its package.
need_debs=("${missing[@]}")
if [ ! -x "$CACHE/rootfs/$native/bin/busybox" ] && ! printf '%s\n' "${missing[@]}" | grep -qx "$native"; then
	need_debs+=("$native")
fi

mkdir -p "$CACHE/debs"
deb_of() { ls "$CACHE"/debs/busybox-static_*_"$1".deb 2>/dev/null | head -1; }
download=()
for a in "${need_debs[@]}"; do
	[ -n "$(deb_of "$a")" ] || download+=("$a")
done
if [ ${#download[@]} -gt 0 ]; then
	if [ $added = 1 ] || ! apt-cache policy "busybox-static:${download[0]}" 2>/dev/null | grep -q Candidate; then
		say "apt-get update (foreign architectures: ${download[*]})"
		# A failing index for one foreign architecture must not stop the
		# others; a package that still cannot be had is named below.
		apt-get update -qq || say "apt-get update reported errors; trying the downloads anyway"
	fi
	failed=()
	for a in "${download[@]}"; do
		say "downloading busybox-static:$a"
		if ! (cd "$CACHE/debs" && apt-get download -qq "busybox-static:$a") 2> >(grep -v "Download is performed unsandboxed" >&2); then
			failed+=("$a")
		elif [ -z "$(deb_of "$a")" ]; then
			failed+=("$a")
		fi
	done
	if [ ${#failed[@]} -gt 0 ]; then
		echo "busybox-rootfs: could not download busybox-static for: ${failed[*]}" >&2
		echo "  check that Debian's package index for those architectures is reachable: apt-get update; apt-cache policy busybox-static:${failed[0]}" >&2
		exit 1
	fi
fi

if [ -x "$CACHE/rootfs/$native/bin/busybox" ]; then
	applets=$("$CACHE/rootfs/$native/bin/busybox" --list-full)
else
	hostbb=$(mktemp -d)
	trap 'rm -rf "$hostbb"' EXIT
	dpkg-deb -x "$(deb_of "$native")" "$hostbb"
	applets=$("$hostbb/bin/busybox" --list-full)
fi
[ -n "$applets" ] || { echo "busybox-rootfs: the host's busybox listed no applets" >&2; exit 1; }

for a in "${missing[@]}"; do
	say "busybox rootfs for $a"
	dir=$CACHE/rootfs/$a
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
	dpkg-deb -x "$(deb_of "$a")" "$dir.tmp"
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
