package cli_test

import (
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

func TestResolve(t *testing.T) {
	reg := testutil.NewRegistry(t)
	twoArch(t, reg.Host+"/org/app", "1")
	ref := reg.Host + "/org/app:1"

	stdout, _, code := runCLI(t, "resolve", ref, "--platform", "linux/aarch64")
	if code != cli.ExitOK || !strings.Contains(stdout, "-> linux/arm64") || !strings.Contains(stdout, "exact match") {
		t.Errorf("resolve linux/aarch64: exit %d\n%s", code, stdout)
	}

	// A platform the index lacks: said once, naming the platform and what
	// the index has, and exit 1.
	stdout, stderr, code := runCLI(t, "resolve", ref, "--platform", "linux/s390x")
	want := "linux/s390x      gets nothing: the index has no image a linux/s390x host can run; it has linux/amd64, linux/arm64\n"
	if code != cli.ExitFailed || stdout != want {
		t.Errorf("resolve linux/s390x: exit %d, stdout\n%q\nwant\n%q", code, stdout, want)
	}
	if strings.Contains(stdout+stderr, "nothing: nothing") {
		t.Errorf("the message stutters:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stderr, "a linux/s390x host gets nothing it can run") {
		t.Errorf("stderr: %s", stderr)
	}

	// --all answers every common platform and succeeds.
	stdout, _, code = runCLI(t, "resolve", ref, "--all")
	if code != cli.ExitOK || !strings.Contains(stdout, "linux/riscv64    gets nothing: the index has no image a linux/riscv64 host can run; it has linux/amd64, linux/arm64") {
		t.Errorf("resolve --all: exit %d\n%s", code, stdout)
	}

	for _, args := range [][]string{{"resolve", ref}, {"resolve", ref, "--all", "--platform", "linux/amd64"}, {"resolve", ref, "--platform", "linux/arm65"}} {
		if _, stderr, code := runCLI(t, args...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, cli.ExitUsage, stderr)
		}
	}
	if _, _, code := runCLI(t, "resolve", reg.Host+"/org/none:1", "--all"); code != cli.ExitFailed {
		t.Errorf("resolve of a missing name: exit %d, want 1", code)
	}
}
