package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// platforms are the three the project builds: amd64 natively, the arm ones
// under QEMU (on this machine; in CI each would have its own runner).
var platforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}

// debianArch and archVariant name each platform's busybox root filesystem
// and its tag in the registry.
var (
	debianArch  = map[string]string{"linux/amd64": "amd64", "linux/arm64": "arm64", "linux/arm/v7": "armhf"}
	archVariant = map[string]string{"linux/amd64": "amd64", "linux/arm64": "arm64", "linux/arm/v7": "armv7"}
)

// importBase publishes the busybox base image for the three platforms.
func importBase(ctx context.Context, c config, registry string) error {
	for _, p := range platforms {
		dir := filepath.Join(c.rootfs, debianArch[p])
		if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
			return fmt.Errorf("busybox rootfs %s missing: scripts/setup.sh prepares it", dir)
		}
		ref := fmt.Sprintf("%s/base/busybox:%s", registry, archVariant[p])
		if out, err := command(ctx, c.polyarch, "import", dir, "--platform", p, "--cmd", "/bin/sh", ref).CombinedOutput(); err != nil {
			return fmt.Errorf("polyarch import %s: %w\n%s", dir, err, out)
		}
	}
	out, err := command(ctx, c.polyarch, "manifest", "push", "from-args", "--platforms", strings.Join(platforms, ","),
		"--template", registry+"/base/busybox:{{.ArchVariant}}", "--target", registry+"/base/busybox:latest").CombinedOutput()
	if err != nil {
		return fmt.Errorf("publishing the base image: %w\n%s", err, out)
	}
	return nil
}

const dockerfile = `ARG POLYARCH_REGISTRY
FROM ${POLYARCH_REGISTRY}/base/busybox:latest
COPY version /version
RUN uname -m > /built-on
`

// project is the project's origin repository, one clone per runner and one
// for the single machine, each with its builder node.
type project struct {
	c        config
	registry string
	src      string
	commits  int
	runners  []*runner
	machine  *runner // the single machine: every platform
}

type runner struct {
	platform string // "" for every platform
	clone    string
	builder  string
}

