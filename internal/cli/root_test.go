package cli_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
)

func TestVersion(t *testing.T) {
	stdout, stderr, code := polyarch(t, "version")
	if code != cli.ExitOK || !strings.HasPrefix(stdout, "polyarch "+cli.Version+" ") || !strings.HasSuffix(stdout, runtime.GOOS+"/"+runtime.GOARCH+"\n") || stderr != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	args := []string{"version", "extra"}
	stdout, stderr, code = polyarch(t, args...)
	checkFailure(t, args, stdout, stderr, code, cli.ExitUsage, `polyarch version takes no arguments, got ["extra"]`)
}

// Exit status 0 for success and help, 1 when the operation failed, 2 when
// the command line is wrong; errors are one "polyarch: " line, and a usage
// error says where the help is.
func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string // on stderr
		hint string // the help hint, for usage errors
	}{
		{"unknown command", []string{"nosuchcommand"}, cli.ExitUsage, `unknown command "nosuchcommand" for polyarch`, "Run 'polyarch --help' for usage."},
		{"unknown flag", []string{"verify", "--bogus", "x"}, cli.ExitUsage, "unknown flag: --bogus", "Run 'polyarch verify --help' for usage."},
		{"unknown flag of a subcommand's subcommand", []string{"registry", "gc", "--bogus"}, cli.ExitUsage, "unknown flag: --bogus", "Run 'polyarch registry gc --help' for usage."},
		{"flag without its value", []string{"import", "dir", "ref", "--platform"}, cli.ExitUsage, "flag needs an argument: --platform", "Run 'polyarch import --help' for usage."},
		{"wrong arguments", []string{"verify"}, cli.ExitUsage, "polyarch verify takes 1 argument(s)", "Run 'polyarch verify --help' for usage."},
		{"failed operation", []string{"verify", "127.0.0.1:1/org/agent:v1"}, cli.ExitFailed, "127.0.0.1:1/org/agent:v1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if code != tc.code || !strings.HasPrefix(lines[0], "polyarch: ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("polyarch %q: exit %d, stderr:\n%s\nwant exit %d and one line naming %q", tc.args, code, stderr, tc.code, tc.want)
			}
			if tc.hint != "" && (len(lines) != 2 || lines[1] != tc.hint) {
				t.Errorf("polyarch %q: stderr:\n%s\nwant the hint %q after the error", tc.args, stderr, tc.hint)
			}
			if tc.hint == "" && len(lines) != 1 {
				t.Errorf("polyarch %q: stderr:\n%s\nwant one line", tc.args, stderr)
			}
			if stdout != "" {
				t.Errorf("polyarch %q printed on stdout:\n%s", tc.args, stdout)
			}
		})
	}

	for _, args := range [][]string{nil, {"--help"}, {"test", "--help"}, {"help", "verify"}} {
		stdout, stderr, code := polyarch(t, args...)
		if code != cli.ExitOK || !strings.Contains(stdout, "Usage:") || stderr != "" {
			t.Errorf("polyarch %q: exit %d, stdout:\n%s\nstderr:\n%s\nwant the help and exit 0", args, code, stdout, stderr)
		}
	}
}

// --debug adds the detail of an error: each error it wraps, with its type.
func TestDebugShowsTheCause(t *testing.T) {
	_, stderr, code := polyarch(t, "verify", "--debug", "127.0.0.1:1/org/agent:v1")
	if code != cli.ExitFailed || !strings.Contains(stderr, "\ndetail: ") || !strings.Contains(stderr, "caused by (") {
		t.Errorf("verify --debug: exit %d, stderr:\n%s\nwant the error's detail and causes", code, stderr)
	}
	_, stderr, _ = polyarch(t, "verify", "127.0.0.1:1/org/agent:v1")
	if strings.Contains(stderr, "detail:") {
		t.Errorf("without --debug, stderr shows the detail:\n%s", stderr)
	}
}
