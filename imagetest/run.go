package imagetest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/imagetest/result"
	"github.com/polyarch/polyarch/internal/parallel"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/verify"
)

// Executor runs processes in containers of an image: a BuildKit node.
type Executor interface {
	// Exec pulls image ref for platform p and calls fn with a RunFunc that
	// runs each process in a container of its own, with o's mounts.
	Exec(ctx context.Context, ref string, p v1.Platform, o buildkit.ExecOptions, fn func(run buildkit.RunFunc) error) error
}

// Kinds of test.
const (
	KindArch     = result.KindArch
	KindCommand  = result.KindCommand
	KindFile     = result.KindFile
	KindMetadata = result.KindMetadata
	KindJob      = result.KindJob
)

// Result is the outcome of one test on one platform. It lives in package
// result, so that reports and records need not import the runner.
type Result = result.Result

// Options tune Run.
type Options struct {
	// Remote reaches the registry, for files, metadata and the layer scan.
	Remote []remote.Option
	// Log receives BuildKit's progress (pulling the image).
	Log io.Writer
	// Ignore are globs of paths the layer scan skips.
	Ignore []string
	// SBOMLayers, when set, gets what SBOMs need of each layer the arch
	// test's scan reads, in the same pass (verify.WithSBOMLayers): a
	// release that signs afterwards reads no layer again.
	SBOMLayers *evidence.LayerCache
	// LogDir keeps each job's output, a file per job and platform; default
	// polyarch-jobs in the temporary directory.
	LogDir string
}

// maxCapture bounds how much of a command's output or a file's content is
// kept for matching.
const maxCapture = 1 << 20

// Run runs every test of spec on t, plus the automatic architecture test.
// Test failures are results; an error means the tests could not run.
func Run(ctx context.Context, t *Target, spec *Spec, ex Executor, o Options) ([]Result, error) {
	if spec == nil {
		spec = &Spec{}
	}
	plat := platform.Format(t.Platform)
	var out []Result
	add := func(r Result) {
		r.Platform, r.Image = plat, t.Ref
		out = append(out, r)
	}

	if spec.Metadata != nil {
		for _, r := range metadataTests(t.Config, spec.Metadata) {
			add(r)
		}
	}
	if len(spec.Files) > 0 {
		rs, err := fileTests(t.Image, spec.Files)
		if err != nil {
			return nil, fmt.Errorf("%s: reading files: %w", t.Ref, err)
		}
		for _, r := range rs {
			add(r)
		}
	}
	if spec.ArchEnabled() {
		start := time.Now()
		rep, err := verify.Verify(ctx, mustDigest(t.Ref), verify.WithRemote(o.Remote...), verify.WithIgnore(o.Ignore...), verify.WithSBOMLayers(o.SBOMLayers))
		if err != nil {
			return nil, err
		}
		r := Result{Kind: KindArch, Name: "binaries match " + plat, Passed: true, Duration: time.Since(start)}
		if fs := rep.Findings(); len(fs) > 0 {
			var msgs []string
			for _, f := range fs {
				msgs = append(msgs, f.String())
			}
			r.Passed, r.Message = false, strings.Join(msgs, "\n")
		}
		add(r)
	}
	if spec.ArchEnabled() || len(spec.Commands) > 0 {
		err := ex.Exec(ctx, t.Ref, t.Platform, buildkit.ExecOptions{Log: o.Log}, func(run buildkit.RunFunc) error {
			if spec.ArchEnabled() {
				add(unameTest(ctx, run, t))
			}
			for _, c := range spec.Commands {
				r, err := commandTest(ctx, run, t, c)
				if err != nil {
					return err
				}
				add(r)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", t.Ref, plat, err)
		}
	}
	for _, j := range spec.Jobs {
		r, err := jobTest(ctx, ex, t, j, o)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): job %s: %w", t.Ref, plat, j.label(), err)
		}
		add(r)
	}
	return out, nil
}