func newProject(ctx context.Context, c config, registry string) (*project, error) {
	p := &project{c: c, registry: registry, src: filepath.Join(c.work, "origin")}
	if err := os.MkdirAll(filepath.Join(p.src, "app"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(p.src, "app", "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return nil, err
	}
	yaml := fmt.Sprintf(`registry: %s
images:
  - name: app
    repository: bench/app
    context: app
    platforms: [%s]
    archRef: "bench/app-{{.ArchVariant}}:{{.Version}}"
    version: "1.0"
    tags: ["{{.Version}}", latest]
`, registry, strings.Join(platforms, ", "))
	if err := os.WriteFile(filepath.Join(p.src, "polyarch.yaml"), []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	if err := p.git(ctx, p.src, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	if err := p.commit(ctx); err != nil {
		return nil, err
	}
	for i, plat := range append(append([]string{}, platforms...), "") {
		r := &runner{platform: plat, clone: filepath.Join(c.work, fmt.Sprintf("clone%d", i)), builder: filepath.Join(c.work, fmt.Sprintf("builder%d", i))}
		if err := p.git(ctx, "", "clone", "-q", p.src, r.clone); err != nil {
			return nil, err
		}
		if plat == "" {
			p.machine = r
		} else {
			p.runners = append(p.runners, r)
		}
	}
	return p, nil
}

// all is every clone made so far: the runners' and the single machine's.
func (p *project) all() []*runner {
	out := append([]*runner{}, p.runners...)
	if p.machine != nil {
		out = append(out, p.machine)
	}
	return out
}

func (p *project) startBuilders(ctx context.Context) error {
	for _, r := range p.all() {
		if out, err := command(ctx, p.c.polyarch, "builder", "start", "--builder-dir", r.builder, "--insecure-registry", p.registry).CombinedOutput(); err != nil {
			return fmt.Errorf("polyarch builder start --builder-dir %s: %w\n%s", r.builder, err, out)
		}
	}
	return nil
}

// stopBuilders ends every buildkitd and unmounts what it left (bench/fanout.sh's
// trap does the same if fanoutbench never gets here).
func (p *project) stopBuilders() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, r := range p.all() {
		if _, err := os.Stat(filepath.Join(r.builder, "buildkitd.pid")); err != nil {
			continue
		}
		if out, err := command(ctx, p.c.polyarch, "builder", "stop", "--builder-dir", r.builder).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "fanoutbench: polyarch builder stop --builder-dir %s: %v\n%s", r.builder, err, out)
		}
	}
}

func (p *project) git(ctx context.Context, dir string, args ...string) error {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := command(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@polyarch.invalid",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@polyarch.invalid",
		fmt.Sprintf("GIT_COMMITTER_DATE=@%d +0000", 1790000000+p.commits*60), fmt.Sprintf("GIT_AUTHOR_DATE=@%d +0000", 1790000000+p.commits*60))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// commit makes a new commit whose build context differs from every other,
// and brings every clone to it.
func (p *project) commit(ctx context.Context) error {
	p.commits++
	if err := os.WriteFile(filepath.Join(p.src, "app", "version"), []byte(fmt.Sprintf("commit %d, %d\n", p.commits, time.Now().UnixNano())), 0o644); err != nil {
		return err
	}
	if err := p.git(ctx, p.src, "add", "-A"); err != nil {
		return err
	}
	if err := p.git(ctx, p.src, "commit", "-q", "-m", fmt.Sprintf("commit %d", p.commits)); err != nil {
		return err
	}
	for _, r := range p.all() {
		if err := p.git(ctx, r.clone, "pull", "-q", "--ff-only"); err != nil {
			return err
		}
	}
	return nil
}

// release runs one runner's `polyarch release` and returns its wall time
// and the unit's status from its report.
func (p *project) release(ctx context.Context, r *runner) (time.Duration, string, error) {
	report := filepath.Join(r.clone, ".polyarch", "bench.json")
	args := []string{"release", "--builder-dir", r.builder, "--quiet-build", "--report", report}
	if r.platform != "" {
		args = append(args, "--platform", r.platform)
	}
	cmd := command(ctx, p.c.polyarch, args...)
	cmd.Dir = r.clone
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, "", fmt.Errorf("polyarch %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	var rep struct{ Units []struct{ Status string } }
	b, err := os.ReadFile(report)
	if err != nil {
		return d, "", err
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Units) != 1 {
		return d, "", fmt.Errorf("report %s: %v", report, err)
	}
	return d, rep.Units[0].Status, nil
}

// publish runs the merge job, counting its requests; it returns its
// outcome and the digest of each platform's image.
func (p *project) publish(ctx context.Context, px *proxy) (time.Duration, counts, string, error) {
	px.take()
	cmd := command(ctx, p.c.polyarch, "publish", "--json")
	cmd.Dir = p.runners[0].clone
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	n := px.take()
	if err != nil {
		return d, n, "", fmt.Errorf("polyarch publish: %w\n%s%s", err, out.String(), errOut.String())
	}
	var res []struct {
		Outcome string
		State   struct {
			Platforms []struct{ Ref, Digest string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res) != 1 {
		return d, n, "", fmt.Errorf("polyarch publish --json: %v\n%s", err, out.String())
	}
	for _, pl := range res[0].State.Platforms {
		repo, _, _ := strings.Cut(strings.TrimPrefix(pl.Ref, p.registry), ":")
		n.platformKeys = append(n.platformKeys, "/v2"+repo+"/", pl.Digest)
	}
	return d, n, res[0].Outcome, nil
}

// fanOut is one turn of the fan-out: a new commit, three runners at once,
// the merge job; then the publish step alone, writing and unchanged.
func (p *project) fanOut(ctx context.Context, px *proxy, round int) (sample, error) {
	s := sample{Variant: "fan-out"}
	if err := p.commit(ctx); err != nil {
		return s, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(p.runners))
	statuses := make([]string, len(p.runners))
	s.Runners = make([]float64, len(p.runners))
	for i, r := range p.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d time.Duration
			d, statuses[i], errs[i] = p.release(ctx, r)
			s.Runners[i] = d.Seconds()
		}()
	}
	wg.Wait()
	if err := errorsJoin(errs); err != nil {
		return s, err
	}
	published := 0
	for _, st := range statuses {
		if st == "published" {
			published++
		}
	}
	if published != 1 {
		return s, fmt.Errorf("runners' statuses %v: want exactly one published", statuses)
	}
	_, _, outcome, err := p.publish(ctx, px)
	if err != nil {
		return s, err
	}
	if outcome != "unchanged" {
		return s, fmt.Errorf("merge job after the runners: %s, want unchanged", outcome)
	}
	s.Seconds = time.Since(start).Seconds()
	s.Statuses = statuses

	// The publish step alone, as a merge job that writes the index: every
	// platform is ready; the index's tags are deleted behind polyarch's back.
	for _, tag := range []string{"1.0", "latest"} {
		if err := deleteTag(ctx, p.registryDirect(px), "bench/app", tag); err != nil {
			return s, err
		}
	}
	d, n, outcome, err := p.publish(ctx, px)
	if err != nil {
		return s, err
	}
	if outcome != "published" {
		return s, fmt.Errorf("merge job with the tags deleted: %s, want published", outcome)
	}
	s.PublishSeconds, s.PublishRequests = d.Seconds(), n.Requests
	s.PublishByMethod = n.ByMethod
	s.PublishPerIndex, s.PublishPerPlatform = n.split(len(platforms))
	if p.c.trace {
		fmt.Printf("the merge job's %d requests:\n  %s\n", n.Requests, strings.Join(n.Trace, "\n  "))
	}
	d, n, outcome, err = p.publish(ctx, px)
	if err != nil {
		return s, err
	}
	if outcome != "unchanged" {
		return s, fmt.Errorf("merge job again: %s, want unchanged", outcome)
	}
	s.NoopSeconds, s.NoopRequests = d.Seconds(), n.Requests
	return s, nil
}

// single is one turn of the single machine: a new commit, one release of
// every platform on one builder node.
func (p *project) single(ctx context.Context, round int) (sample, error) {
	s := sample{Variant: "single"}
	if err := p.commit(ctx); err != nil {
		return s, err
	}
	d, status, err := p.release(ctx, p.machine)
	if err != nil {
		return s, err
	}
	if status != "published" {
		return s, fmt.Errorf("single release: %s, want published", status)
	}
	s.Seconds, s.Statuses = d.Seconds(), []string{status}
	return s, nil
}

func (p *project) registryDirect(px *proxy) string { return px.target }

// deleteTag deletes a tag with the registry API (distribution deletes the
// tag, not the manifest).
func deleteTag(ctx context.Context, registry, repo, tag string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+registry+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("DELETE %s:%s: %s", repo, tag, resp.Status)
	}
	return nil
}

func errorsJoin(errs []error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = harness.ChildProcAttr()
	return cmd
}

func version(ctx context.Context, polyarch string) string {
	out, err := command(ctx, polyarch, "version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
