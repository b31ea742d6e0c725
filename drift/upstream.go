package drift

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/polyarch/polyarch/config"
)

// Fetcher reads upstream files, keeping what it fetched in a cache so that
// drift works offline from it.
//
// A git upstream is fetched into a bare repository of the cache, one per
// repository URL: a shallow fetch (--depth=1) of the ref alone with no
// file contents (--filter=blob:none, where the server allows it), after
// which git fetches the one file read. A URL's body is kept beside it.
// When the upstream cannot be reached, or Offline is set, the cached copy
// is read and File.Cached says so; an upstream neither reachable nor
// cached is an error naming it.
//
// The cache's layout, under Cache:
//
//	git/<sha256 of the URL, 16 hex>-<name>/   a bare repository; the ref R is refs/polyarch/upstream/R
//	git/<...>/polyarch-fetched/<R, escaped>    touched at each fetch of R (its mtime is when)
//	url/<sha256 of the URL, 16 hex>-<name>     the body of the last good GET
type Fetcher struct {
	// Cache is the cache directory: .polyarch/upstream beside polyarch.yaml.
	Cache string
	// Dir resolves relative local paths, and git repositories given as
	// paths: the directory of polyarch.yaml.
	Dir string
	// Offline reads from the cache without trying the network.
	Offline bool
	// Client fetches URLs; default http.DefaultClient.
	Client *http.Client

	locks sync.Map // cache directory -> *sync.Mutex
}

// File is one upstream file as read.
type File struct {
	// Name is where it was read: config.Source's String, or the local path.
	Name string
	Data []byte
	// Cached, when not nil, says the file was read from the cache and why.
	Cached *Cached
}

// Cached describes a file read from the cache instead of its upstream.
type Cached struct {
	// Source is the upstream not reached.
	Source string
	// Reason is why: the fetch error, or "offline".
	Reason string
	// Fetched is when the cached copy was fetched.
	Fetched time.Time
	// Commit is the cached commit of a git ref.
	Commit string
}

func (c Cached) String() string {
	what := "the copy"
	if c.Commit != "" {
		what = "commit " + shortCommit(c.Commit)
	}
	when := ""
	if !c.Fetched.IsZero() {
		when = ", fetched " + c.Fetched.UTC().Format("2006-01-02 15:04 UTC")
	}
	if c.Reason == "offline" {
		return fmt.Sprintf("offline: %s read from the cache (%s%s)", c.Source, what, when)
	}
	return fmt.Sprintf("%s is unreachable (%s): read from the cache (%s%s)", c.Source, c.Reason, what, when)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// Read reads one upstream file.
func (f *Fetcher) Read(ctx context.Context, s config.Source) (*File, error) {
	switch {
	case s.Git != "":
		return f.readGit(ctx, s)
	case s.URL != "":
		return f.readURL(ctx, s.URL)
	}
	p := s.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.Dir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading upstream %s: %w", p, err)
	}
	return &File{Name: p, Data: b}, nil
}

func (f *Fetcher) lock(dir string) func() {
	m, _ := f.locks.LoadOrStore(dir, &sync.Mutex{})
	m.(*sync.Mutex).Lock()
	return m.(*sync.Mutex).Unlock
}

