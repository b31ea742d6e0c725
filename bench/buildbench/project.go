package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// platforms are built in every turn; debian names the busybox rootfs.
var platforms = []struct {
	platform    string
	debian      string
	arch        string // {{.Arch}}: names the base image's per-arch repositories
	archVariant string // {{.ArchVariant}}: names the built images' repositories
}{
	{"linux/amd64", "amd64", "amd64", "amd64"},
	{"linux/arm64", "arm64", "arm64", "arm64"},
	{"linux/arm/v7", "armhf", "arm", "armv7"},
	{"linux/ppc64le", "ppc64el", "ppc64le", "ppc64le"},
	{"linux/s390x", "s390x", "s390x", "s390x"},
}

func platformNames() []string {
	var out []string
	for _, p := range platforms {
		out = append(out, p.platform)
	}
	return out
}

// importBase publishes the multi-arch busybox base image as
// REG/base/busybox:latest, as testutil.Busybox does, with the CLI: one
// `polyarch import` per platform, then `polyarch manifest push from-args`.
func importBase(ctx context.Context, c config, registry string) (string, error) {
	for _, p := range platforms {
		dir := filepath.Join(c.rootfs, p.debian)
		if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
			return "", fmt.Errorf("busybox rootfs %s missing: scripts/setup.sh prepares it", dir)
		}
		ref := fmt.Sprintf("%s/base/busybox-%s:1", registry, p.arch)
		if out, err := command(ctx, c.polyarch, "import", dir, "--platform", p.platform, "--cmd", "/bin/sh", ref).CombinedOutput(); err != nil {
			return "", fmt.Errorf("polyarch import %s: %w\n%s", dir, err, out)
		}
	}
	target := registry + "/base/busybox:latest"
	out, err := command(ctx, c.polyarch, "manifest", "push", "from-args", "--platforms", strings.Join(platformNames(), ","),
		"--template", registry+"/base/busybox-{{.Arch}}:1", "--target", target).Output()
	if err != nil {
		return "", fmt.Errorf("publishing %s: %w", target, err)
	}
	return target + "@" + strings.TrimSpace(string(out)), nil
}

// dockerfile is built by both tools. POLYARCH_REGISTRY is the build
// argument polyarch passes from polyarch.yaml's registry; buildctl is given
// it too. NONCE is new in every turn, so the RUN step always runs.
const dockerfile = `ARG POLYARCH_REGISTRY=localhost:5000
FROM ${POLYARCH_REGISTRY}/base/busybox:latest
ARG NONCE
RUN echo "$NONCE" > /nonce && dd if=/dev/urandom of=/payload bs=1024 count=%d 2>/dev/null && i=0 && while [ $i -lt %d ]; do i=$((i+1)); done && uname -m > /built-on
`

// project is the build context and polyarch.yaml.
type project struct {
	dir      string
	registry string
}

func newProject(dir, registry string, loop, payloadKiB int) (*project, error) {
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		return nil, err
	}
	df := fmt.Sprintf(dockerfile, payloadKiB, loop)
	if err := os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte(df), 0o644); err != nil {
		return nil, err
	}
	return &project{dir: dir, registry: registry}, nil
}

// writeConfig writes polyarch.yaml for one turn: the local node builds
// parallel platforms at once, the nonce is a build argument, and the
// version names the turn (the tag of every arch-named image).
func (p *project) writeConfig(parallel int, nonce, version string) (string, error) {
	yaml := fmt.Sprintf(`registry: %s
builders:
  - name: local
    parallel: %d
images:
  - name: app
    context: app
    platforms: [%s]
    archRef: "org/app-{{.ArchVariant}}:{{.Version}}"
    version: %q
    args: {NONCE: %q}
`, p.registry, parallel, strings.Join(platformNames(), ", "), version, nonce)
	path := filepath.Join(p.dir, "polyarch.yaml")
	return path, os.WriteFile(path, []byte(yaml), 0o644)
}

