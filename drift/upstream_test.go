package drift_test

import (
	"context"
	"crypto/rand"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/drift"
	"github.com/polyarch/polyarch/internal/testutil"
)

func toolsDockerfile(golang, kind string) string {
	return "ARG GOLANG_IMAGE=golang:" + golang + "\nFROM ${GOLANG_IMAGE} AS tools\nENV KIND_VERSION=" + kind + "\nFROM ubuntu:focal\n"
}

// upstreams makes tools.git (Istio's build-tools Dockerfile on
// release-1.12 and release-1.14, beside a 2 MiB file no fetch should read)
// and proxy.git (.bazelversion on the same branches) in a directory.
func upstreams(t *testing.T) string {
	t.Helper()
	big := make([]byte, 2<<20)
	rand.Read(big)
	dir := t.TempDir()
	testutil.GitRepo(t, dir, "tools", map[string]map[string]string{
		"release-1.12": {"docker/build-tools/Dockerfile": toolsDockerfile("1.17.5", "v0.11.1"), "big.bin": string(big)},
		"release-1.14": {"docker/build-tools/Dockerfile": toolsDockerfile("1.18.2", "v0.14.0"), "big.bin": string(big)},
		"tag:1.14.0":   {"docker/build-tools/Dockerfile": toolsDockerfile("1.18.1", "v0.14.0")},
	})
	testutil.GitRepo(t, dir, "proxy", map[string]map[string]string{
		"release-1.12": {".bazelversion": "4.2.1\n"},
		"release-1.14": {".bazelversion": "5.1.1\n"},
	})
	return dir
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if st, err := d.Info(); err == nil {
				n += st.Size()
			}
		}
		return nil
	})
	return n
}

func TestFetcherReadsGitUpstreams(t *testing.T) {
	up := upstreams(t)
	srv := testutil.ServeGit(t, up)
	ctx := context.Background()
	for _, tc := range []struct {
		name, repo, ref, want string
	}{
		{"file://", "file://" + up + "/tools.git", "release-1.12", "golang:1.17.5"},
		{"http (git http-backend)", srv.URL + "/tools.git", "release-1.14", "golang:1.18.2"},
		{"a tag", srv.URL + "/tools.git", "1.14.0", "golang:1.18.1"},
		{"a local path", up + "/tools.git", "release-1.12", "golang:1.17.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			f := &drift.Fetcher{Cache: cache, Dir: t.TempDir()}
			src := config.Source{Git: tc.repo, Ref: tc.ref, Path: "docker/build-tools/Dockerfile"}
			file, err := f.Read(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(file.Data), tc.want) || file.Cached != nil {
				t.Errorf("read %q (cached %v), want a Dockerfile with %s", file.Data, file.Cached, tc.want)
			}
			if file.Name != tc.repo+"@"+tc.ref+":docker/build-tools/Dockerfile" {
				t.Errorf("named %q", file.Name)
			}
			// Not a full clone: the 2 MiB file beside the Dockerfile and the
			// history before the ref were not fetched.
			if n := dirSize(t, cache); n > 1<<20 {
				t.Errorf("the cache holds %d bytes after reading one small file", n)
			}
			shallow, _ := filepath.Glob(filepath.Join(cache, "git", "*", "shallow"))
			if len(shallow) != 1 {
				t.Errorf("the cached repository is not shallow")
			}
		})
	}

	t.Run("a relative path is relative to polyarch.yaml", func(t *testing.T) {
		f := &drift.Fetcher{Cache: t.TempDir(), Dir: up}
		file, err := f.Read(ctx, config.Source{Git: "proxy.git", Ref: "release-1.14", Path: ".bazelversion"})
		if err != nil || string(file.Data) != "5.1.1\n" {
			t.Fatalf("read %q, %v", file, err)
		}
	})
}

