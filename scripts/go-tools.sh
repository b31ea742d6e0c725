#!/usr/bin/env bash
# Installs the pinned crane and regctl into bin/ from the Go module proxy:
# the independent clients tests check results with and benchmarks compare
# against; actionlint and act for the tests of `polyarch ci`; cosign, the
# judge of polyarch's signatures and attestations (test/e2e/sign_test.go,
# bench/evidence.sh); distribution's own registry, the plain one without a
# referrers API (test/e2e/plainregistry_test.go). Idempotent: a
# tool of the pinned version is kept.
#
#   scripts/go-tools.sh          install what is missing
#   scripts/go-tools.sh --check  install nothing; exit 1 if a tool is missing
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
mkdir -p "$BIN"

# The one place these versions are pinned.
CRANE_VERSION=v0.22.1
REGCTL_VERSION=v0.11.7
ACTIONLINT_VERSION=v1.7.12
ACT_VERSION=v0.2.89
COSIGN_VERSION=v2.6.5
REGISTRY_VERSION=v3.1.2

CHECK=0
[ "${1:-}" = --check ] && CHECK=1
lacking=0
go_tool() { # name module version
	local name=$1 module=$2 version=$3 stamp="$BIN/.$1.version"
	if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
		[ $CHECK = 1 ] || printf '==> %s %s present\n' "$name" "$version" >&2
		return
	fi
	if [ $CHECK = 1 ]; then
		printf 'go-tools: %s %s missing\n' "$name" "$version" >&2
		lacking=1
		return
	fi
	printf '==> installing %s %s from the Go module proxy\n' "$name" "$version" >&2
	GOBIN=$BIN go install "$module@$version"
	echo "$version" >"$stamp"
}

go_tool crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"
go_tool regctl github.com/regclient/regclient/cmd/regctl "$REGCTL_VERSION"
go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"
go_tool act github.com/nektos/act "$ACT_VERSION"
go_tool cosign github.com/sigstore/cosign/v2/cmd/cosign "$COSIGN_VERSION"
go_tool registry github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_VERSION"
exit $lacking