// variant is one way of building the five platforms.
type variant struct {
	tool     string // polyarch or buildctl
	parallel bool   // all five at once, else one after another
}

var variants = []variant{{"polyarch", false}, {"buildctl", false}, {"polyarch", true}, {"buildctl", true}}

func (v variant) name() string {
	if v.parallel {
		return v.tool + ", 5 at once"
	}
	return v.tool + ", one at a time"
}

func (v variant) id() string {
	if v.parallel {
		return v.tool + "-par"
	}
	return v.tool + "-seq"
}

// sample is one variant's turn in one round.
type sample struct {
	Variant string  `json:"variant"`
	Tool    string  `json:"tool"`
	Par     bool    `json:"parallel"`
	Round   int     `json:"round"`
	Seconds float64 `json:"seconds"`
	// BuilderCPU is buildkitd's user+system time over the turn, with its
	// reaped children's (runc, the emulated RUN steps): the build work.
	BuilderCPU float64 `json:"builder_cpu_seconds"`
	// ClientCPU is that of polyarch, or of the five buildctl processes.
	ClientCPU float64 `json:"client_cpu_seconds"`
}

// turn builds the five platforms with one variant, under a new nonce and
// tag, then checks that every RUN step ran and every image has its
// platform.
func (p *project) turn(ctx context.Context, c config, b *builder, registry string, v variant, round int) (sample, error) {
	smp := sample{Variant: v.name(), Tool: v.tool, Par: v.parallel, Round: round}
	tag := fmt.Sprintf("%s-%d", v.id(), round)
	nonce := fmt.Sprintf("%s-%d", tag, time.Now().UnixNano())
	logDir := filepath.Join(c.work, "logs", tag)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return smp, err
	}

	before := harness.ProcCPUWithChildren(b.pid)
	var wall, client time.Duration
	var err error
	if v.tool == "polyarch" {
		wall, client, err = p.polyarchBuild(ctx, c, b, v.parallel, nonce, tag, logDir)
	} else {
		wall, client, err = p.buildctlBuild(ctx, c, b, registry, v.parallel, nonce, tag, logDir)
	}
	if err != nil {
		return smp, err
	}
	smp.BuilderCPU = (harness.ProcCPUWithChildren(b.pid) - before).Seconds()
	smp.Seconds, smp.ClientCPU = wall.Seconds(), client.Seconds()

	if err := checkLogs(logDir, nonce); err != nil {
		return smp, err
	}
	return smp, checkImages(ctx, registry, tag)
}

// polyarchBuild runs `polyarch build` in the project, as a user would.
func (p *project) polyarchBuild(ctx context.Context, c config, b *builder, parallel bool, nonce, tag, logDir string) (time.Duration, time.Duration, error) {
	n := 1
	if parallel {
		n = len(platforms)
	}
	cfg, err := p.writeConfig(n, nonce, tag)
	if err != nil {
		return 0, 0, err
	}
	console, err := os.Create(filepath.Join(logDir, "console.txt"))
	if err != nil {
		return 0, 0, err
	}
	defer console.Close()
	cmd := command(ctx, c.polyarch, "build", "-f", cfg, "--builder-dir", b.dir, "--log-dir", logDir)
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, console, console
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("polyarch build: %w (see %s)\n%s", err, console.Name(), harness.LogTail(console.Name()))
	}
	return wall, cpuOf(cmd), nil
}

