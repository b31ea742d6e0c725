#!/usr/bin/env bash
# Installs what polyarch's pipeline and tests need on a Debian machine, and
# builds polyarch into bin/. Idempotent: what is already there is kept.
#
#   scripts/setup.sh          everything the pipeline and the tests need
#
# Go tools go to bin/ (gitignored); Debian packages through apt-get (root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin
mkdir -p "$BIN"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# Pinned versions of the independent clients used as checkers and peers.
CRANE_VERSION=v0.22.1
REGCTL_VERSION=v0.11.7

command -v go >/dev/null || die "Go is not installed (polyarch needs Go 1.26): see https://go.dev/doc/install"

apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && { say "Debian packages present: $*"; return; }
	if [ "$(id -u)" -ne 0 ]; then
		die "missing Debian packages: ${missing[*]}. Run as root, or: sudo apt-get install -y ${missing[*]}"
	fi
	say "installing Debian packages: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

go_tool() { # name module version
	local name=$1 module=$2 version=$3 stamp="$BIN/.$1.version"
	if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
		say "$name $version present"
		return
	fi
	say "installing $name $version from the Go module proxy"
	GOBIN=$BIN go install "$module@$version"
	echo "$version" >"$stamp"
}

apt_install skopeo ca-certificates curl
go_tool crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"
go_tool regctl github.com/regclient/regclient/cmd/regctl "$REGCTL_VERSION"

say "building polyarch into bin/polyarch"
go build -o "$BIN/polyarch" ./cmd/polyarch
say "setup done: $("$BIN/polyarch" version)"
