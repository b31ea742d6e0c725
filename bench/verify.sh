#!/usr/bin/env bash
# Benchmark `polyarch verify`'s layer scan against plain gunzip: 512 MiB of
# gzip tar layers (ELF binaries, text, random data; generated deterministically
# into a temp dir), scanned from local files and verified end to end from a
# `polyarch registry serve` started for the run, taking turns with
# `gunzip -c > /dev/null` over the same files. Prints MB/s and the ratios;
# the goal is scan >= 0.7 x gunzip. Needs Go, gzip and ~2 GB in $TMPDIR;
# takes a few minutes on 2 cores.
#
#   bash bench/verify.sh [verifybench flags, e.g. -rounds 3 -mib 128]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/polyarch-verifybench.XXXXXX")"
# verifybench stops its registry itself (and the kernel kills it if
# verifybench dies); what is left is the layers and the registry's root.
trap 'rm -rf "$work"' EXIT

command -v gunzip >/dev/null || { echo "verify.sh: gunzip not found (apt-get install gzip)" >&2; exit 1; }

echo "==> building polyarch and verifybench into bin/"
go build -o "$bin/polyarch" ./cmd/polyarch
(cd bench && go build -o "$bin/verifybench" ./verifybench) # bench/ is its own module

"$bin/verifybench" -work "$work" -polyarch "$bin/polyarch" "$@"
