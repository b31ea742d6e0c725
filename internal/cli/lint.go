package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/lint"
	"github.com/polyarch/polyarch/pipeline"
)

func newLintCmd(g *globals) *cobra.Command {
	var (
		f      projectFlags
		strict bool
	)
	cmd := &cobra.Command{
		Use:   "lint [IMAGE[@VERSION]...]",
		Short: "Warn about Dockerfile stages that compile under QEMU emulation",
		Long: `Check the Dockerfiles of polyarch.yaml against the platforms each would build
under emulation (no builder node builds them natively). A stage that compiles
(go build, gcc, make, cargo, javac, npm ci ...) under QEMU is commonly 3-10x
slower than natively: start it FROM --platform=$BUILDPLATFORM and cross-compile
for $TARGETOS/$TARGETARCH instead. 'polyarch build' and 'polyarch release'
print the same warnings. Exit status 1 on a warning with --strict.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			plan, err := f.plan(cfg, args, false)
			if err != nil {
				return err
			}
			fs, err := pipeline.Lint(plan, pipeline.NodesFor(cfg, f.localOptions(cfg)))
			if err != nil {
				return err
			}
			printLint(g.stdout, fs)
			if len(fs) == 0 {
				fmt.Fprintln(g.stdout, "no stage compiles under emulation")
			}
			if strict && len(fs) > 0 {
				return fmt.Errorf("%d lint warning(s)", len(fs))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 when there is a warning")
	return cmd
}

func printLint(w io.Writer, fs []lint.Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "warning: %s\n", f)
	}
}
