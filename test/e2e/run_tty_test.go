package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/polyarch/polyarch/internal/testutil"
)

// polyarch run -it under a pseudo-terminal, as a person types at it: a
// shell in the arm64 image (under QEMU), the terminal's size followed,
// Ctrl-C delivered to the command in the container, the shell's exit
// status polyarch's.
func TestRunInteractiveShell(t *testing.T) {
	builder := localBuilder(t)
	srv := startServe(t)
	testutil.Busybox(t, srv.host)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "hello.txt"), "mounted from the host\n")

	cmd := exec.Command(polyarchBinary(t), "run", "--builder-dir", builder, "--platform", "linux/arm64", "-it",
		"--mount", src+":/src", "--env", "GREETING=greetings-from-polyarch", srv.host+"/base/busybox:latest", "--", "sh")
	term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	out := &syncBuffer{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := term.Read(b)
			out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	// expect waits for s to appear in what the terminal showed after mark.
	mark := 0
	expect := func(s string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !strings.Contains(out.String()[mark:], s) {
			if time.Now().After(deadline) {
				t.Fatalf("the terminal did not show %q within %s; it showed:\n%s", s, within, out.String())
			}
			select {
			case err := <-exited:
				t.Fatalf("polyarch run ended (%v) before showing %q:\n%s", err, s, out.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
		mark = strings.Index(out.String()[mark:], s) + mark + len(s)
	}
	typeLine := func(s string) {
		t.Helper()
		if _, err := term.Write([]byte(s + "\r")); err != nil {
			t.Fatal(err)
		}
	}

	typeLine("uname -m; echo $GREETING; cat /src/hello.txt; stty size")
	expect("aarch64", 3*time.Minute)
	expect("greetings-from-polyarch", 10*time.Second)
	expect("mounted from the host", 10*time.Second)
	expect("30 100", 10*time.Second)

	if err := pty.Setsize(term, &pty.Winsize{Rows: 41, Cols: 123}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // SIGWINCH reaches polyarch, the size the container
	typeLine("stty size")
	expect("41 123", 30*time.Second)

	// Ctrl-C ends the command in the container, not polyarch: the shell
	// goes on and says its child died of SIGINT (128+2).
	typeLine("sleep 300")
	time.Sleep(2 * time.Second)
	if _, err := term.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	typeLine("echo status=$?")
	expect("status=130", 30*time.Second)

	typeLine("exit 7")
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Errorf("polyarch run exited %v, want status 7 (the shell's)\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("polyarch run did not end after exit 7:\n%s", out.String())
	}
}
