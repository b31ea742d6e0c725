package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
)

// lintProject writes a project whose one image builds linux/amd64 natively
// (on a declared node, never dialled) and linux/s390x under emulation, from
// dockerfile.
func lintProject(t *testing.T, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	writeFile(t, filepath.Join(dir, "Dockerfile"), dockerfile)
	writeFile(t, filepath.Join(dir, "polyarch.yaml"), `registry: 127.0.0.1:5000
builders:
  - name: box
    address: tcp://127.0.0.1:1
    platforms: [linux/amd64]
images:
  - name: agent
    context: .
    platforms: [linux/amd64, linux/s390x]
`)
	return filepath.Join(dir, "polyarch.yaml")
}

func TestLint(t *testing.T) {
	compiles := lintProject(t, "FROM golang:1.24\nRUN go build -o /agent .\n")
	cross := lintProject(t, "FROM --platform=$BUILDPLATFORM golang:1.24 AS build\nRUN go build -o /agent .\nFROM scratch\nCOPY --from=build /agent /agent\n")
	missing := filepath.Join(t.TempDir(), "polyarch.yaml")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // each must be printed
		stderr string   // the error line, if any
	}{
		{"a stage compiling under emulation", []string{"lint", "-f", compiles}, cli.ExitOK,
			[]string{"warning: " + filepath.Join(filepath.Dir(compiles), "Dockerfile") + ":2:", "linux/s390x"}, ""},
		{"--strict fails on it", []string{"lint", "--file", compiles, "--strict"}, cli.ExitFailed, []string{"warning: "}, "polyarch: 1 lint warning(s)\n"},
		{"a cross-compiling stage", []string{"lint", "-f", cross, "--strict"}, cli.ExitOK, []string{"no stage compiles under emulation"}, ""},
		{"only the native platform", []string{"lint", "-f", compiles, "--platform", "linux/amd64", "--strict"}, cli.ExitOK, []string{"no stage compiles under emulation"}, ""},
		{"an image selector", []string{"lint", "-f", compiles, "agent", "--strict"}, cli.ExitFailed, []string{"warning: "}, "polyarch: 1 lint warning(s)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			if code != tc.code || stderr != tc.stderr {
				t.Errorf("polyarch %q: exit %d, stderr %q; want exit %d, stderr %q\nstdout:\n%s", tc.args, code, stderr, tc.code, tc.stderr, stdout)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("polyarch %q: stdout does not say %q:\n%s", tc.args, s, stdout)
				}
			}
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"-f names a missing file", []string{"lint", "-f", missing}, cli.ExitFailed, missing},
		{"an unknown image", []string{"lint", "-f", compiles, "nope"}, cli.ExitFailed, `no image "nope"`},
		{"bad --platform", []string{"lint", "-f", compiles, "--platform", "linux/arm65"}, cli.ExitUsage, "--platform"},
		{"unknown flag", []string{"lint", "--stric"}, cli.ExitUsage, "unknown flag: --stric"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, tc.code, tc.want)
		})
	}
}
