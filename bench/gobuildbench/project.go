package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// platforms are those of the gobuild example; amd64 is this machine's.
var platforms = []struct{ platform, arch string }{
	{"linux/amd64", "amd64"},
	{"linux/arm64", "arm64"},
	{"linux/s390x", "s390x"},
}

func platformNames() []string {
	var out []string
	for _, p := range platforms {
		out = append(out, p.platform)
	}
	return out
}

func joinPlatforms() string { return strings.Join(platformNames(), ", ") }

// baseImages publishes what the example builds FROM, as the quick start
// would: the busybox base image and the Go toolchain image.
func baseImages(ctx context.Context, c config, registry string) error {
	for _, script := range []string{"scripts/base-image.sh", "scripts/go-image.sh"} {
		cmd := command(ctx, "bash", filepath.Join(c.repo, script), registry)
		cmd.Dir = c.repo
		cmd.Env = append(os.Environ(), "POLYARCH="+c.polyarch)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", script, err, out)
		}
	}
	return nil
}

// project is a copy of examples/gobuild pointed at the benchmark's registry
// and committed to git, so that its builds are reproducible
// (SOURCE_DATE_EPOCH and the OCI annotations come from the commit).
type project struct {
	dir      string
	registry string
	commit   string
	epoch    string
}

const commitDate = "2026-01-02T03:04:05Z"

