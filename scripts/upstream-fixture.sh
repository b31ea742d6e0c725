#!/usr/bin/env bash
# Makes the builder example's upstream repositories (nothing is fetched):
# each directory EXAMPLE/upstream/REPO/BRANCH/ becomes branch BRANCH of the
# bare repository EXAMPLE/.polyarch/fixture/REPO.git, which polyarch.yaml's
# upstream: and the test's jobs: read (istio-tools.git on release-1.14,
# release-1.16, release-2.2; istio-proxy.git; istio.git). Commits have a
# fixed author and date, so their hashes are the same on every machine and
# on every run. Idempotent.
#
#   scripts/upstream-fixture.sh [EXAMPLE]     (default examples/builder)
set -euo pipefail
example=$(cd "${1:-$(dirname "$0")/../examples/builder}" && pwd)
dest=$example/.polyarch/fixture
export GIT_AUTHOR_NAME=fixture GIT_AUTHOR_EMAIL=fixture@example.com GIT_COMMITTER_NAME=fixture GIT_COMMITTER_EMAIL=fixture@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
mkdir -p "$dest"
for repo in "$example"/upstream/*/; do
	name=$(basename "$repo")
	work=$(mktemp -d)
	git -C "$work" init --quiet --initial-branch=main
	echo "$name (a fixture of polyarch's builder example)" >"$work/README"
	git -C "$work" add README
	git -C "$work" commit --quiet -m "$name"
	for tree in "$repo"*/; do
		branch=$(basename "$tree")
		git -C "$work" checkout --quiet -B "$branch" main
		cp -a "$tree/." "$work/"
		git -C "$work" add -A
		git -C "$work" commit --quiet -m "$name $branch"
	done
	rm -rf "$dest/$name.git.tmp"
	git clone --quiet --bare "$work" "$dest/$name.git.tmp"
	# Blob-less fetches, as GitHub serves them.
	git --git-dir "$dest/$name.git.tmp" config uploadpack.allowFilter true
	rm -rf "$dest/$name.git" "$work"
	mv "$dest/$name.git.tmp" "$dest/$name.git"
done
echo "==> upstream fixture repositories in $dest: $(cd "$dest" && echo *.git)" >&2
