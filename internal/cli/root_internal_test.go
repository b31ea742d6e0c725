package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"success", nil, ExitOK, ""},
		{"a failure", errors.New("pushing reg/a:1: denied"), ExitFailed, "polyarch: pushing reg/a:1: denied\n"},
		{"a failure over several lines", errors.New("two\nlines"), ExitFailed, "polyarch: two lines\n"},
		{"a usage error", usagef("--jobs %d: must be at least 1", 0), ExitUsage, "polyarch: --jobs 0: must be at least 1\nRun 'polyarch verify --help' for usage.\n"},
		{"a wrapped usage error", fmt.Errorf("test: %w", usagef("bad")), ExitUsage, "polyarch: test: bad\nRun 'polyarch verify --help' for usage.\n"},
		{"a command's own status", exitCodeError{42}, 42, ""},
		{"a wrapped command's own status", fmt.Errorf("run: %w", exitCodeError{3}), 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			g := &globals{stdout: io.Discard, stderr: &stderr}
			if code := exitCode(g, tc.err, func() string { return "polyarch verify" }); code != tc.code || stderr.String() != tc.stderr {
				t.Errorf("exitCode(%v) = %d, stderr %q; want %d, %q", tc.err, code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}

// commands lists every command of the tree.
func commands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, commands(sub)...)
	}
	return out
}

// One flag, one meaning: -f is --file and names polyarch.yaml in every
// command that has it, and a flag's name and shorthand go together the same
// way everywhere.
func TestFlagVocabulary(t *testing.T) {
	root := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
	shorthandOf := map[string]string{} // flag name -> shorthand, and "-x" -> name
	where := map[string]string{}
	files := 0
	for _, cmd := range commands(root) {
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			path := cmd.CommandPath()
			if f.Shorthand == "f" || f.Name == "file" {
				files++
				// The help line names polyarch.yaml, in the text or as the default.
				help := f.Usage + " (default " + f.DefValue + ")"
				if f.Name != "file" || f.Shorthand != "f" || !strings.Contains(help, "polyarch.yaml") {
					t.Errorf("%s: -%s/--%s (%q): -f/--file is polyarch.yaml in every command", path, f.Shorthand, f.Name, f.Usage)
				}
			}
			if f.Name == "config" && strings.Contains(f.Usage, "polyarch.yaml") {
				t.Errorf("%s: --config (%q) names polyarch.yaml, which is -f/--file's", path, f.Usage)
			}
			if s, seen := shorthandOf[f.Name]; seen && s != f.Shorthand {
				t.Errorf("--%s has shorthand %q in %s, %q in %s", f.Name, f.Shorthand, path, s, where[f.Name])
			}
			shorthandOf[f.Name], where[f.Name] = f.Shorthand, path
			if f.Shorthand == "" {
				return
			}
			key := "-" + f.Shorthand
			if n, seen := shorthandOf[key]; seen && n != f.Name {
				t.Errorf("-%s is --%s in %s, --%s in %s", f.Shorthand, f.Name, path, n, where[key])
			}
			shorthandOf[key], where[key] = f.Name, path
		})
	}
	// Not vacuous: build, lint, release, run and test read polyarch.yaml.
	if files < 5 {
		t.Errorf("only %d commands have -f/--file", files)
	}
}
