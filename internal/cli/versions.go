package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/drift"
	"github.com/polyarch/polyarch/versions"
)

func newVersionsCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "Add or remove a version of an image kept one per release branch",
		Long: `Edit an image's versions matrix in polyarch.yaml (builder images kept one per
release branch, each with its own Dockerfile). polyarch.yaml keeps its
comments and layout: only the lines of the added or removed entry change.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVarP(&file, "file", "f", "polyarch.yaml", "the project's config")
	cmd.AddCommand(newVersionsAddCmd(g, &file), newVersionsRemoveCmd(g, &file))
	return cmd
}

// splitVersion reads [IMAGE@]VERSION.
func splitVersion(arg string) (image, version string) {
	if i, v, ok := strings.Cut(arg, "@"); ok {
		return i, v
	}
	return "", arg
}

func newVersionsAddCmd(g *globals, file *string) *cobra.Command {
	var (
		from, ref string
		offline   bool
	)
	cmd := &cobra.Command{
		Use:   "add [IMAGE@]VERSION --from VERSION [--upstream-ref REF]",
		Short: "Add a version copied from another, its tools aligned to the new upstream ref",
		Long: `Add a version to an image's versions matrix, the way a new release branch's
builder image starts:

 1. the Dockerfile of --from is copied under the new version's name (its
    dockerfile: template, e.g. maistra-builder_{{.Version}}.Dockerfile);
 2. with --upstream-ref, each git upstream of --from is read at that ref
    instead, and every tool version that differs from it is rewritten in the
    new Dockerfile (or in the new entry's build args), each change printed;
    tools only upstream has are named, to add by hand;
 3. the entry of --from is copied to the end of the versions list in
    polyarch.yaml, with the new version, refs and tool versions, and every
    other byte of the file kept.

IMAGE may be left out when one image has a versions matrix. Nothing is
overwritten: an existing Dockerfile, or a version already listed, is refused.`,
		Example: `  polyarch versions add 3.3 --from 2.4 --upstream-ref release-2.2
  polyarch versions add builder@2.5 --from 2.4`,
		Args: exactArgs(1, "[IMAGE@]VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usagef("--from is required: the version to copy")
			}
			cfg, err := config.Load(*file)
			if err != nil {
				return err
			}
			image, version := splitVersion(args[0])
			res, err := versions.Add(cmd.Context(), cfg, versions.AddOptions{
				Image: image, Version: version, From: from, UpstreamRef: ref,
				Fetcher: &drift.Fetcher{Cache: upstreamCache(cfg), Dir: cfg.Dir, Offline: offline},
			})
			if err != nil {
				return err
			}
			for _, c := range res.Cached {
				fmt.Fprintf(g.stderr, "note: %s\n", c)
			}
			fmt.Fprintf(g.stdout, "added %s@%s from %s: %s\n", res.Image, res.Version, res.From, displayPath(res.Dockerfile))
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			for _, c := range res.Changes {
				fmt.Fprintf(tw, "  %s\t%s -> %s\t%s:%d\t(upstream %s)\n", c.Key, c.From, c.To, displayPath(c.File), c.Line, displayAt(c.Upstream))
			}
			tw.Flush()
			if len(res.Changes) == 0 {
				fmt.Fprintln(g.stdout, "  no tool version differs from the upstream")
			}
			for _, n := range res.Notes {
				fmt.Fprintf(g.stdout, "note: %s\n", n)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "the version to copy (required)")
	fl.StringVar(&ref, "upstream-ref", "", "the branch or tag of the upstream the new version follows")
	fl.BoolVar(&offline, "offline", false, "read upstreams from the cache only")
	return cmd
}

func newVersionsRemoveCmd(g *globals, file *string) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "remove [IMAGE@]VERSION",
		Short: "Remove a version no longer supported, and its Dockerfile",
		Long: `Remove a version from an image's versions matrix in polyarch.yaml (its lines
and the comment lines directly above them) and delete its Dockerfile, unless
another version builds the same file.

The Dockerfile is deleted only when git has it committed as it is, so that
nothing is lost; otherwise the command refuses and says why
(--keep-dockerfile removes the entry and leaves the file).`,
		Example: `  polyarch versions remove 2.2`,
		Args:    exactArgs(1, "[IMAGE@]VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(*file)
			if err != nil {
				return err
			}
			image, version := splitVersion(args[0])
			res, err := versions.Remove(cfg, versions.RemoveOptions{Image: image, Version: version, KeepDockerfile: keep})
			if err != nil {
				return err
			}
			switch {
			case res.Deleted:
				fmt.Fprintf(g.stdout, "removed %s@%s and its Dockerfile %s\n", res.Image, res.Version, displayPath(res.Dockerfile))
			default:
				fmt.Fprintf(g.stdout, "removed %s@%s; kept its Dockerfile %s (%s)\n", res.Image, res.Version, displayPath(res.Dockerfile), res.Kept)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep-dockerfile", false, "leave the version's Dockerfile in place")
	return cmd
}