// errOffline is why the network was not tried.
var errOffline = errors.New("offline")

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[^:/]+:`)

// repository is s.Git as git is given it: a URL as written, a path
// resolved against Dir.
func (f *Fetcher) repository(git string) string {
	if strings.Contains(git, "://") || scpLike.MatchString(git) || filepath.IsAbs(git) {
		return git
	}
	return filepath.Join(f.Dir, git)
}

func (f *Fetcher) readGit(ctx context.Context, s config.Source) (*File, error) {
	repo := f.repository(s.Git)
	dir := filepath.Join(f.Cache, "git", cacheKey(repo))
	defer f.lock(dir)()
	name := s.String()
	local := "refs/polyarch/upstream/" + s.Ref
	stamp := filepath.Join(dir, "polyarch-fetched", url.PathEscape(s.Ref))

	if err := initCache(ctx, dir, repo); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	fetchErr := errOffline
	if !f.Offline {
		_, fetchErr = git(ctx, dir, "fetch", "--quiet", "--no-tags", "--depth=1", "--filter=blob:none", "origin", "+"+s.Ref+":"+local)
		if fetchErr == nil {
			os.MkdirAll(filepath.Dir(stamp), 0o755)
			os.WriteFile(stamp, nil, 0o644)
			now := time.Now()
			os.Chtimes(stamp, now, now)
		}
	}
	commit, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", local+"^{commit}")
	if err != nil {
		if fetchErr == errOffline {
			return nil, fmt.Errorf("reading %s: offline, and %s of %s is not in the cache (%s): run without --offline once", name, s.Ref, s.Git, dir)
		}
		return nil, fmt.Errorf("reading %s: fetching %s from %s: %v (and it is not in the cache)", name, s.Ref, s.Git, fetchErr)
	}
	commit = strings.TrimSpace(commit)
	if ls, err := git(ctx, dir, "ls-tree", "--name-only", local, "--", s.Path); err != nil || strings.TrimSpace(ls) == "" {
		return nil, fmt.Errorf("reading %s: %s of %s (commit %s) has no file %s", name, s.Ref, s.Git, shortCommit(commit), s.Path)
	}
	data, err := git(ctx, dir, "cat-file", "blob", local+":"+s.Path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", name, err)
	}
	file := &File{Name: name, Data: []byte(data)}
	if fetchErr != nil {
		c := &Cached{Source: s.Git + "@" + s.Ref, Reason: fetchErr.Error(), Commit: commit}
		if st, err := os.Stat(stamp); err == nil {
			c.Fetched = st.ModTime()
		}
		file.Cached = c
	}
	return file, nil
}

// initCache makes the bare repository that caches repo: its origin is a
// promisor remote, so a blob-less fetch is allowed and a file read later
// is fetched on demand.
func initCache(ctx context.Context, dir, repo string) error {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		if _, err := git(ctx, "", "init", "--quiet", "--bare", dir); err != nil {
			return fmt.Errorf("making the cache: %w", err)
		}
	}
	for _, kv := range [][2]string{
		{"remote.origin.url", repo},
		{"remote.origin.promisor", "true"},
		{"remote.origin.partialclonefilter", "blob:none"},
		{"extensions.partialClone", "origin"},
	} {
		if _, err := git(ctx, dir, "config", kv[0], kv[1]); err != nil {
			return fmt.Errorf("configuring the cache %s: %w", dir, err)
		}
	}
	return nil
}

// git runs git in the bare repository dir (none when ""), never asking for
// credentials on the terminal; the error is git's own message.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"--git-dir", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_ASKPASS=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("git is not installed: %w", err)
		}
		return "", errors.New(gitMessage(stderr.String(), err))
	}
	return stdout.String(), nil
}

// gitMessage keeps git's fatal: and error: lines, the useful part of its
// stderr.
func gitMessage(stderr string, err error) string {
	var keep []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal: ") || strings.HasPrefix(l, "error: ") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		if s := strings.TrimSpace(stderr); s != "" {
			return s
		}
		return err.Error()
	}
	return strings.Join(keep, "; ")
}

func (f *Fetcher) readURL(ctx context.Context, u string) (*File, error) {
	cached := filepath.Join(f.Cache, "url", cacheKey(u))
	defer f.lock(cached)()
	fetchErr := errOffline
	if !f.Offline {
		var b []byte
		if b, fetchErr = f.get(ctx, u); fetchErr == nil {
			if err := os.MkdirAll(filepath.Dir(cached), 0o755); err == nil {
				writeAtomic(cached, b)
			}
			return &File{Name: u, Data: b}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	b, err := os.ReadFile(cached)
	if err != nil {
		if fetchErr == errOffline {
			return nil, fmt.Errorf("reading %s: offline, and it is not in the cache (%s): run without --offline once", u, cached)
		}
		return nil, fmt.Errorf("reading %s: %v (and it is not in the cache)", u, fetchErr)
	}
	c := &Cached{Source: u, Reason: fetchErr.Error()}
	if st, err := os.Stat(cached); err == nil {
		c.Fetched = st.ModTime()
	}
	return &File{Name: u, Data: b, Cached: c}, nil
}

// maxUpstream bounds what is read of a URL: a Dockerfile or version file.
const maxUpstream = 8 << 20

func (f *Fetcher) get(ctx context.Context, u string) ([]byte, error) {
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstream+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxUpstream {
		return nil, fmt.Errorf("larger than %d MiB", maxUpstream>>20)
	}
	return b, nil
}

func writeAtomic(p string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// cacheKey names a cache entry: a hash of s, which is unique, then its last
// path element, which a person can read.
func cacheKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	name := unsafeName.ReplaceAllString(path.Base(strings.TrimSuffix(s, "/")), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return hex.EncodeToString(sum[:8]) + "-" + name
}
