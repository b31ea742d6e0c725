package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/platform"
)

func newBuilderCmd(g *globals) *cobra.Command {
	var dir string
	var insecure []string
	opts := func() localnode.Options { return localnode.Options{Dir: dir, InsecureRegistries: insecure} }
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage the local builder node (a buildkitd with the OCI worker on runc)",
		Long: `The local builder node is a buildkitd that polyarch starts on this machine.
It builds the host's platform natively and every other platform under QEMU
user-mode emulation (binfmt_misc). 'polyarch build' starts it on demand.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dir, "builder-dir", "", "state directory (default "+localnode.DefaultDir()+")")

	start := &cobra.Command{
		Use:   "start",
		Short: "Start the local builder node (no-op when it runs)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := localnode.Start(cmd.Context(), opts())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "local builder running: pid %d, %s\n", st.PID, st.Address)
			return nil
		},
	}
	start.Flags().StringSliceVar(&insecure, "insecure-registry", nil, "host:port spoken to over plain HTTP (loopback registries always are)")

	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the local builder node and unmount what it left",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := localnode.Stop(cmd.Context(), opts()); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "local builder stopped")
			return nil
		},
	}

	var check string
	status := &cobra.Command{
		Use:   "status",
		Short: "Say whether the local builder runs, what it builds, and whether QEMU is ready",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := localnode.Inspect(cmd.Context(), opts())
			if st.Running {
				fmt.Fprintf(g.stdout, "local builder: running (pid %d) on %s\n  state: %s\n  platforms: %s\n", st.PID, st.Address, st.Dir, strings.Join(st.Platforms, ", "))
			} else {
				fmt.Fprintf(g.stdout, "local builder: not running (state: %s)\n", st.Dir)
				if err != nil {
					fmt.Fprintf(g.stdout, "  %v\n", err)
				}
			}
			ps, perr := parsePlatforms("check", check)
			if perr != nil {
				return perr
			}
			fmt.Fprintf(g.stdout, "emulation (host %s):\n", platform.Format(buildkit.HostPlatform()))
			bad := 0
			for _, p := range ps {
				if err := buildkit.CheckEmulation(p); err != nil {
					bad++
					fmt.Fprintf(g.stdout, "  %-14s missing: %v\n", platform.Format(p), err)
				} else {
					fmt.Fprintf(g.stdout, "  %-14s ok\n", platform.Format(p))
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d platform(s) cannot be emulated on this machine", bad)
			}
			return nil
		},
	}
	status.Flags().StringVar(&check, "check", "linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le,linux/s390x,linux/riscv64", "platforms whose emulation to check")
	cmd.AddCommand(start, stop, status)
	return cmd
}
