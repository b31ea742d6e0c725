package imagetest

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/internal/testutil"
)

// fakeExecutor runs "processes" by looking their argv up in a table: what a
// BuildKit node would do with the image, without one.
type fakeExecutor struct {
	procs map[string]fakeProc // by strings.Join(argv, " ")
	err   error               // from Exec itself

	mu   sync.Mutex
	refs []string
	seen []buildkit.Process
}

type fakeProc struct {
	stdout, stderr string
	code           int
	err            error
}

func (f *fakeExecutor) Exec(ctx context.Context, ref string, p v1.Platform, o buildkit.ExecOptions, fn func(run buildkit.RunFunc) error) error {
	f.mu.Lock()
	f.refs = append(f.refs, ref)
	f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	return fn(func(ctx context.Context, proc buildkit.Process) (int, error) {
		f.mu.Lock()
		f.seen = append(f.seen, proc)
		f.mu.Unlock()
		fp, ok := f.procs[strings.Join(proc.Args, " ")]
		if !ok {
			return -1, fmt.Errorf("runc run: exec: %q: executable file not found in $PATH", proc.Args[0])
		}
		io.WriteString(proc.Stdout, fp.stdout)
		io.WriteString(proc.Stderr, fp.stderr)
		return fp.code, fp.err
	})
}

func (f *fakeExecutor) process(args ...string) (buildkit.Process, bool) {
	for _, p := range f.seen {
		if slices.Equal(p.Args, args) {
			return p, true
		}
	}
	return buildkit.Process{}, false
}

func elfFor(t testing.TB, machine elf.Machine) []byte {
	t.Helper()
	var buf bytes.Buffer
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	binary.Write(&buf, binary.LittleEndian, elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine),
		Version: uint32(elf.EV_CURRENT), Entry: 0x401000, Ehsize: 64, Phentsize: 56, Shentsize: 64})
	buf.Write(bytes.Repeat([]byte{0x90}, 200))
	if f, err := elf.NewFile(bytes.NewReader(buf.Bytes())); err != nil || f.Machine != machine {
		t.Fatalf("ELF fixture for %v: %v", machine, err)
	}
	return buf.Bytes()
}

