package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/index"
)

func newCopyCmd(g *globals) *cobra.Command {
	var (
		rf     remoteFlags
		plat   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy a multi-arch image, all or some platforms, between repositories and registries",
		Long: `Copy an image or multi-arch image from SRC to DST. With every platform the
digest is kept; with --platform the listed platforms become a new index (a new
digest). Blobs move concurrently (--jobs) and streamed, are skipped when DST
has them, and are mounted instead of copied within one registry.`,
		Example: `  polyarch copy reg-a/org/agent:v1.4 reg-b/org/agent:v1.4
  polyarch copy reg/org/agent:v1.4 reg/org/agent-arm:v1.4 --platform linux/arm64,linux/arm/v7`,
		Args: exactArgs(2, "SRC DST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := rf.parseRef("SRC", args[0])
			if err != nil {
				return err
			}
			dst, err := rf.parseRef("DST", args[1])
			if err != nil {
				return err
			}
			ps, err := parsePlatforms("platform", plat)
			if err != nil {
				return err
			}
			c := rf.client()
			res, err := index.Copy(cmd.Context(), src, dst, index.CopyOptions{Platforms: ps, Blobs: c.Direct(), Progress: progress(g, "copying")}, c.Remote(cmd.Context())...)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, res)
			}
			verb := "copied"
			if res.Unchanged {
				verb = "unchanged"
			}
			fmt.Fprintf(g.stderr, "%s %s -> %s (%d platforms)\n", verb, res.Source, res.Destination, len(res.Platforms))
			fmt.Fprintln(g.stdout, res.Digest)
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&plat, "platform", "", "copy only these platforms, comma-separated (a new index)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
