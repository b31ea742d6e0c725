package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/platform"
)

func newResolveCmd(g *globals) *cobra.Command {
	var (
		rf     remoteFlags
		plat   string
		all    bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "resolve REF --platform P | --all",
		Short: "Say which manifest a host of a platform gets when it pulls a name, and why",
		Long: `Say which manifest a host of a platform gets when it pulls REF, following
containerd's matching: an exact match first, then what the host also runs (an
arm/v7 host falls back to arm/v6 and v5, an amd64 host to 386, an arm64 host
to arm/v8 and below). A platform that gets nothing is said plainly; with a
single --platform that is also exit status 1.`,
		Example: `  polyarch resolve reg/org/agent:v1.4 --platform linux/arm/v7
  polyarch resolve reg/org/agent:v1.4 --all`,
		Args: exactArgs(1, "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (plat == "") == !all {
				return usagef("give --platform or --all")
			}
			ref, err := rf.parseRef("REF", args[0])
			if err != nil {
				return err
			}
			hosts := platform.Common()
			if plat != "" {
				hosts, err = parsePlatforms("platform", plat)
				if err != nil {
					return err
				}
			}
			r, err := index.NewResolver(cmd.Context(), ref, rf.client().Remote(cmd.Context())...)
			if err != nil {
				return err
			}
			var out []index.Resolution
			for _, h := range hosts {
				out = append(out, r.Resolve(h))
			}
			if asJSON {
				if err := writeJSON(g.stdout, out); err != nil {
					return err
				}
			} else {
				printResolutions(g, out)
			}
			if !all {
				for i, res := range out {
					if !res.Found {
						return fmt.Errorf("%s: a %s host gets nothing it can run", ref, platform.Format(hosts[i]))
					}
				}
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&plat, "platform", "", "host platform(s), comma-separated, e.g. linux/arm/v7")
	cmd.Flags().BoolVar(&all, "all", false, "answer for every common platform")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func printResolutions(g *globals, rs []index.Resolution) {
	for _, r := range rs {
		if !r.Found {
			fmt.Fprintf(g.stdout, "%-16s gets nothing: %s\n", r.Host, r.Why)
			continue
		}
		fmt.Fprintf(g.stdout, "%-16s -> %-16s %s  (%s)\n", r.Host, r.Platform, r.Digest, r.Why)
	}
}
