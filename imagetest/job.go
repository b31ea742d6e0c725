package imagetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/platform"
)

// JobTest runs a project's own build or tests in the image, as CI would
// with a builder image: a directory of the project, or a git repository at
// a branch or tag, mounted at Workdir, and a command run there with Env.
// It passes when the command exits 0 within Timeout. Its whole output is
// kept in a log; a failure shows the log's last lines.
//
//	jobs:
//	  - name: build upstream istio
//	    git: https://github.com/istio/istio.git   # or dir: ../istio (of the project)
//	    ref: release-1.16
//	    workdir: /work/istio
//	    env: {GOFLAGS: -mod=vendor}
//	    shell: make build && make test          # or command: [make, build]
//	    timeout: 30m
type JobTest struct {
	Name string `yaml:"name"`
	// Dir is a directory of the project, relative to the spec's file.
	Dir string `yaml:"dir"`
	// Git, with Ref, is a repository cloned (shallow) at a branch or tag:
	// a URL, or a path relative to the spec's file.
	Git string `yaml:"git"`
	Ref string `yaml:"ref"`
	// Workdir is where the source is mounted and the command runs; default
	// /src. The command's writes there are discarded with the container.
	Workdir string            `yaml:"workdir"`
	Env     map[string]string `yaml:"env"`
	User    string            `yaml:"user"`
	// Command is the argv; Shell, instead, is run with /bin/sh -c, its
	// stderr joined to its stdout so that the log keeps their order.
	Command []string `yaml:"command"`
	Shell   string   `yaml:"shell"`
	// Timeout stops the job: a duration such as 90s or 30m; default 30m.
	Timeout string `yaml:"timeout"`

	line int
	base string // the spec file's directory
}

// DefaultJobTimeout is how long a job without a timeout may run.
const DefaultJobTimeout = 30 * time.Minute

// DefaultJobWorkdir is where a job's source is mounted without a workdir.
const DefaultJobWorkdir = "/src"

// logTail is how many lines of a failed job's log its result shows.
const logTail = 20

