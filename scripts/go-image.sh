#!/usr/bin/env bash
# Publishes a multi-arch Go toolchain image, REGISTRY/base/go:<version>
# (linux/amd64, arm64, ppc64le, s390x): the busybox root filesystem of each
# architecture (scripts/busybox-rootfs.sh) with a Go toolchain for it in
# /usr/local/go, of the version of the Go installed here. No image can be
# pulled here: the toolchain is this machine's own, trimmed to what `go
# build` needs (the go command, compile, link, asm, the standard library's
# sources without tests or testdata: about 100 MB), with the binaries of
# each other architecture from the Go module proxy's golang.org/toolchain
# module when it serves one, else cross-compiled here (a few minutes per
# architecture, once: the root filesystems are kept in .cache/go-rootfs).
# The builder example builds FROM it. Idempotent: the images are
# reproducible.
#
#   scripts/go-image.sh 127.0.0.1:5000
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY=${1:?usage: scripts/go-image.sh REGISTRY (host:port)}
POLYARCH=${POLYARCH:-bin/polyarch}
CACHE=$PWD/.cache
VERSION=$(go env GOVERSION) # go1.26.8
TAG=${VERSION#go}
GOROOT=$(go env GOROOT)
declare -A debian=([amd64]=amd64 [arm64]=arm64 [ppc64le]=ppc64el [s390x]=s390x)
say() { printf '==> %s\n' "$*" >&2; }

scripts/busybox-rootfs.sh --check || scripts/busybox-rootfs.sh

# binaries ARCH DIR: the go command in DIR/bin and compile, link and asm in
# DIR/pkg/tool/linux_ARCH, for ARCH.
binaries() {
	local arch=$1 dir=$2 tools=$2/pkg/tool/linux_$1
	mkdir -p "$dir/bin" "$tools"
	if [ "$arch" = "$(go env GOHOSTARCH)" ]; then
		cp "$GOROOT/bin/go" "$dir/bin/"
		cp "$GOROOT/pkg/tool/linux_$arch"/{compile,link,asm} "$tools/"
		return
	fi
	local mod=golang.org/toolchain@v0.0.1-$VERSION.linux-$arch mdir
	# Outside any module, so that no go.mod or go.sum is touched.
	mdir=$(cd / && go mod download -json "$mod" 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
	if [ -n "$mdir" ] && [ -f "$mdir/pkg/tool/linux_$arch/compile" ]; then
		cp "$mdir/bin/go" "$dir/bin/"
		cp "$mdir/pkg/tool/linux_$arch"/{compile,link,asm} "$tools/"
		return
	fi
	say "the module proxy has no $mod: cross-compiling Go $TAG for linux/$arch (a few minutes)"
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath -o "$dir/bin/" cmd/go
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath -o "$tools/" cmd/compile cmd/link cmd/asm
}

for arch in amd64 arm64 ppc64le s390x; do
	rootfs=$CACHE/go-rootfs/$TAG/$arch
	if [ ! -x "$rootfs/usr/local/go/bin/go" ]; then
		say "Go $TAG for linux/$arch"
		tmp=$rootfs.tmp
		rm -rf "$tmp" && mkdir -p "$tmp"
		cp -a "$CACHE/rootfs/${debian[$arch]}/." "$tmp/"
		go=$tmp/usr/local/go
		binaries "$arch" "$go"
		cp "$GOROOT/VERSION" "$GOROOT/go.env" "$go/"
		mkdir -p "$go/pkg" && cp -r "$GOROOT/pkg/include" "$go/pkg/"
		# The standard library's sources: the go command hashes them and
		# compiles what a build needs. No tests, testdata or .syso objects
		# (ELF files of every architecture), nor the toolchain's own sources.
		(cd "$GOROOT" && find src -path src/cmd -prune -o -name testdata -prune -o -type f ! -name '*_test.go' ! -name '*.syso' -print0 |
			tar --null -T - -cf -) | tar -C "$go" -xf -
		chmod -R u+w,go-w "$go"
		chmod 0755 "$go/bin/go" "$go/pkg/tool/linux_$arch"/*
		rm -rf "$rootfs" && mv "$tmp" "$rootfs"
	fi
	"$POLYARCH" import "$rootfs" --platform "linux/$arch" --cmd /bin/sh \
		--env PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin --env GOROOT=/usr/local/go --env HOME=/root \
		"$REGISTRY/base/go:$TAG-$arch" >/dev/null
done
"$POLYARCH" manifest push from-args \
	--platforms linux/amd64,linux/arm64,linux/ppc64le,linux/s390x \
	--template "$REGISTRY/base/go:$TAG-{{.Arch}}" \
	--target "$REGISTRY/base/go:$TAG" >/dev/null
say "Go toolchain image $REGISTRY/base/go:$TAG ready (4 platforms)"
