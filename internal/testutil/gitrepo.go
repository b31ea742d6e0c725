package testutil

import (
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// GitRepo makes a bare repository dir/name.git whose branches (and tags:
// a key "tag:v1" makes tag v1) each hold files on top of a shared first
// commit, and returns its path. The repository allows blob-less fetches,
// as GitHub's do.
func GitRepo(t testing.TB, dir, name string, refs map[string]map[string]string) string {
	t.Helper()
	Tool(t, "git")
	work := t.TempDir()
	g := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+work)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	g("init", "--quiet", "--initial-branch=main")
	os.WriteFile(filepath.Join(work, "README"), []byte(name+"\n"), 0o644)
	g("add", "README")
	g("commit", "--quiet", "-m", "first")
	names := make([]string, 0, len(refs))
	for r := range refs {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		branch, tag := r, ""
		if strings.HasPrefix(r, "tag:") {
			branch, tag = "tag-"+strings.TrimPrefix(r, "tag:"), strings.TrimPrefix(r, "tag:")
		}
		g("checkout", "--quiet", "-b", branch, "main")
		for p, content := range refs[r] {
			full := filepath.Join(work, p)
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			g("add", p)
		}
		g("commit", "--quiet", "-m", r)
		if tag != "" {
			g("tag", tag)
		}
	}
	bare := filepath.Join(dir, name+".git")
	g("clone", "--quiet", "--bare", work, bare)
	g("--git-dir", bare, "config", "uploadpack.allowFilter", "true")
	for _, r := range names {
		if strings.HasPrefix(r, "tag:") {
			g("--git-dir", bare, "branch", "--quiet", "-D", "tag-"+strings.TrimPrefix(r, "tag:"))
		}
	}
	return bare
}

// ServeGit serves the bare repositories in dir over HTTP with git's own
// smart-protocol server (git http-backend): dir/tools.git is
// <URL>/tools.git. The server is closed when the test ends.
func ServeGit(t testing.TB, dir string) *httptest.Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	srv := httptest.NewServer(&cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + dir, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
	})
	t.Cleanup(srv.Close)
	return srv
}