func newProject(ctx context.Context, c config, registry string) (*project, error) {
	p := &project{dir: filepath.Join(c.work, "project"), registry: registry}
	src := filepath.Join(c.repo, "examples", "gobuild")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".polyarch" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(p.dir, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == "polyarch.yaml" {
			b = regexp.MustCompile(`(?m)^registry: .*$`).ReplaceAll(b, []byte("registry: "+registry))
		}
		return os.WriteFile(filepath.Join(p.dir, rel), b, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("copying %s: %w", src, err)
	}
	for _, args := range [][]string{{"init", "--quiet", "--initial-branch=main"}, {"add", "."}, {"commit", "--quiet", "-m", "gobuild"}} {
		if _, err := p.git(ctx, args...); err != nil {
			return nil, err
		}
	}
	if p.commit, err = p.git(ctx, "rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	t, _ := time.Parse(time.RFC3339, commitDate)
	p.epoch = strconv.FormatInt(t.Unix(), 10)
	return p, nil
}

func (p *project) git(ctx context.Context, args ...string) (string, error) {
	cmd := command(ctx, "git", args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com", "GIT_COMMITTER_NAME=bench",
		"GIT_COMMITTER_EMAIL=bench@example.com", "GIT_AUTHOR_DATE="+commitDate, "GIT_COMMITTER_DATE="+commitDate, "GIT_CONFIG_NOSYSTEM=1", "HOME="+p.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %v: %w\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// variant is one way of building the example.
type variant int

const (
	polyarchCross    variant = iota // polyarch build gobuild --no-cache
	buildctlCross                   // buildctl, the same options, --no-cache
	polyarchRebuild                 // polyarch build gobuild, from the registry cache
	buildctlRebuild                 // buildctl --import-cache, from its registry cache
	polyarchEmulated                // polyarch build gobuild-emulated --no-cache
)

func (v variant) String() string {
	return [...]string{
		"cross-compiled, cold: polyarch",
		"cross-compiled, cold: buildctl",
		"rebuild on a fresh node from the cache: polyarch",
		"rebuild on a fresh node from the cache: buildctl",
		"compiled under emulation, cold: polyarch",
	}[v]
}

// wantRun is whether the variant's compile step must run (or come from the cache).
func (v variant) wantRun() bool { return v != polyarchRebuild && v != buildctlRebuild }

// sample is one measured build of the three platforms.
type sample struct {
	Variant string  `json:"variant"`
	Round   int     `json:"round,omitempty"`
	Seconds float64 `json:"seconds"`
	// Platforms are each platform's own build time (polyarch's table, or
	// its buildctl process), and the digest pushed.
	Platforms map[string]platformSample `json:"platforms"`
	v         variant
}

type platformSample struct {
	Seconds float64 `json:"seconds"`
	Digest  string  `json:"digest,omitempty"`
}

func (s sample) perPlatform() string {
	var parts []string
	for _, p := range platforms {
		parts = append(parts, fmt.Sprintf("%s %5.1fs", p.arch, s.Platforms[p.platform].Seconds))
	}
	return strings.Join(parts, "  ")
}

// measure builds the example one way on a fresh builder node and checks,
// from BuildKit's progress, that the compile step ran (or did not).
func (p *project) measure(ctx context.Context, c config, v variant, round int) (sample, error) {
	name := strings.NewReplacer(" ", "-", ",", "", ":", "").Replace(v.String())
	if round > 0 {
		name += fmt.Sprintf("-%d", round)
	}
	// A short name: buildkitd's socket path must fit in 104 bytes.
	n := &node{polyarch: c.polyarch, dir: filepath.Join(c.work, "builders", fmt.Sprintf("%d-%d", v, round))}
	if err := n.start(ctx, p.registry); err != nil {
		return sample{}, err
	}
	defer n.drop()
	logDir := filepath.Join(c.work, "logs", name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return sample{}, err
	}
	s := sample{Variant: v.String(), Round: round, Platforms: map[string]platformSample{}, v: v}
	var err error
	switch v {
	case polyarchCross, polyarchRebuild, polyarchEmulated:
		err = p.polyarchBuild(ctx, c, n, v, logDir, &s)
	default:
		err = p.buildctlBuild(ctx, c, n, v, logDir, &s)
	}
	if err != nil {
		return s, err
	}
	return s, checkLogs(logDir, v.wantRun())
}

var tableRow = regexp.MustCompile(`(?m)^gobuild(?:-emulated)?\s+-\s+(\S+)\s+local\s+\S+\s+(sha256:[0-9a-f]+)\s+(\S+)\s+ok$`)

func (p *project) polyarchBuild(ctx context.Context, c config, n *node, v variant, logDir string, s *sample) error {
	args := []string{"build", "--builder-dir", n.dir, "--log-dir", logDir}
	switch v {
	case polyarchCross:
		args = append(args, "--no-cache", "gobuild")
	case polyarchRebuild:
		args = append(args, "gobuild")
	case polyarchEmulated:
		args = append(args, "--no-cache", "gobuild-emulated")
	}
	cmd := command(ctx, c.polyarch, args...)
	cmd.Dir = p.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	s.Seconds = time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("polyarch %v: %w\n%s", args, err, out)
	}
	for _, m := range tableRow.FindAllStringSubmatch(string(out), -1) {
		d, _ := time.ParseDuration(m[3])
		s.Platforms[m[1]] = platformSample{Seconds: d.Seconds(), Digest: m[2]}
	}
	if len(s.Platforms) != len(platforms) {
		return fmt.Errorf("polyarch build's table lists %d platforms, want %d:\n%s", len(s.Platforms), len(platforms), out)
	}
	return nil
}

// buildctlBuild runs one `buildctl build` per platform, all at once (as
// polyarch runs them on a node of capacity 3), with what polyarch sends
// for the same job: the Dockerfile frontend with the platform and the
// build arguments, the image exporter pushing to an arch-named reference
// with the same annotations, and the same registry cache flags (a cache
// ref of its own).
func (p *project) buildctlBuild(ctx context.Context, c config, n *node, v variant, logDir string, s *sample) error {
	cmds := make([]*exec.Cmd, len(platforms))
	for i, pl := range platforms {
		ref := fmt.Sprintf("%s/bench/gobuild-buildctl:1.0-%s", p.registry, pl.arch)
		cacheRef := fmt.Sprintf("%s/bench/gobuild-buildctl-buildcache:%s", p.registry, strings.ReplaceAll(pl.platform, "/", "-"))
		args := []string{"--addr", n.address(), "build", "--progress", "plain",
			"--frontend", "dockerfile.v0", "--local", "context=" + p.dir, "--local", "dockerfile=" + p.dir,
			"--opt", "platform=" + pl.platform, "--opt", "filename=Dockerfile",
			"--opt", "build-arg:POLYARCH_REGISTRY=" + p.registry, "--opt", "build-arg:VERSION=1.0", "--opt", "build-arg:SOURCE_DATE_EPOCH=" + p.epoch,
			"--output", "type=image,name=" + ref + ",push=true,annotation.org.opencontainers.image.version=1.0" +
				",annotation.org.opencontainers.image.revision=" + p.commit + ",annotation.org.opencontainers.image.created=" + commitDate,
			"--export-cache", "type=registry,ref=" + cacheRef + ",mode=max,oci-mediatypes=true,image-manifest=true,ignore-error=true"}
		if v == buildctlCross {
			args = append(args, "--no-cache")
		} else {
			args = append(args, "--import-cache", "type=registry,ref="+cacheRef)
		}
		cmds[i] = command(ctx, c.buildctl, args...)
		f, err := os.Create(filepath.Join(logDir, "gobuild_"+strings.ReplaceAll(pl.platform, "/", "-")+".log"))
		if err != nil {
			return err
		}
		defer f.Close()
		cmds[i].Stdout, cmds[i].Stderr = f, f
	}
	errs := make([]error, len(cmds))
	took := make([]time.Duration, len(cmds))
	start := time.Now()
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			errs[i] = cmd.Run()
			took[i] = time.Since(t)
		}()
	}
	wg.Wait()
	s.Seconds = time.Since(start).Seconds()
	for i, cmd := range cmds {
		if errs[i] != nil {
			log := cmd.Stdout.(*os.File).Name()
			return fmt.Errorf("buildctl build %s: %w (see %s)\n%s", platforms[i].platform, errs[i], log, harness.LogTail(log))
		}
		s.Platforms[platforms[i].platform] = platformSample{Seconds: took[i].Seconds()}
	}
	return nil
}

var (
	compileStep = regexp.MustCompile(`(?m)^(?:\[[^\]]*\] )?#(\d+) \[[^\]]*\] RUN .*go build`)
)

// checkLogs reads each platform's BuildKit log in dir: the compile step
// ran when ran, else it came from the cache (CACHED), and no RUN step ran.
func checkLogs(dir string, ran bool) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return err
	}
	if len(logs) != len(platforms) {
		return fmt.Errorf("%d build logs in %s, want %d", len(logs), dir, len(platforms))
	}
	for _, l := range logs {
		raw, err := os.ReadFile(l)
		if err != nil {
			return err
		}
		m := compileStep.FindSubmatch(raw)
		if m == nil {
			return fmt.Errorf("%s: no go build step in the log", l)
		}
		cached := regexp.MustCompile(`(?m)^(?:\[[^\]]*\] )?#` + string(m[1]) + ` CACHED`).Match(raw)
		switch {
		case ran && cached:
			return fmt.Errorf("%s: the go build step was CACHED in a cold build", l)
		case !ran && !cached:
			return fmt.Errorf("%s: the go build step ran in a rebuild from the registry cache", l)
		}
	}
	return nil
}

