package imagetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/internal/testutil"
)

// jobNode plays a node for jobs: each process "runs" by reading the file
// build.txt of the mounted source (as the job's command would), printing it
// and exiting with the status it names; "hang" waits for its context.
type jobNode struct {
	mounts [][]buildkit.Mount
	procs  []buildkit.Process
}

func (n *jobNode) Exec(ctx context.Context, ref string, p v1.Platform, o buildkit.ExecOptions, fn func(run buildkit.RunFunc) error) error {
	n.mounts = append(n.mounts, o.Mounts)
	return fn(func(ctx context.Context, proc buildkit.Process) (int, error) {
		n.procs = append(n.procs, proc)
		b, err := os.ReadFile(filepath.Join(o.Mounts[0].Source, "build.txt"))
		if err != nil {
			return -1, err
		}
		s := strings.TrimSpace(string(b))
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(proc.Stdout, "compiling step %d\n", i)
		}
		io.WriteString(proc.Stderr, "build says "+s+"\n")
		if s == "hang" {
			<-ctx.Done()
			return -1, context.Cause(ctx)
		}
		var code int
		fmt.Sscanf(s, "exit %d", &code)
		return code, nil
	})
}

func jobSpec(t *testing.T, dir, yaml string) *Spec {
	t.Helper()
	file := filepath.Join(dir, "polyarch.yaml")
	os.WriteFile(file, []byte(yaml), 0o644)
	s, err := LoadSpec(file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJobs(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"ok": "exit 0", "fails": "exit 3", "hangs": "hang"} {
		os.MkdirAll(filepath.Join(dir, "src", name), 0o755)
		os.WriteFile(filepath.Join(dir, "src", name, "build.txt"), []byte(content), 0o644)
	}
	repos := t.TempDir()
	testutil.GitRepo(t, repos, "istio", map[string]map[string]string{
		"release-1.16": {"build.txt": "exit 0"},
		"release-1.14": {"build.txt": "exit 7"},
	})
	spec := jobSpec(t, dir, `arch: false
jobs:
  - name: make build
    dir: src/ok
    workdir: /work/istio
    env: {GOFLAGS: -mod=vendor}
    command: [make, build]
  - name: make test
    dir: src/fails
    shell: make test
  - dir: src/hangs
    command: [sleep, "3141"]
    timeout: 100ms
  - name: upstream istio
    git: `+repos+`/istio.git
    ref: release-1.16
    command: [make]
  - name: upstream istio 1.14
    git: file://`+repos+`/istio.git
    ref: release-1.14
    command: [make]
  - name: a branch that is not there
    git: `+repos+`/istio.git
    ref: release-9.9
    command: [make]
`)
	logs := t.TempDir()
	node := &jobNode{}
	target := &Target{Ref: "reg.example/builder@sha256:0123456789abcdef0123", Platform: v1.Platform{OS: "linux", Architecture: "s390x"},
		Config: &v1.ConfigFile{Config: v1.Config{Env: []string{"PATH=/usr/bin", "GOFLAGS=-trimpath"}, WorkingDir: "/"}}}
	rs, err := Run(context.Background(), target, spec, node, Options{LogDir: logs})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 6 {
		t.Fatalf("%d results: %+v", len(rs), rs)
	}
	for _, r := range rs {
		if r.Kind != KindJob || r.Platform != "linux/s390x" {
			t.Errorf("result %+v", r)
		}
	}

	ok := rs[0]
	if !ok.Passed || ok.Name != "make build" || ok.Message != "" {
		t.Errorf("a passing job: %+v", ok)
	}
	if m := node.mounts[0]; len(m) != 1 || m[0].Source != filepath.Join(dir, "src", "ok") || m[0].Dest != "/work/istio" || m[0].Readonly {
		t.Errorf("mounts %+v: want src/ok of the project at /work/istio, writable", m)
	}
	if p := node.procs[0]; p.Cwd != "/work/istio" || strings.Join(p.Args, " ") != "make build" || !contains(p.Env, "GOFLAGS=-mod=vendor") || !contains(p.Env, "PATH=/usr/bin") {
		t.Errorf("process %+v", p)
	}
	if want := filepath.Join(logs, "make-build_linux-s390x_0123456789ab.log"); ok.Log != want {
		t.Errorf("log %s, want %s", ok.Log, want)
	}
	if b, _ := os.ReadFile(ok.Log); !strings.Contains(string(b), "compiling step 30\n") || !strings.Contains(string(b), "build says exit 0") {
		t.Errorf("the log keeps the job's whole output:\n%s", b)
	}

	fails := rs[1]
	if fails.Passed || !strings.HasPrefix(fails.Message, "exit status 3\n--- last lines of "+fails.Log+":\n") ||
		!strings.Contains(fails.Message, "compiling step 30\nbuild says exit 3\n# exit status 3") || strings.Contains(fails.Message, "compiling step 10\n") {
		t.Errorf("a failing job shows the log's tail:\n%s", fails.Message)
	}
	if p := node.procs[1]; p.Cwd != DefaultJobWorkdir || strings.Join(p.Args, " ") != "/bin/sh -c exec 2>&1\nmake test" {
		t.Errorf("shell job process %+v", p)
	}

	if hangs := rs[2]; hangs.Passed || !strings.HasPrefix(hangs.Message, "timed out after 100ms: stopped\n") || hangs.Name != "sleep 3141" {
		t.Errorf("a job past its timeout: %+v", hangs)
	}
	if up := rs[3]; !up.Passed {
		t.Errorf("a git job at release-1.16: %+v", up)
	}
	if up := rs[4]; up.Passed || !strings.HasPrefix(up.Message, "exit status 7") {
		t.Errorf("a git job at release-1.14 over file://: %+v", up)
	}
	if missing := rs[5]; missing.Passed || !strings.Contains(missing.Message, "cloning "+repos+"/istio.git at release-9.9") {
		t.Errorf("a missing branch: %+v", missing)
	}
	// The clones are gone.
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "polyarch-job-*", "src", "build.txt")); len(left) > 0 {
		for _, l := range left {
			if b, _ := os.ReadFile(l); strings.Contains(string(b), "exit 7") {
				t.Errorf("clone left behind: %s", l)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestJobSpecErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"jobs:\n  - {dir: .}\n", "polyarch.yaml:2: jobs[0]: give command (an argv list) or shell"},
		{"jobs:\n  - {command: [make]}\n", "jobs[0]: give dir (a directory of the project) or git (with ref), one of them"},
		{"jobs:\n  - {git: https://h/istio.git, command: [make]}\n", "jobs[0]: git https://h/istio.git: give ref"},
		{"jobs:\n  - {git: https://h/i.git, ref: --upload-pack=x, command: [make]}\n", `jobs[0]: ref "--upload-pack=x" is not a branch or tag name`},
		{"jobs:\n  - {dir: ., ref: main, command: [make]}\n", "jobs[0]: ref goes with git, not dir"},
		{"jobs:\n  - {dir: ., workdir: src, command: [make]}\n", `jobs[0]: workdir "src": must be absolute`},
		{"jobs:\n  - {dir: ., timeout: soon, command: [make]}\n", `jobs[0]: timeout "soon": want a duration`},
		{"jobs:\n  - {dir: ., comand: [make]}\n", "line 2: field comand not found in jobs[] (it has name, dir, git, ref, workdir, env, user, command, shell, timeout)"},
	} {
		file := filepath.Join(t.TempDir(), "polyarch.yaml")
		os.WriteFile(file, []byte(tc.yaml), 0o644)
		_, err := LoadSpec(file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
