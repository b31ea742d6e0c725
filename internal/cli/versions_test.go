package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
)

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withoutLines is s with the lines of part (which must be whole lines of s) taken out once.
func withoutLines(t *testing.T, s, part string) string {
	t.Helper()
	i := strings.Index(s, part)
	if i < 0 || (i > 0 && s[i-1] != '\n') {
		t.Fatalf("%q is not whole lines of:\n%s", part, s)
	}
	return s[:i] + s[i+len(part):]
}

func TestVersionsAdd(t *testing.T) {
	repos := upstreamRepos(t)
	cfg := driftProject(t, "file://"+repos, "# pairs our GOLANG_VERSION with upstream's GO_VERSION\ndrift:\n  aliases: {GOLANG_VERSION: go}\n")
	dir := filepath.Dir(cfg)
	t.Chdir(dir)
	before := readFile(t, cfg)

	stdout, stderr, code := polyarch(t, "versions", "add", "2.4", "--from", "2.2", "--upstream-ref", "release-1.14")
	if code != cli.ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	tools := "file://" + repos + "/tools.git@release-1.14:docker/build-tools/Dockerfile"
	if !strings.HasPrefix(stdout, "added builder@2.4 from 2.2: b_2.4.Dockerfile\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	// Each change: the name as written, old -> new, where, and where upstream's was read.
	for _, c := range [][4]string{
		{"GOLANG_VERSION", "1.17.5 -> 1.18.2", "b_2.4.Dockerfile:1", tools + ":1"},
		{"KIND_VERSION", "0.11.1 -> 0.14.0", "b_2.4.Dockerfile:3", tools + ":3"},
		{"github.com/golangci/golangci-lint/cmd/golangci-lint", "v1.43.0 -> v1.46.2", "b_2.4.Dockerfile:4", tools + ":4"},
		{"ubuntu", "focal -> jammy", "b_2.4.Dockerfile:5", tools + ":6"},
		{"BAZEL_VERSION", "4.2.1 -> 5.1.1", "polyarch.yaml:23", "file://" + repos + "/proxy.git@release-1.14:.bazelversion:1"},
	} {
		re := `^  ` + regexp.QuoteMeta(c[0]) + `\s+` + regexp.QuoteMeta(c[1]) + `\s+` + regexp.QuoteMeta(c[2]) + `\s+\(upstream ` + regexp.QuoteMeta(c[3]) + `\)$`
		if !regexp.MustCompile(`(?m)` + re).MatchString(stdout) {
			t.Errorf("no change line %q:\n%s", c, stdout)
		}
	}
	if want := "note: upstream has helm v3.9.0 (" + tools + ":5) and 2.2 does not: add it if the image needs it\n"; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	// The Dockerfile, copied with the upstream's versions (spelled as ours).
	if got, want := readFile(t, filepath.Join(dir, "b_2.4.Dockerfile")), strings.NewReplacer("1.17.5", "1.18.2", "0.11.1", "0.14.0", "v1.43.0", "v1.46.2", "focal", "jammy").Replace(builder22); got != want {
		t.Errorf("b_2.4.Dockerfile:\n%s\nwant:\n%s", got, want)
	}
	// polyarch.yaml: the new entry after the last, every other byte as it was.
	after := readFile(t, cfg)
	added := `      - version: "2.4"
        args: {ISTIO_VERSION: "1.12", BAZEL_VERSION: 5.1.1}
        upstream:
          dockerfile: {git: file://` + repos + `/tools.git, ref: release-1.14, path: docker/build-tools/Dockerfile}
          files: [{git: file://` + repos + `/proxy.git, ref: release-1.14, path: .bazelversion}]
`
	if rest := withoutLines(t, after, added); rest != before {
		t.Errorf("outside the added lines polyarch.yaml changed:\n%s\nwas:\n%s", rest, before)
	}
	if !strings.HasSuffix(after, "        dockerfile: b_2.2.Dockerfile\n"+added) {
		t.Errorf("the entry is not at the end of the list:\n%s", after)
	}

	// The new version follows release-1.14: only helm is left, for a person
	// to add.
	stdout, _, code = polyarch(t, "drift", "builder@2.4")
	if code != cli.ExitFailed || !strings.Contains(stdout, "builder@2.4: drift (1 only upstream, 1 only ours, 5 same)") {
		t.Errorf("drift after add: exit %d\n%s", code, stdout)
	}

	// Refusals change nothing.
	writeFile(t, filepath.Join(dir, "b_2.5.Dockerfile"), "FROM scratch\n# someone's work\n")
	after = readFile(t, cfg)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"an existing Dockerfile", []string{"versions", "add", "2.5", "--from", "2.2"}, cli.ExitFailed,
			filepath.Join(dir, "b_2.5.Dockerfile") + " already exists: versions add does not overwrite files"},
		{"an existing version", []string{"versions", "add", "builder@2.3", "--from", "2.2"}, cli.ExitFailed,
			`polyarch.yaml:15: images[0].versions[1].version: image "builder" already has version "2.3"`},
		{"an unknown --from", []string{"versions", "add", "2.6", "--from", "1.0"}, cli.ExitFailed, `image "builder" has no version "1.0" to copy (it has 2.2, 2.3, 2.1, 2.4)`},
		{"no --from", []string{"versions", "add", "2.6"}, cli.ExitUsage, "--from is required"},
		{"a Dockerfile by name", []string{"versions", "add", "2.6", "--from", "2.1"}, cli.ExitFailed,
			"polyarch.yaml:21: images[0].versions[2].dockerfile: b_2.2.Dockerfile is 2.1's Dockerfile by name"},
		{"an unreachable upstream", []string{"versions", "add", "2.6", "--from", "2.2", "--upstream-ref", "release-9.9"}, cli.ExitFailed,
			"builder@2.6: reading file://" + repos + "/tools.git@release-9.9:docker/build-tools/Dockerfile: fetching release-9.9 from file://" + repos + "/tools.git"},
		{"an unknown image", []string{"versions", "add", "nope@2.6", "--from", "2.2"}, cli.ExitFailed, `no image "nope" (it has builder)`},
		{"two arguments", []string{"versions", "add", "2.6", "2.7", "--from", "2.2"}, cli.ExitUsage, "takes 1 argument(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, tc.code, tc.want)
			if got := readFile(t, cfg); got != after {
				t.Errorf("polyarch.yaml changed:\n%s", got)
			}
		})
	}
	if got := readFile(t, filepath.Join(dir, "b_2.5.Dockerfile")); !strings.Contains(got, "someone's work") {
		t.Errorf("b_2.5.Dockerfile was overwritten: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "b_2.6.Dockerfile")); err == nil {
		t.Errorf("a refused add left b_2.6.Dockerfile")
	}
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestVersionsRemove(t *testing.T) {
	cfg := driftProject(t, "file:///nowhere", "")
	dir := filepath.Dir(cfg)
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	writeFile(t, filepath.Join(dir, "b_2.1.Dockerfile"), "FROM scratch\n")
	gitIn(t, dir, "init", "--quiet")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "--quiet", "-m", "builder")
	t.Chdir(dir)
	before := readFile(t, cfg)
	entry23 := `      - version: "2.3"
        args: {ISTIO_VERSION: "1.14", BAZEL_VERSION: 4.2.1}
        upstream:
          dockerfile: {git: file:///nowhere/tools.git, ref: release-1.14, path: docker/build-tools/Dockerfile}
          files: [{git: file:///nowhere/proxy.git, ref: release-1.14, path: .bazelversion}]
`

	// A Dockerfile with uncommitted changes is not deleted, nor the entry removed.
	writeFile(t, filepath.Join(dir, "b_2.3.Dockerfile"), builder22+"# work in progress\n")
	args := []string{"versions", "remove", "2.3"}
	stdout, stderr, code := polyarch(t, args...)
	checkFailure(t, args, stdout, stderr, code, cli.ExitFailed, "not removing builder@2.3: its Dockerfile "+filepath.Join(dir, "b_2.3.Dockerfile")+" has changes git has not committed")
	if readFile(t, cfg) != before {
		t.Fatal("a refused remove changed polyarch.yaml")
	}
	gitIn(t, dir, "checkout", "--", "b_2.3.Dockerfile")

	stdout, stderr, code = polyarch(t, "versions", "remove", "builder@2.3")
	if code != cli.ExitOK || stderr != "" || stdout != "removed builder@2.3 and its Dockerfile b_2.3.Dockerfile\n" {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	if got := readFile(t, cfg); got != withoutLines(t, before, entry23) {
		t.Errorf("polyarch.yaml after remove:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "b_2.3.Dockerfile")); !os.IsNotExist(err) {
		t.Errorf("b_2.3.Dockerfile is still there: %v", err)
	}

	// 2.1 builds 2.2's Dockerfile too: removing 2.2 keeps it.
	stdout, _, code = polyarch(t, "versions", "remove", "2.2")
	if code != cli.ExitOK || stdout != "removed builder@2.2; kept its Dockerfile b_2.2.Dockerfile (builder@2.1 builds it too)\n" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the only version", []string{"versions", "remove", "2.1"}, cli.ExitFailed, "polyarch.yaml:7: images[0].versions[0]: 2.1 is the only version of builder"},
		{"an unknown version", []string{"versions", "remove", "9"}, cli.ExitFailed, `image "builder" has no version "9" (it has 2.1)`},
		{"no argument", []string{"versions", "remove"}, cli.ExitUsage, "takes 1 argument(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, tc.code, tc.want)
		})
	}
}

func TestVersionsRemoveKeepsADockerfileGitDoesNotHave(t *testing.T) {
	cfg := driftProject(t, "file:///nowhere", "")
	dir := filepath.Dir(cfg)
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	args := []string{"versions", "remove", "-f", cfg, "2.3"}
	stdout, stderr, code := polyarch(t, args...)
	checkFailure(t, args, stdout, stderr, code, cli.ExitFailed, "b_2.3.Dockerfile is in no git repository, and deleting it would lose that")
	stdout, _, code = polyarch(t, "versions", "remove", "-f", cfg, "2.3", "--keep-dockerfile")
	if code != cli.ExitOK || !strings.HasSuffix(stdout, "b_2.3.Dockerfile (--keep-dockerfile)\n") {
		t.Errorf("--keep-dockerfile: exit %d, %q", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "b_2.3.Dockerfile")); err != nil {
		t.Errorf("--keep-dockerfile: %v", err)
	}
}
