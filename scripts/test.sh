#!/usr/bin/env bash
# Runs every polyarch test, end-to-end ones included, after installing what
# they need (scripts/setup.sh). This is the README's test command and what CI runs.
#
#   scripts/test.sh             vet, then all tests with the race detector
#   scripts/test.sh -run Foo    extra arguments go to 'go test' (setup is
#                               skipped when everything is already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ] && scripts/setup.sh --check; then
	echo "==> everything the tests need is installed (scripts/setup.sh --check)" >&2
else
	scripts/setup.sh
fi

# End-to-end tests fail, rather than skip, when a tool they need is missing.
export POLYARCH_E2E=1
export PATH=$PWD/bin:$PATH

echo "==> go vet ./... (also with -tags s3, and the bench module)" >&2
go vet ./...
go vet -tags s3 ./registry/...
(cd bench && go vet ./...)
echo "==> go test -race ./..." >&2
go test -race -count=1 -timeout 30m "$@" ./...