func TestFetcherWorksOfflineFromTheCache(t *testing.T) {
	up := upstreams(t)
	srv := testutil.ServeGit(t, up)
	ctx := context.Background()
	cache := t.TempDir()
	src := config.Source{Git: srv.URL + "/tools.git", Ref: "release-1.12", Path: "docker/build-tools/Dockerfile"}
	if _, err := (&drift.Fetcher{Cache: cache}).Read(ctx, src); err != nil {
		t.Fatal(err)
	}

	offline, err := (&drift.Fetcher{Cache: cache, Offline: true}).Read(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if offline.Cached == nil || !strings.Contains(string(offline.Data), "golang:1.17.5") {
		t.Fatalf("--offline read %q, cached %v", offline.Data, offline.Cached)
	}
	if msg := offline.Cached.String(); !strings.HasPrefix(msg, "offline: "+srv.URL+"/tools.git@release-1.12 read from the cache (commit ") || !strings.Contains(msg, "fetched ") {
		t.Errorf("offline message %q", msg)
	}

	srv.Close()
	unreachable, err := (&drift.Fetcher{Cache: cache}).Read(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if unreachable.Cached == nil || !strings.Contains(string(unreachable.Data), "golang:1.17.5") {
		t.Fatalf("read %q, cached %v", unreachable.Data, unreachable.Cached)
	}
	if msg := unreachable.Cached.String(); !strings.HasPrefix(msg, srv.URL+"/tools.git@release-1.12 is unreachable (") || !strings.Contains(msg, "read from the cache (commit ") {
		t.Errorf("message %q", msg)
	}

	// Another ref of the same repository was never fetched.
	other := src
	other.Ref = "release-1.14"
	_, err = (&drift.Fetcher{Cache: cache}).Read(ctx, other)
	if err == nil || !strings.Contains(err.Error(), "fetching release-1.14 from "+srv.URL+"/tools.git") || !strings.Contains(err.Error(), "not in the cache") {
		t.Errorf("an unreachable ref never cached: %v", err)
	}
	_, err = (&drift.Fetcher{Cache: cache, Offline: true}).Read(ctx, other)
	if err == nil || !strings.Contains(err.Error(), "offline, and release-1.14 of "+srv.URL+"/tools.git is not in the cache") {
		t.Errorf("--offline, a ref never cached: %v", err)
	}
}

func TestFetcherNamesWhatIsMissing(t *testing.T) {
	up := upstreams(t)
	ctx := context.Background()
	repo := "file://" + up + "/tools.git"
	for _, tc := range []struct {
		name string
		src  config.Source
		want []string
	}{
		{"no such ref", config.Source{Git: repo, Ref: "release-9.9", Path: "Dockerfile"},
			[]string{"fetching release-9.9 from " + repo, "release-9.9"}},
		{"no such file", config.Source{Git: repo, Ref: "release-1.12", Path: "docker/Dockerfile"},
			[]string{"release-1.12 of " + repo, "has no file docker/Dockerfile"}},
		{"no such repository", config.Source{Git: "file://" + up + "/nope.git", Ref: "main", Path: "Dockerfile"},
			[]string{"fetching main from file://" + up + "/nope.git"}},
		{"no such local file", config.Source{Path: "up/Dockerfile"},
			[]string{"reading upstream " + filepath.Join(up, "up/Dockerfile")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&drift.Fetcher{Cache: t.TempDir(), Dir: up}).Read(ctx, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFetcherReadsURLs(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/istio/tools/release-1.12/docker/build-tools/Dockerfile" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(toolsDockerfile("1.17.5", "v0.11.1")))
	}))
	u := srv.URL + "/istio/tools/release-1.12/docker/build-tools/Dockerfile"
	cache := t.TempDir()
	file, err := (&drift.Fetcher{Cache: cache}).Read(ctx, config.Source{URL: u})
	if err != nil || file.Name != u || file.Cached != nil || !strings.Contains(string(file.Data), "golang:1.17.5") {
		t.Fatalf("read %+v, %v", file, err)
	}
	_, err = (&drift.Fetcher{Cache: t.TempDir()}).Read(ctx, config.Source{URL: srv.URL + "/nope"})
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/nope: GET: 404 Not Found") {
		t.Errorf("a 404: %v", err)
	}
	srv.Close()
	file, err = (&drift.Fetcher{Cache: cache}).Read(ctx, config.Source{URL: u})
	if err != nil || file.Cached == nil || !strings.Contains(string(file.Data), "golang:1.17.5") {
		t.Fatalf("unreachable, cached: %+v, %v", file, err)
	}
	if msg := file.Cached.String(); !strings.HasPrefix(msg, u+" is unreachable (") || !strings.Contains(msg, "connection refused") {
		t.Errorf("message %q", msg)
	}
	_, err = (&drift.Fetcher{Cache: t.TempDir()}).Read(ctx, config.Source{URL: u})
	if err == nil || !strings.Contains(err.Error(), "reading "+u) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable, not cached: %v", err)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Fatal(err)
	}
}