func mustDigest(ref string) name.Reference {
	r, err := name.ParseReference(ref)
	if err != nil {
		panic(err) // Target.Ref is always repository@digest
	}
	return r
}

// UnameMachines lists what `uname -m` may print in an image of each
// platform. Emulated 32-bit arm reports the CPU QEMU models (armv7l), so
// older variants accept newer machines.
func UnameMachines(p v1.Platform) []string {
	p = platform.Normalize(p)
	switch p.Architecture {
	case "amd64":
		return []string{"x86_64"}
	case "386":
		return []string{"i386", "i486", "i586", "i686"}
	case "arm64":
		return []string{"aarch64", "arm64"}
	case "arm":
		switch p.Variant {
		case "v5":
			return []string{"armv5l", "armv5tel", "armv5tejl", "armv6l", "armv7l", "armv8l"}
		case "v6":
			return []string{"armv6l", "armv7l", "armv8l"}
		default:
			return []string{"armv7l", "armv8l"}
		}
	case "mips64le", "mips64":
		return []string{"mips64"}
	case "loong64":
		return []string{"loongarch64"}
	}
	return []string{p.Architecture}
}

func unameTest(ctx context.Context, run buildkit.RunFunc, t *Target) Result {
	want := UnameMachines(t.Platform)
	r := Result{Kind: KindArch, Name: "uname -m is " + strings.Join(want, " or ")}
	start := time.Now()
	var stdout, stderr bytes.Buffer
	code, err := run(ctx, buildkit.Process{Args: []string{"uname", "-m"}, Env: mergeEnv(t.Config.Config.Env, nil), Stdout: &stdout, Stderr: &stderr})
	r.Duration = time.Since(start)
	got := strings.TrimSpace(stdout.String())
	switch {
	case err != nil && strings.Contains(err.Error(), "executable file not found"):
		r.Skipped, r.Message = true, "the image has no uname; the layer scan still checks its binaries"
	case err != nil:
		r.Message = err.Error()
	case code != 0:
		r.Message = fmt.Sprintf("uname -m exited %d: %s", code, strings.TrimSpace(stderr.String()))
	case !slices.Contains(want, got):
		r.Message = fmt.Sprintf("expected uname -m to print %s, got %q: this image does not run as %s", strings.Join(want, " or "), got, platform.Format(t.Platform))
	default:
		r.Passed = true
		r.Message = "uname -m: " + got
	}
	return r
}

// capped keeps the first maxCapture bytes written to it.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxCapture - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}

func commandTest(ctx context.Context, run buildkit.RunFunc, t *Target, c CommandTest) (Result, error) {
	r := Result{Kind: KindCommand, Name: c.label()}
	proc := t.Process(nil, envMap(c.Env), c.Workdir, c.User)
	proc.Args = c.argv()
	var stdout, stderr capped
	proc.Stdout, proc.Stderr = &stdout, &stderr
	start := time.Now()
	code, err := run(ctx, proc)
	r.Duration = time.Since(start)
	if err != nil {
		r.Message = err.Error()
		return r, nil
	}
	var problems []string
	if code != c.ExitCode {
		problems = append(problems, fmt.Sprintf("exit code: expected %d, got %d", c.ExitCode, code))
	}
	problems = append(problems, matchAll("stdout", stdout.String(), c.Stdout, c.StdoutNot)...)
	problems = append(problems, matchAll("stderr", stderr.String(), c.Stderr, c.StderrNot)...)
	if len(problems) > 0 {
		r.Message = strings.Join(problems, "\n")
		if s := strings.TrimSpace(stderr.String()); s != "" && code != c.ExitCode {
			r.Message += "\nstderr: " + quoteShort(s)
		}
		return r, nil
	}
	r.Passed = true
	return r, nil
}

