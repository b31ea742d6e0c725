// Package cli is polyarch's command line: flags, then one call into the library.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/registry"
)

// Exit codes.
const (
	ExitOK     = 0 // success
	ExitFailed = 1 // the operation failed
	ExitUsage  = 2 // the command line was wrong
)

// usageError marks an error in the command line itself (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

type globals struct {
	debug  bool
	stdout io.Writer
	stderr io.Writer
}

// Run runs polyarch with args and returns its exit code. Errors are printed
// on stderr as one line naming what failed; --debug adds the detail.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return exitCode(g, root.ExecuteContext(ctx), func() string { return commandPath(root, args) })
}

// exitCode prints err, if any, and maps it to polyarch's exit status: 0,
// a command's own status (run), 2 for a usage error, else 1. command names
// the subcommand for the help hint.
func exitCode(g *globals, err error, command func() string) int {
	if err == nil {
		return ExitOK
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	fmt.Fprintf(g.stderr, "polyarch: %s\n", oneLine(err.Error()))
	if g.debug {
		fmt.Fprintf(g.stderr, "detail: %+v\n", err)
		for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
			fmt.Fprintf(g.stderr, "  caused by (%T): %s\n", e, e)
		}
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(g.stderr, "Run '%s --help' for usage.\n", command())
		return ExitUsage
	}
	return ExitFailed
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// commandPath names the command args select ("polyarch verify"), for the
// help hint; "polyarch" when they select none.
func commandPath(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return root.Name()
	}
	return cmd.CommandPath()
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "polyarch",
		Short: "Build, test and publish multi-architecture container images",
		Long: `polyarch builds, tests and publishes multi-architecture container images.

One name, such as org/agent:v1.4, is an OCI image index that gives each CPU its
own image. polyarch builds each platform on BuildKit (natively or under QEMU),
pushes the per-architecture images under your naming scheme, tests each on its
architecture, publishes the index only when every required platform passed,
and inspects, resolves, verifies and copies any multi-arch image.

It embeds an OCI registry ('polyarch registry serve'), so the whole pipeline
runs on one machine with nothing else installed.

Exit status: 0 success, 1 the operation failed, 2 usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			registry.ConfigureLogging(g.stderr, g.debug)
		},
	}
	root.PersistentFlags().BoolVar(&g.debug, "debug", false, "print error details and debug logs")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(g), newRegistryCmd(g), newManifestCmd(g), newInspectCmd(g), newResolveCmd(g), newCopyCmd(g), newImportCmd(g), newBuildCmd(g), newBuilderCmd(g), newVerifyCmd(g), newRunCmd(g), newTestCmd(g), newReleaseCmd(g), newPublishCmd(g), newLintCmd(g), newDriftCmd(g), newVersionsCmd(g), newCICmd(g), newSignCmd(g))
	// Unknown subcommands and bad arguments are usage errors too.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for polyarch", args[0])
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	return root
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s) (%s), got %d", cmd.CommandPath(), n, names, len(args))
		}
		return nil
	}
}

// noArgs is cobra.NoArgs reporting a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