var gitRefName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/+-]*$`)

func (j JobTest) check() []string {
	var out []string
	if (len(j.Command) == 0) == (j.Shell == "") {
		out = append(out, "give command (an argv list) or shell (a /bin/sh -c string), one of them")
	}
	switch {
	case (j.Dir == "") == (j.Git == ""):
		out = append(out, "give dir (a directory of the project) or git (with ref), one of them")
	case j.Git != "" && j.Ref == "":
		out = append(out, fmt.Sprintf("git %s: give ref, the branch or tag to check out", j.Git))
	case j.Git != "" && (!gitRefName.MatchString(j.Ref) || strings.Contains(j.Ref, "..")):
		out = append(out, fmt.Sprintf("ref %q is not a branch or tag name", j.Ref))
	case strings.HasPrefix(j.Git, "-"):
		out = append(out, fmt.Sprintf("git %q: a repository cannot start with '-'", j.Git))
	case j.Dir == "" && j.Ref != "" && j.Git == "":
		out = append(out, "ref goes with git")
	}
	if j.Dir != "" && j.Ref != "" {
		out = append(out, "ref goes with git, not dir")
	}
	if j.Workdir != "" && !strings.HasPrefix(j.Workdir, "/") {
		out = append(out, fmt.Sprintf("workdir %q: must be absolute", j.Workdir))
	}
	if j.Workdir == "/" {
		out = append(out, "workdir cannot be /: the source is mounted there")
	}
	if j.Timeout != "" {
		if d, err := time.ParseDuration(j.Timeout); err != nil || d <= 0 {
			out = append(out, fmt.Sprintf("timeout %q: want a duration such as 90s or 30m", j.Timeout))
		}
	}
	return out
}

func (j JobTest) label() string {
	if j.Name != "" {
		return j.Name
	}
	if j.Shell != "" {
		return j.Shell
	}
	return strings.Join(j.Command, " ")
}

// argv is the job's command. A shell job's stderr goes to its stdout:
// BuildKit brings a process's two streams separately, so lines written to
// each would reach the log out of order (an error far from the output it
// follows).
func (j JobTest) argv() []string {
	if j.Shell != "" {
		return []string{"/bin/sh", "-c", "exec 2>&1\n" + j.Shell}
	}
	return j.Command
}

func (j JobTest) workdir() string {
	if j.Workdir == "" {
		return DefaultJobWorkdir
	}
	return path.Clean(j.Workdir)
}

func (j JobTest) timeout() time.Duration {
	if d, err := time.ParseDuration(j.Timeout); err == nil && d > 0 {
		return d
	}
	return DefaultJobTimeout
}

// local resolves a path of the spec against the spec file's directory.
func (j JobTest) local(p string) string {
	if filepath.IsAbs(p) || j.base == "" {
		return p
	}
	return filepath.Join(j.base, p)
}

// source is the directory to mount: Dir, or a shallow clone of Git at Ref
// that done removes.
func (j JobTest) source(ctx context.Context) (dir string, done func(), err error) {
	if j.Dir != "" {
		d := j.local(j.Dir)
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return "", nil, fmt.Errorf("dir %s is not a directory", d)
		}
		return d, func() {}, nil
	}
	repo := j.Git
	if !strings.Contains(repo, "://") && !strings.Contains(repo, "@") {
		repo = j.local(repo)
	}
	tmp, err := os.MkdirTemp("", "polyarch-job-")
	if err != nil {
		return "", nil, err
	}
	done = func() { os.RemoveAll(tmp) }
	cmd := exec.CommandContext(ctx, "git", "clone", "--quiet", "--depth=1", "--no-tags", "--branch", j.Ref, "--", repo, filepath.Join(tmp, "src"))
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		done()
		return "", nil, fmt.Errorf("cloning %s at %s: %s", j.Git, j.Ref, strings.TrimSpace(string(out)))
	}
	return filepath.Join(tmp, "src"), done, nil
}

// jobTest runs one job on t. A job that cannot start (its source missing)
// or fails is a failed result; an error means the node could not run it.
func jobTest(ctx context.Context, ex Executor, t *Target, j JobTest, o Options) (Result, error) {
	r := Result{Kind: KindJob, Name: j.label()}
	start := time.Now()
	src, done, err := j.source(ctx)
	if err != nil {
		r.Message, r.Duration = err.Error(), time.Since(start)
		return r, nil
	}
	defer done()
	log, err := openJobLog(o.LogDir, t, j)
	if err != nil {
		return r, err
	}
	defer log.Close()
	r.Log = log.Name()
	out := &lockedWriter{w: log}
	what := fmt.Sprintf("%q", j.Command)
	if j.Shell != "" {
		what = fmt.Sprintf("sh -c %q", j.Shell)
	}
	fmt.Fprintf(out, "# polyarch job %q on %s (%s): %s in %s\n", j.label(), platform.Format(t.Platform), t.Ref, what, j.workdir())

	proc := t.Process(nil, envMap(j.Env), j.workdir(), j.User)
	proc.Args, proc.Stdout, proc.Stderr = j.argv(), out, out
	var code int
	var runErr error
	limit := j.timeout()
	err = ex.Exec(ctx, t.Ref, t.Platform, buildkit.ExecOptions{Log: o.Log, Mounts: []buildkit.Mount{{Source: src, Dest: j.workdir()}}}, func(run buildkit.RunFunc) error {
		jctx, cancel := context.WithTimeoutCause(ctx, limit, errJobTimeout)
		defer cancel()
		code, runErr = run(jctx, proc)
		return nil
	})
	r.Duration = time.Since(start)
	if err != nil {
		return r, err
	}
	switch {
	case errors.Is(runErr, errJobTimeout):
		r.Message = fmt.Sprintf("timed out after %s: stopped", limit)
	case runErr != nil && ctx.Err() != nil:
		return r, runErr
	case runErr != nil:
		r.Message = runErr.Error()
	case code != 0:
		r.Message = fmt.Sprintf("exit status %d", code)
	default:
		r.Passed = true
		return r, nil
	}
	fmt.Fprintf(out, "# %s\n", r.Message)
	if tail := strings.TrimSpace(build.Tail(log.Name(), logTail)); tail != "" {
		r.Message += fmt.Sprintf("\n--- last lines of %s:\n%s", log.Name(), tail)
	}
	return r, nil
}

var errJobTimeout = errors.New("the job's timeout")

var unsafeLogName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// openJobLog creates the log of job j on t in dir:
// <job>_<platform>_<digest, 12 hex>.log.
func openJobLog(dir string, t *Target, j JobTest) (*os.File, error) {
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "polyarch-jobs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("job log: %w", err)
	}
	digest := t.Ref
	if i := strings.LastIndex(digest, ":"); i >= 0 {
		digest = digest[i+1:]
	}
	if len(digest) > 12 {
		digest = digest[:12]
	}
	name := fmt.Sprintf("%s_%s_%s.log", unsafeLogName.ReplaceAllString(j.label(), "-"), platform.Format(t.Platform), digest)
	name = strings.ReplaceAll(name, "/", "-")
	return os.Create(filepath.Join(dir, name))
}

// lockedWriter serialises a process's stdout and stderr into one log.
type lockedWriter struct {
	mu sync.Mutex
	w  *os.File
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