// node is a builder node of one build's own: started before the clock,
// stopped and its state directory deleted after, so the next is fresh.
type node struct {
	polyarch string
	dir      string
}

func (n *node) address() string { return "unix://" + filepath.Join(n.dir, "buildkitd.sock") }

func (n *node) start(ctx context.Context, registry string) error {
	if out, err := command(ctx, n.polyarch, "builder", "start", "--builder-dir", n.dir, "--insecure-registry", registry).CombinedOutput(); err != nil {
		return fmt.Errorf("polyarch builder start: %w\n%s", err, out)
	}
	return nil
}

// drop stops the node and deletes its state (bench/gobuild.sh's trap does
// the same for a node left when gobuildbench could not).
func (n *node) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := command(ctx, n.polyarch, "builder", "stop", "--builder-dir", n.dir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "gobuildbench: polyarch builder stop: %v\n%s", err, out)
		return
	}
	if err := os.RemoveAll(n.dir); err != nil {
		fmt.Fprintf(os.Stderr, "gobuildbench: removing %s: %v\n", n.dir, err)
	}
}

// command is exec.CommandContext with the kernel told to kill the child if
// gobuildbench dies.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = harness.ChildProcAttr()
	return cmd
}

// version asks a tool for its version and keeps the first line.
func version(ctx context.Context, args ...string) string {
	out, err := command(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}
