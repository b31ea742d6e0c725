package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
)

// exitCodeError makes polyarch exit with a command's own status, silently.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRunCmd(g *globals) *cobra.Command {
	var (
		rf      remoteFlags
		nf      nodeFlags
		plat    string
		env     []string
		workdir string
		user    string
	)
	cmd := &cobra.Command{
		Use:   "run --platform P REF [-- CMD ARGS...]",
		Short: "Run a command in the image of one platform, natively or under QEMU, and stream its output",
		Long: `Run a command in the image REF resolves to for --platform (what 'podman run
--arch' does), on the builder node that serves that platform: natively, or
under QEMU emulation on the local node. The command's output is streamed and
its exit status is polyarch's. Without a command, the image's own entrypoint
and cmd run.`,
		Example: `  polyarch run --platform linux/s390x 127.0.0.1:5000/base/busybox -- uname -m
  polyarch run --platform linux/arm/v7 reg/org/agent:v1.4 -- /agent --version`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("run needs an image reference")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if plat == "" {
				return usagef("--platform is required")
			}
			p, err := platform.Parse(plat)
			if err != nil {
				return usagef("--platform: %v", err)
			}
			ref, err := rf.parseRef("REF", args[0])
			if err != nil {
				return err
			}
			opts := rf.client().Remote(cmd.Context())
			target, err := imagetest.ResolveImage(cmd.Context(), ref, p, opts...)
			if err != nil {
				return err
			}
			node, err := nf.nodeFor(cmd.Context(), p)
			if err != nil {
				return err
			}
			proc := target.Process(args[1:], env, workdir, user)
			proc.Stdout, proc.Stderr = g.stdout, g.stderr
			var code int
			log := discardUnlessDebug(g)
			err = node.Exec(cmd.Context(), target.Ref, target.Platform, buildkit.ExecOptions{Log: log}, func(run buildkit.RunFunc) error {
				var err error
				code, err = run(cmd.Context(), proc)
				return err
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCodeError{code}
			}
			return nil
		},
	}
	rf.register(cmd)
	nf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&plat, "platform", "", "platform whose image to run, e.g. linux/arm64")
	f.StringArrayVarP(&env, "env", "e", nil, "KEY=VALUE added to the image's environment (repeatable)")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory (default the image's)")
	f.StringVarP(&user, "user", "u", "", "user (default the image's)")
	return cmd
}
