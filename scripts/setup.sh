#!/usr/bin/env bash
# Installs what polyarch's pipeline and tests need on a Debian machine, and
# builds polyarch into bin/. Idempotent: what is already there is kept.
#
#   scripts/setup.sh          everything the pipeline and the tests need
#   scripts/setup.sh --check  install nothing: exit 0 when everything is there,
#                             else 1 naming what is missing
#
# Go tools go to bin/ (gitignored); Debian packages through apt-get (root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin
mkdir -p "$BIN"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

CHECK=0
[ "${1:-}" = --check ] && CHECK=1
missing_all=()
# lack NAME: in --check mode, note NAME as missing and return 0 (skip the
# install); otherwise return 1 so the caller installs it.
lack() { [ $CHECK = 1 ] && { missing_all+=("$1"); return 0; }; return 1; }

command -v go >/dev/null || die "Go is not installed (polyarch needs Go 1.26): see https://go.dev/doc/install"

apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && { [ $CHECK = 1 ] || say "Debian packages present: $*"; return; }
	lack "Debian packages: ${missing[*]}" && return
	if [ "$(id -u)" -ne 0 ]; then
		die "missing Debian packages: ${missing[*]}. Run as root, or: sudo apt-get install -y ${missing[*]}"
	fi
	say "installing Debian packages: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# Builds: runc for buildkitd's OCI worker, QEMU user-mode emulation through
# binfmt_misc for foreign platforms. skopeo, crane and regctl are independent
# clients the tests check results with; chromium renders the HTML report in a test;
# jenkins-job-builder renders the generated Jenkins jobs (`jenkins-jobs test`),
# shellcheck lets actionlint check the generated workflows' scripts, and
# iproute2 makes the network namespace the TLS tests serve a registry in.
apt_install runc qemu-user-static binfmt-support skopeo ca-certificates curl chromium jenkins-job-builder shellcheck iproute2

binfmt() {
	local dir=/proc/sys/fs/binfmt_misc
	if [ ! -e "$dir/status" ]; then
		lack "binfmt_misc mount" && return
		[ "$(id -u)" -eq 0 ] || die "binfmt_misc is not mounted: as root, run: mount -t binfmt_misc binfmt_misc $dir"
		say "mounting binfmt_misc"
		mount -t binfmt_misc binfmt_misc "$dir"
	fi
	if [ ! -e "$dir/qemu-aarch64" ] || ! grep -qx enabled "$dir/qemu-aarch64"; then
		lack "QEMU binfmt handlers" && return
		[ "$(id -u)" -eq 0 ] || die "QEMU binfmt handlers are not registered: as root, run: update-binfmts --enable"
		say "registering QEMU binfmt handlers"
		update-binfmts --enable
	fi
	[ $CHECK = 1 ] || say "QEMU emulation ready: $(ls "$dir" | grep -c '^qemu-') binfmt handlers"
}
binfmt

if [ $CHECK = 1 ]; then
	scripts/go-tools.sh --check || missing_all+=("Go tools (scripts/go-tools.sh)")
else
	scripts/go-tools.sh
fi

# buildkitd and buildctl, pinned in tools/buildkit/go.mod (go install refuses
# buildkit's exclude lines, so a wrapper module builds them).
BUILDKIT_VERSION=$(grep -oE 'github.com/moby/buildkit v[0-9.]+' tools/buildkit/go.mod | awk '{print $2}')
[ -n "$BUILDKIT_VERSION" ] || die "tools/buildkit/go.mod names no github.com/moby/buildkit version"
if [ -x "$BIN/buildkitd" ] && [ -x "$BIN/buildctl" ] && [ "$(cat "$BIN/.buildkit.version" 2>/dev/null)" = "$BUILDKIT_VERSION" ]; then
	[ $CHECK = 1 ] || say "buildkitd and buildctl $BUILDKIT_VERSION present"
elif lack "buildkitd and buildctl $BUILDKIT_VERSION"; then
	:
else
	say "building buildkitd and buildctl $BUILDKIT_VERSION (a minute or two)"
	(cd tools/buildkit && CGO_ENABLED=0 go build -tags "osusergo netgo static_build seccomp" -o "$BIN/" \
		github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl)
	echo "$BUILDKIT_VERSION" >"$BIN/.buildkit.version"
fi

# The multi-arch busybox base image's root filesystems (no base image can be
# pulled here).
if [ $CHECK = 1 ]; then
	scripts/busybox-rootfs.sh --check || missing_all+=("busybox root filesystems (scripts/busybox-rootfs.sh)")
	if [ ${#missing_all[@]} -gt 0 ]; then
		printf 'setup: missing: %s\n' "${missing_all[@]}" >&2
		exit 1
	fi
	exit 0
fi
scripts/busybox-rootfs.sh

say "building polyarch into bin/polyarch"
go build -o "$BIN/polyarch" ./cmd/polyarch
say "setup done: $("$BIN/polyarch" version)"