// matchAll checks regular expressions that must and must not match text.
// They are multi-line: ^ and $ match at the start and end of each line.
func matchAll(what, text string, must, mustNot []string) []string {
	var problems []string
	// The newline that ends the last line does not start an empty line.
	lines := strings.TrimSuffix(text, "\n")
	for _, m := range must {
		if !lineRegexp(m).MatchString(lines) {
			problems = append(problems, fmt.Sprintf("%s: expected a match for %q, got %s", what, m, quoteShort(text)))
		}
	}
	for _, m := range mustNot {
		if re := lineRegexp(m); re.MatchString(lines) {
			problems = append(problems, fmt.Sprintf("%s: expected no match for %q, got %q in %s", what, m, re.FindString(lines), quoteShort(text)))
		}
	}
	return problems
}

func quoteShort(s string) string {
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return strconv.Quote(s)
}

// fileTests reads the image's flattened filesystem once, streaming, and
// checks each file test.
func fileTests(img v1.Image, tests []FileTest) ([]Result, error) {
	type seen struct {
		hdr     *tar.Header
		content []byte
	}
	wanted := map[string]bool{}
	needContent := map[string]bool{}
	for _, f := range tests {
		p := path.Clean(f.Path)
		wanted[p] = true
		if len(f.Content) > 0 || len(f.ContentNot) > 0 {
			needContent[p] = true
		}
	}
	start := time.Now()
	found := map[string]*seen{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		p := path.Clean("/" + strings.TrimPrefix(h.Name, "./"))
		if !wanted[p] {
			continue
		}
		s := &seen{hdr: h}
		if needContent[p] && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(io.LimitReader(tr, maxCapture))
			if err != nil {
				return nil, err
			}
			s.content = b
		}
		found[p] = s
	}
	elapsed := time.Since(start)

	var out []Result
	for _, f := range tests {
		p := path.Clean(f.Path)
		r := Result{Kind: KindFile, Name: f.Path, Duration: elapsed / time.Duration(len(tests))}
		s := found[p]
		exists := f.Exists == nil || *f.Exists
		var problems []string
		switch {
		case !exists && s != nil:
			problems = append(problems, fmt.Sprintf("expected %s to be absent, but it is there", f.Path))
		case !exists:
		case s == nil:
			problems = append(problems, fmt.Sprintf("expected %s to exist, but the image has no such file", f.Path))
		default:
			if f.Mode != "" {
				want, _ := strconv.ParseUint(f.Mode, 8, 32)
				if got := uint64(s.hdr.Mode) & 0o7777; got != want {
					problems = append(problems, fmt.Sprintf("mode: expected %04o, got %04o", want, got))
				}
			}
			if f.Owner != "" {
				uid, gid, _ := parseOwner(f.Owner)
				if s.hdr.Uid != uid || s.hdr.Gid != gid {
					problems = append(problems, fmt.Sprintf("owner: expected %d:%d, got %d:%d", uid, gid, s.hdr.Uid, s.hdr.Gid))
				}
			}
			if len(f.Content) > 0 || len(f.ContentNot) > 0 {
				if s.hdr.Typeflag != tar.TypeReg {
					problems = append(problems, fmt.Sprintf("content: %s is not a regular file", f.Path))
				} else {
					problems = append(problems, matchAll("content", string(s.content), f.Content, f.ContentNot)...)
				}
			}
		}
		r.Passed = len(problems) == 0
		r.Message = strings.Join(problems, "\n")
		out = append(out, r)
	}
	return out, nil
}

