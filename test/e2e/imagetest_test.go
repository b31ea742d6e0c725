package e2e

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/polyarch/polyarch/importer"
	"github.com/polyarch/polyarch/internal/testutil"
)

const busyboxSpec = `
commands:
  - name: shell works
    shell: echo hello from $(uname -m)
    stdout: ['^hello from ']
    stderrNot: ['.']
  - name: exit status
    command: [sh, -c, "exit 3"]
    exitCode: 3
files:
  - path: /bin/busybox
    mode: "0755"
    owner: "0:0"
  - path: /etc/passwd
    content: ['^root:x:0:0:']
  - path: /usr/bin/docker
    exists: false
metadata:
  cmd: [/bin/sh]
`

func TestImageTestsPassOnEveryBusyboxPlatform(t *testing.T) {
	dir := localBuilder(t)
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	spec := filepath.Join(t.TempDir(), "tests.yaml")
	writeFile(t, spec, busyboxSpec)
	junitFile := filepath.Join(t.TempDir(), "results.xml")

	out, code := runCode(t, polyarchBinary(t), "test", base, "--spec", spec, "--builder-dir", dir, "--junit", junitFile)
	if code != 0 {
		t.Fatalf("polyarch test: exit %d\n%s", code, out)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x"} {
		if !regexpLine(out, regexpQuote(p)+`\s+arch: uname -m is .*\s+pass`) || !regexpLine(out, regexpQuote(p)+`\s+arch: binaries match .*\s+pass`) {
			t.Errorf("%s: the automatic arch test did not pass:\n%s", p, out)
		}
	}
	if !strings.Contains(out, "40 passed, 0 failed, 0 skipped") {
		t.Errorf("summary:\n%s", out)
	}

	// go-junit-report's JUnit model reads what we wrote.
	b, err := os.ReadFile(junitFile)
	if err != nil {
		t.Fatal(err)
	}
	var suites junit.Testsuites
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, b)
	}
	if suites.Tests != 40 || suites.Failures != 0 || len(suites.Suites) != 5 {
		t.Errorf("JUnit: %d tests, %d failures, %d suites; want 40, 0, 5", suites.Tests, suites.Failures, len(suites.Suites))
	}
	for _, s := range suites.Suites {
		if s.Tests != 8 || len(s.Testcases) != 8 {
			t.Errorf("suite %s: %d tests, %d cases", s.Name, s.Tests, len(s.Testcases))
		}
	}
}

// brokenImage imports a busybox rootfs of one architecture, plus extra
// files from other rootfs, labelled as platform p.
func brokenImage(t *testing.T, ref, debianArch string, p v1.Platform, extra map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("cp", "-a", testutil.BusyboxRootfs(t, debianArch), root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	for dst, src := range extra {
		os.MkdirAll(filepath.Dir(filepath.Join(root, dst)), 0o755)
		if out, err := exec.Command("cp", src, filepath.Join(root, dst)).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
	}
	d, err := importer.Import(context.Background(), root, p, testutil.Ref(t, ref), importer.Options{Cmd: []string{"/bin/sh"}})
	if err != nil {
		t.Fatal(err)
	}
	return ref[:strings.LastIndex(ref, ":")] + "@" + d.String()
}

func TestImageTestsCatchBrokenImages(t *testing.T) {
	dir := localBuilder(t)
	srv := startServe(t)
	bin := polyarchBinary(t)
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}

	t.Run("arm64 image carrying an amd64 binary", func(t *testing.T) {
		amd64Busybox := filepath.Join(testutil.BusyboxRootfs(t, "amd64"), "bin", "busybox")
		ref := brokenImage(t, srv.host+"/org/agent-arm64:bad", "arm64", arm64, map[string]string{"usr/local/bin/agent": amd64Busybox})
		out, code := runCode(t, bin, "test", ref, "--builder-dir", dir)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		for _, want := range []string{"usr/local/bin/agent: ELF 64-bit LSB x86-64, expected aarch64", "layer sha256:"} {
			if !strings.Contains(out, want) {
				t.Errorf("the report does not name %q:\n%s", want, out)
			}
		}
		if !regexpLine(out, `linux/arm64\s+arch: uname -m .*\s+pass`) {
			t.Errorf("uname -m of the arm64 busybox should still pass:\n%s", out)
		}
	})

	t.Run("config claiming the wrong architecture", func(t *testing.T) {
		ref := brokenImage(t, srv.host+"/org/liar:arm64", "amd64", arm64, nil)
		out, code := runCode(t, bin, "test", ref, "--builder-dir", dir)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		if !strings.Contains(out, `expected uname -m to print aarch64 or arm64, got "x86_64"`) {
			t.Errorf("uname test does not say expected and got:\n%s", out)
		}
		if !strings.Contains(out, "bin/busybox") || !strings.Contains(out, "x86-64") {
			t.Errorf("the layer scan does not name the amd64 busybox:\n%s", out)
		}
	})

	t.Run("command output and a missing file", func(t *testing.T) {
		base := testutil.Busybox(t, srv.host)
		spec := filepath.Join(t.TempDir(), "tests.yaml")
		writeFile(t, spec, "commands:\n  - name: version\n    shell: echo agent 1.3\n    stdout: ['^agent 1\\.4']\nfiles:\n  - path: /usr/local/bin/agent\n")
		out, code := runCode(t, bin, "test", base, "--spec", spec, "--platform", "linux/s390x", "--builder-dir", dir)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		for _, want := range []string{
			`stdout: expected a match for "^agent 1\\.4", got "agent 1.3\n"`,
			"expected /usr/local/bin/agent to exist, but the image has no such file",
			"linux/s390x",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestRunPrintsEachArchitecture(t *testing.T) {
	dir := localBuilder(t)
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	bin := polyarchBinary(t)
	for p, want := range map[string]string{"linux/arm64": "aarch64", "linux/arm/v7": "armv7l", "linux/ppc64le": "ppc64le", "linux/s390x": "s390x", "linux/amd64": "x86_64"} {
		cmd := exec.Command(bin, "run", "--platform", p, "--builder-dir", dir, base, "--", "uname", "-m")
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("polyarch run --platform %s: %v", p, err)
			continue
		}
		if strings.TrimSpace(string(out)) != want {
			t.Errorf("polyarch run --platform %s uname -m printed %q, want %q", p, out, want)
		}
	}
	out, code := runCode(t, bin, "run", "--platform", "linux/s390x", "--builder-dir", dir, base, "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 42")
	if code != 42 || !strings.Contains(out, "to-stdout") || !strings.Contains(out, "to-stderr") {
		t.Errorf("exit status %d (want 42), output %q", code, out)
	}
	out, code = runCode(t, bin, "run", "--platform", "linux/riscv64", "--builder-dir", dir, base, "--", "true")
	if code != 1 || !strings.Contains(out, "linux/riscv64") {
		t.Errorf("a platform the index lacks: exit %d\n%s", code, out)
	}
}
