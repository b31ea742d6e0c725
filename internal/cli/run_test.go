package cli_test

import (
	"path/filepath"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
)

// Mistakes in run's command line are usage errors found before any
// registry or builder is reached.
func TestRunCommandLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	writeFile(t, file, "x")
	ref := "127.0.0.1:1/nothing:here"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a mount without DST", []string{"run", "--platform", "linux/arm64", "--mount", dir, ref}, "--mount " + dir + ": want SRC:DST[:ro]"},
		{"a relative DST", []string{"run", "--platform", "linux/arm64", "--mount", dir + ":src", ref}, "DST an absolute path in the container"},
		{"a file to mount", []string{"run", "--platform", "linux/arm64", "--mount", file + ":/src", ref}, file + " is not a directory"},
		{"an unknown mount option", []string{"run", "--platform", "linux/arm64", "--mount", dir + ":/src:rw", ref}, "the option after DST can only be ro"},
		{"-t without a terminal", []string{"run", "--platform", "linux/arm64", "-it", "--mount", dir + ":/src:ro", ref, "--", "sh"}, "-t needs a terminal on standard input"},
		{"no platform", []string{"run", "-i", ref}, "--platform is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, cli.ExitUsage, tc.want)
		})
	}
}