func metadataTests(cf *v1.ConfigFile, m *MetadataTest) []Result {
	c := cf.Config
	var out []Result
	check := func(name string, ok bool, format string, args ...any) {
		r := Result{Kind: KindMetadata, Name: name, Passed: ok}
		if !ok {
			r.Message = fmt.Sprintf(format, args...)
		}
		out = append(out, r)
	}
	if m.Entrypoint != nil {
		check("entrypoint", slices.Equal(m.Entrypoint, c.Entrypoint), "expected %q, got %q", m.Entrypoint, c.Entrypoint)
	}
	if m.Cmd != nil {
		check("cmd", slices.Equal(m.Cmd, c.Cmd), "expected %q, got %q", m.Cmd, c.Cmd)
	}
	if m.Workdir != nil {
		check("workdir", *m.Workdir == c.WorkingDir, "expected %q, got %q", *m.Workdir, c.WorkingDir)
	}
	if m.User != nil {
		check("user", *m.User == c.User, "expected %q, got %q", *m.User, c.User)
	}
	env := map[string]string{}
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range sortedKeys(m.Env) {
		got, ok := env[k]
		check("env "+k, ok && got == m.Env[k], "expected %s=%q, got %s", k, m.Env[k], present(ok, got))
	}
	for _, k := range sortedKeys(m.Labels) {
		got, ok := c.Labels[k]
		check("label "+k, ok && got == m.Labels[k], "expected %s=%q, got %s", k, m.Labels[k], present(ok, got))
	}
	for _, p := range m.ExposedPorts {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		_, ok := c.ExposedPorts[p]
		var have []string
		for k := range c.ExposedPorts {
			have = append(have, k)
		}
		slices.Sort(have)
		check("exposes "+p, ok, "expected port %s to be exposed, the image exposes %v", p, have)
	}
	return out
}

func present(ok bool, v string) string {
	if !ok {
		return "nothing (not set)"
	}
	return strconv.Quote(v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Job is one image to test: the target and its spec.
type Job struct {
	Target *Target
	Spec   *Spec
}

// testers bounds how many images are tested at once.
const testers = 4

// JobResult is the outcome of one Job.
type JobResult struct {
	Results []Result
	// Err says why the tests could not run.
	Err      error
	Duration time.Duration
}

// RunJobs tests every job, a few at once, each with the tester testerFor
// gives its platform. start and done, when set, are called around each job
// from its own goroutine. Outcomes come in job order.
func RunJobs(ctx context.Context, jobs []Job, testerFor func(context.Context, v1.Platform) (Tester, error), o Options,
	start func(i int), done func(i int, r JobResult)) []JobResult {
	out := make([]JobResult, len(jobs))
	ran := make([]bool, len(jobs))
	err := parallel.ForEach(ctx, len(jobs), testers, func(ctx context.Context, i int) error {
		ran[i] = true
		j := jobs[i]
		if start != nil {
			start(i)
		}
		began := time.Now()
		tester, err := testerFor(ctx, j.Target.Platform)
		if err == nil {
			out[i].Results, err = tester.Test(ctx, j.Target, j.Spec, o)
		}
		out[i].Err, out[i].Duration = err, time.Since(began)
		if done != nil {
			done(i, out[i])
		}
		return nil
	})
	for i := range out {
		if !ran[i] {
			out[i].Err = err // cancelled before it started
		}
	}
	return out
}

// RunAll tests every job (see RunJobs), each on the executor nodeFor gives
// its platform, and returns all results, or the first error that kept a
// job's tests from running.
func RunAll(ctx context.Context, jobs []Job, nodeFor func(context.Context, v1.Platform) (Executor, error), o Options) ([]Result, error) {
	testerFor := func(ctx context.Context, p v1.Platform) (Tester, error) {
		ex, err := nodeFor(ctx, p)
		if err != nil {
			return nil, err
		}
		return OnNode(ex), nil
	}
	var out []Result
	for _, r := range RunJobs(ctx, jobs, testerFor, o, nil, nil) {
		if r.Err != nil {
			return nil, r.Err
		}
		out = append(out, r.Results...)
	}
	return out, nil
}

// lineRegexp compiles a spec's regular expression in multi-line mode
// (validated when the spec was read).
func lineRegexp(expr string) *regexp.Regexp { return regexp.MustCompile("(?m)" + expr) }