// pushedTarget pushes an arm64 image holding binary at /agent and loads it
// back by digest, as Release does.
func pushedTarget(t *testing.T, binary []byte) *Target {
	t.Helper()
	reg := testutil.NewRegistry(t)
	img := imageOf(t, v1.Config{
		Entrypoint: []string{"/agent"},
		Env:        []string{"LOG=info", "HOME=/root"},
		WorkingDir: "/srv",
		User:       "1000",
	}, layer(t, entry{Name: "agent", Mode: 0o755, Body: string(binary)}, entry{Name: "etc/agent.conf", Body: "port: 8080\n"}))
	d := testutil.Push(t, reg.Host+"/org/agent:1.4-arm64", img)
	ref, err := name.NewDigest(reg.Host + "/org/agent@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	tg, err := TargetByDigest(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestRunAllKindsOfTest(t *testing.T) {
	tg := pushedTarget(t, elfFor(t, elf.EM_AARCH64))
	if tg.Platform.Architecture != "arm64" || tg.Platform.OS != "linux" || !strings.Contains(tg.Ref, "@sha256:") {
		t.Fatalf("target %s %+v", tg.Ref, tg.Platform)
	}
	ex := &fakeExecutor{procs: map[string]fakeProc{
		"uname -m":                 {stdout: "aarch64\n"},
		"/agent --version":         {stdout: "agent 1.4\n"},
		"/agent":                   {stdout: "usage\n", stderr: "no command\n", code: 2},
		"/bin/sh -c echo $LOG":     {stdout: "debug\n"},
		"/agent --crash":           {stderr: "panic: boom\n", code: 2},
		"/agent --exec-error-test": {err: errors.New("container died")},
	}}
	spec := &Spec{
		Commands: []CommandTest{
			{Name: "version", Command: []string{"/agent", "--version"}, Stdout: []string{`^agent 1\.4$`}},
			{Name: "no args runs the entrypoint", ExitCode: 2, Command: []string{"/agent"}, Stderr: []string{"no command"}},
			{Shell: "echo $LOG", Env: map[string]string{"LOG": "debug"}, Workdir: "/tmp", User: "0", Stdout: []string{"^debug$"}},
			{Name: "crash", Command: []string{"/agent", "--crash"}, StderrNot: []string{"panic"}},
			{Name: "exec error", Command: []string{"/agent", "--exec-error-test"}},
		},
		Files:    []FileTest{{Path: "/agent", Mode: "0755"}, {Path: "/etc/agent.conf", Content: []string{"^port: 9090$"}}},
		Metadata: &MetadataTest{Entrypoint: []string{"/agent"}, Workdir: strp("/srv")},
	}
	rs, err := Run(context.Background(), tg, spec, ex, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		kind, name string
		passed     bool
		message    string
	}
	wants := []want{
		{KindMetadata, "entrypoint", true, ""},
		{KindMetadata, "workdir", true, ""},
		{KindFile, "/agent", true, ""},
		{KindFile, "/etc/agent.conf", false, `content: expected a match for "^port: 9090$"`},
		{KindArch, "binaries match linux/arm64", true, ""},
		{KindArch, "uname -m is aarch64 or arm64", true, "uname -m: aarch64"},
		{KindCommand, "version", true, ""},
		{KindCommand, "no args runs the entrypoint", true, ""},
		{KindCommand, "echo $LOG", true, ""},
		{KindCommand, "crash", false, "exit code: expected 0, got 2\nstderr: expected no match for \"panic\", got \"panic\" in \"panic: boom\\n\"\nstderr: \"panic: boom\""},
		{KindCommand, "exec error", false, "container died"},
	}
	if len(rs) != len(wants) {
		for _, r := range rs {
			t.Logf("%s %s: %v %s", r.Kind, r.Name, r.Passed, r.Message)
		}
		t.Fatalf("%d results, want %d", len(rs), len(wants))
	}
	for i, w := range wants {
		r := rs[i]
		if r.Kind != w.kind || r.Name != w.name || r.Passed != w.passed || !strings.Contains(r.Message, w.message) {
			t.Errorf("result %d: %s %q passed=%v %q\nwant %s %q passed=%v %q", i, r.Kind, r.Name, r.Passed, r.Message, w.kind, w.name, w.passed, w.message)
		}
		if r.Platform != "linux/arm64" || r.Image != tg.Ref {
			t.Errorf("result %d is for %s %s, want linux/arm64 %s", i, r.Platform, r.Image, tg.Ref)
		}
	}
	if !slices.Equal(ex.refs, []string{tg.Ref}) {
		t.Errorf("Exec called for %v, want once for %s (by digest)", ex.refs, tg.Ref)
	}

	// What `docker run` would start.
	p, ok := ex.process("/agent", "--version")
	if !ok {
		t.Fatal("no /agent --version process")
	}
	if p.Cwd != "/srv" || p.User != "1000" || !slices.Contains(p.Env, "LOG=info") || !slices.ContainsFunc(p.Env, func(s string) bool { return strings.HasPrefix(s, "PATH=") }) {
		t.Errorf("process %+v: want the image's workdir, user and env plus a PATH", p)
	}
	p, _ = ex.process("/bin/sh", "-c", "echo $LOG")
	if p.Cwd != "/tmp" || p.User != "0" || !slices.Contains(p.Env, "LOG=debug") || slices.Contains(p.Env, "LOG=info") || !slices.Contains(p.Env, "HOME=/root") {
		t.Errorf("shell process %+v: want the test's workdir, user and LOG over the image's", p)
	}
}

func TestRunArchTest(t *testing.T) {
	type want struct{ test, state, message string } // message: a part of it
	binaries := "arch: binaries match linux/arm64"
	uname := "arch: uname -m is aarch64 or arm64"
	cases := []struct {
		name   string
		binary []byte
		uname  *fakeProc // nil: the image has no uname
		want   []want
	}{
		{"native binaries, aarch64", elfFor(t, elf.EM_AARCH64), &fakeProc{stdout: "aarch64\n"},
			[]want{{binaries, "pass", ""}, {uname, "pass", "uname -m: aarch64"}}},
		{"a foreign binary", elfFor(t, elf.EM_X86_64), &fakeProc{stdout: "aarch64\n"},
			[]want{{binaries, "FAIL", "agent: ELF 64-bit LSB x86-64, expected aarch64"}, {uname, "pass", ""}}},
		{"runs as another architecture", elfFor(t, elf.EM_AARCH64), &fakeProc{stdout: "x86_64\n"},
			[]want{{binaries, "pass", ""}, {uname, "FAIL", `expected uname -m to print aarch64 or arm64, got "x86_64": this image does not run as linux/arm64`}}},
		{"uname fails", elfFor(t, elf.EM_AARCH64), &fakeProc{stderr: "exec format error\n", code: 126},
			[]want{{binaries, "pass", ""}, {uname, "FAIL", "uname -m exited 126: exec format error"}}},
		{"no uname", elfFor(t, elf.EM_AARCH64), nil,
			[]want{{binaries, "pass", ""}, {uname, "skip", "the image has no uname"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := pushedTarget(t, tc.binary)
			ex := &fakeExecutor{procs: map[string]fakeProc{}}
			if tc.uname != nil {
				ex.procs["uname -m"] = *tc.uname
			}
			rs, err := Run(context.Background(), tg, nil, ex, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(tc.want) {
				t.Fatalf("%d results %+v, want %d", len(rs), rs, len(tc.want))
			}
			for i, r := range rs {
				state := "pass"
				switch {
				case r.Skipped:
					state = "skip"
				case !r.Passed:
					state = "FAIL"
				}
				w := tc.want[i]
				if r.Kind+": "+r.Name != w.test || state != w.state || !strings.Contains(r.Message, w.message) {
					t.Errorf("result %d: %s: %s %s %q\nwant %s %s with %q", i, r.Kind, r.Name, state, r.Message, w.test, w.state, w.message)
				}
			}
		})
	}
}

func TestRunArchOffAndNothingToRun(t *testing.T) {
	tg := pushedTarget(t, elfFor(t, elf.EM_X86_64)) // would fail the layer scan
	off := false
	ex := &fakeExecutor{err: errors.New("no node should be needed")}
	rs, err := Run(context.Background(), tg, &Spec{Arch: &off, Files: []FileTest{{Path: "/agent"}}}, ex, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Kind != KindFile || !rs[0].Passed {
		t.Errorf("results %+v, want the one file test", rs)
	}
	if len(ex.refs) != 0 {
		t.Errorf("started a container with nothing to run in it")
	}
}

func TestRunExecErrorIsAnError(t *testing.T) {
	tg := pushedTarget(t, elfFor(t, elf.EM_AARCH64))
	ex := &fakeExecutor{err: errors.New("connection refused")}
	_, err := Run(context.Background(), tg, &Spec{Commands: []CommandTest{{Shell: "true"}}}, ex, Options{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), tg.Ref) || !strings.Contains(err.Error(), "linux/arm64") {
		t.Errorf("error %v, want one naming the image, its platform and the cause", err)
	}
}
