package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/testutil"
)

// The commands that draw a progress line on a terminal, run on one (a
// pseudo-terminal made by script(1)), must return whatever they write:
// something, nothing, or an error.

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ttyCommand runs bin args on a pseudo-terminal: stdout and stderr are both
// the terminal. script -e passes on the exit status.
func ttyCommand(t *testing.T, ctx context.Context, bin string, args ...string) *exec.Cmd {
	t.Helper()
	script := testutil.Tool(t, "script")
	line := "exec " + shellQuote(bin)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
	cmd.Stdin = nil
	// Its own process group, so that a timeout kills polyarch too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { killTTY(cmd.Process.Pid); return nil }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// runTTY runs polyarch args on a terminal and returns what the terminal
// showed and the exit status; it fails the test if polyarch has not
// returned within the timeout.
func runTTY(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := ttyCommand(t, ctx, polyarchBinary(t), args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("polyarch %s on a terminal did not return within %s; it showed:\n%s", strings.Join(args, " "), timeout, out)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n"), code
}

// pushMultiArch pushes a two-platform OCI index of small random images.
func pushMultiArch(t *testing.T, ref string) v1.Hash {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1),
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	if err := remote.WriteIndex(testutil.Ref(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d
}

func TestCommandsWithProgressReturnOnATerminal(t *testing.T) {
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	want := pushMultiArch(t, src.Host+"/org/app:1").String()
	for _, arch := range []string{"amd64", "arm64"} {
		testutil.Push(t, src.Host+"/org/agent-"+arch+":1", testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1))
	}
	publish := func(target string, extra ...string) []string {
		return append([]string{"manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64",
			"--template", dst.Host + "/org/agent-ARCH:1", "--target", target}, extra...)
	}
	// The children of the published index, copied across registries first.
	for _, arch := range []string{"amd64", "arm64"} {
		if out, code := runTTY(t, time.Minute, "copy", src.Host+"/org/agent-"+arch+":1", dst.Host+"/org/agent-"+arch+":1"); code != 0 {
			t.Fatalf("copy of the %s child: exit %d\n%s", arch, code, out)
		}
	}

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"copy", []string{"copy", src.Host + "/org/app:1", dst.Host + "/mirror/app:1"}, 0, []string{"copied " + src.Host + "/org/app:1", want}},
		{"unchanged copy", []string{"copy", src.Host + "/org/app:1", dst.Host + "/mirror/app:1"}, 0, []string{"unchanged", want}},
		{"copy of a missing source", []string{"copy", src.Host + "/org/nothing:1", dst.Host + "/mirror/nothing:1"}, 1, []string{"polyarch: fetching " + src.Host + "/org/nothing:1"}},
		{"copy of a missing platform", []string{"copy", src.Host + "/org/app:1", dst.Host + "/mirror/app:s390x", "--platform", "linux/s390x"}, 1, []string{"has no linux/s390x image"}},
		{"publish dry run", publish(dst.Host+"/org/agent:1", "--dry-run"), 0, []string{"would publish " + dst.Host + "/org/agent:1"}},
		{"publish", publish(dst.Host+"/org/agent:1", "--tags", "latest"), 0, []string{"published " + dst.Host + "/org/agent:1", "tag " + dst.Host + "/org/agent:latest"}},
		{"republish", publish(dst.Host+"/org/agent:1", "--tags", "latest"), 0, []string{"unchanged " + dst.Host + "/org/agent:1"}},
		{"publish of a new tag only", publish(dst.Host+"/org/agent:1", "--tags", "latest,stable"), 0, []string{"published " + dst.Host + "/org/agent:1", "tag " + dst.Host + "/org/agent:stable"}},
		{"publish with a child missing", []string{"manifest", "push", "from-args", "--platforms", "linux/amd64,linux/s390x",
			"--template", dst.Host + "/org/agent-ARCH:1", "--target", dst.Host + "/org/agent:2"}, 1, []string{"1 required image(s) missing", "linux/s390x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runTTY(t, time.Minute, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; the terminal showed:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the terminal does not show %q:\n%s", w, out)
				}
			}
		})
	}
}

// A copy that writes shows its progress line on a terminal and clears it.
func TestCopyShowsProgressOnATerminal(t *testing.T) {
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	pushMultiArch(t, src.Host+"/org/app:1")
	out, code := runTTY(t, time.Minute, "copy", src.Host+"/org/app:1", dst.Host+"/mirror/app:1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "copying: ") || !strings.Contains(out, " MiB / ") || !strings.Contains(out, "\r\033[K") {
		t.Errorf("no progress line drawn and cleared:\n%q", out)
	}
}

// killTTY kills script and what it runs, which is in a session of its own.
func killTTY(pid int) {
	for _, c := range children(pid) {
		syscall.Kill(c, syscall.SIGKILL)
	}
	syscall.Kill(-pid, syscall.SIGKILL)
}

// children returns the pids of pid's children.
func children(pid int) []int {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children"))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// Ctrl-C ends a command that waits on a registry that never answers: at
// once, with exit status 130 and a message that says so.
func TestInterruptEndsACommandOnATerminal(t *testing.T) {
	stop := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer stalled.Close()
	defer close(stop)
	host := strings.TrimPrefix(stalled.URL, "http://")
	src := testutil.NewRegistry(t)
	pushMultiArch(t, src.Host+"/org/app:1")

	for _, args := range [][]string{
		{"copy", src.Host + "/org/app:1", host + "/mirror/app:1"},
		{"manifest", "push", "from-args", "--platforms", "linux/amd64", "--template", host + "/org/agent-ARCH:1", "--target", host + "/org/agent:1"},
		{"inspect", host + "/org/app:1"},
	} {
		t.Run(args[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := ttyCommand(t, ctx, polyarchBinary(t), args...)
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var pid int
			for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if c := children(cmd.Process.Pid); len(c) > 0 {
					pid = c[0]
				}
			}
			if pid == 0 {
				t.Fatal("polyarch did not start under script")
			}
			time.Sleep(500 * time.Millisecond) // well into waiting on the registry
			syscall.Kill(pid, syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				killTTY(cmd.Process.Pid)
				<-done
				t.Fatalf("polyarch %s went on 5s after Ctrl-C; the terminal showed:\n%s", args[0], out)
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != 130 || !strings.Contains(out.String(), "polyarch: interrupted") {
				t.Errorf("after Ctrl-C: exit %d, want 130 and \"polyarch: interrupted\"; the terminal showed:\n%s", code, out)
			}
		})
	}
}