// buildctlBuild runs one `buildctl build` per platform, with what polyarch
// sends for the same job: the Dockerfile frontend with the platform and
// the build arguments, and the image exporter pushing to the arch-named
// reference with the org.opencontainers.image.version annotation.
func (p *project) buildctlBuild(ctx context.Context, c config, b *builder, registry string, parallel bool, nonce, tag, logDir string) (time.Duration, time.Duration, error) {
	app := filepath.Join(p.dir, "app")
	cmds := make([]*exec.Cmd, len(platforms))
	for i, pl := range platforms {
		ref := fmt.Sprintf("%s/org/app-%s:%s", registry, pl.archVariant, tag)
		cmds[i] = command(ctx, c.buildctl, "--addr", b.address(), "build", "--progress", "plain",
			"--frontend", "dockerfile.v0", "--local", "context="+app, "--local", "dockerfile="+app,
			"--opt", "platform="+pl.platform, "--opt", "filename=Dockerfile",
			"--opt", "build-arg:NONCE="+nonce, "--opt", "build-arg:POLYARCH_REGISTRY="+registry,
			"--output", "type=image,name="+ref+",push=true,annotation.org.opencontainers.image.version="+tag)
		f, err := os.Create(filepath.Join(logDir, strings.ReplaceAll(pl.platform, "/", "-")+".log"))
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		cmds[i].Stdout, cmds[i].Stderr = f, f
	}
	errs := make([]error, len(cmds))
	start := time.Now()
	if parallel {
		var wg sync.WaitGroup
		for i, cmd := range cmds {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = cmd.Run() }()
		}
		wg.Wait()
	} else {
		for i, cmd := range cmds {
			if errs[i] = cmd.Run(); errs[i] != nil {
				break
			}
		}
	}
	wall := time.Since(start)
	var client time.Duration
	for i, cmd := range cmds {
		if errs[i] != nil {
			log := cmd.Stdout.(*os.File).Name()
			return 0, 0, fmt.Errorf("buildctl build %s: %w (see %s)\n%s", platforms[i].platform, errs[i], log, harness.LogTail(log))
		}
		client += cpuOf(cmd)
	}
	return wall, client, nil
}

var fromStep = regexp.MustCompile(`(?m)^#\d+ \[[^\]]*\] FROM `)

// checkLogs reads each build's BuildKit log in dir: five builds, each with
// a FROM step and a RUN step that saw this turn's nonce and ran (was not
// CACHED).
func checkLogs(dir, nonce string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return err
	}
	if len(logs) != len(platforms) {
		return fmt.Errorf("%d build logs in %s, want %d", len(logs), dir, len(platforms))
	}
	runStep := regexp.MustCompile(`(?m)^#(\d+) \[[^\]]*\] RUN echo "` + regexp.QuoteMeta(nonce) + `"`)
	for _, l := range logs {
		raw, err := os.ReadFile(l)
		if err != nil {
			return err
		}
		if fromStep.Find(raw) == nil {
			return fmt.Errorf("%s: no FROM step in the log", l)
		}
		m := runStep.FindSubmatch(raw)
		if m == nil {
			return fmt.Errorf("%s: no RUN step with the nonce %s in the log", l, nonce)
		}
		if regexp.MustCompile(`(?m)^#` + string(m[1]) + ` CACHED`).Match(raw) {
			return fmt.Errorf("%s: the RUN step was CACHED", l)
		}
	}
	return nil
}

// checkImages reads each pushed image's config: it must name its platform.
func checkImages(ctx context.Context, registry, tag string) error {
	for _, pl := range platforms {
		ref, err := name.ParseReference(fmt.Sprintf("%s/org/app-%s:%s", registry, pl.archVariant, tag))
		if err != nil {
			return err
		}
		img, err := remote.Image(ref, remote.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("reading %s: %w", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return fmt.Errorf("reading the config of %s: %w", ref, err)
		}
		got := cf.OS + "/" + cf.Architecture
		if cf.Variant != "" {
			got += "/" + cf.Variant
		}
		if got != pl.platform {
			return fmt.Errorf("%s: config says %s, want %s", ref, got, pl.platform)
		}
	}
	return nil
}

// command is exec.CommandContext with the kernel told to kill the child if
// buildbench dies. buildkitd is not buildbench's child (polyarch starts it
// in its own session), so bench/build.sh's EXIT trap stops that one.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = harness.ChildProcAttr()
	return cmd
}

func cpuOf(cmd *exec.Cmd) time.Duration {
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}
