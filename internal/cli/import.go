package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/importer"
	"github.com/polyarch/polyarch/platform"
)

func newImportCmd(g *globals) *cobra.Command {
	var (
		rf         remoteFlags
		plat       string
		cmdArgs    []string
		entrypoint []string
		env        []string
		created    string
	)
	cmd := &cobra.Command{
		Use:   "import ROOTFS_DIR|TARBALL --platform P REF",
		Short: "Make a one-layer image of a platform from a root filesystem (like docker import)",
		Long: `Make a one-layer image from a root filesystem directory or a tarball (plain
or gzip) and push it to REF, with the platform in its config. The layer is
reproducible: files in lexical order, owned by root, with a fixed time, and
the image created at the Unix epoch unless --created says otherwise.

Base images that cannot be pulled can be made this way, one per architecture,
then published as one multi-arch name with 'polyarch manifest push'.`,
		Example: `  polyarch import ./rootfs/arm64 --platform linux/arm64 127.0.0.1:5000/base/busybox-arm64:1.35
  polyarch import rootfs.tar.gz --platform linux/s390x --cmd /bin/sh reg/base/os-s390x:1`,
		Args: exactArgs(2, "ROOTFS and REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if plat == "" {
				return usagef("--platform is required: the platform of the binaries in %s", args[0])
			}
			p, err := platform.Parse(plat)
			if err != nil {
				return usagef("--platform: %v", err)
			}
			ref, err := rf.parseRef("REF", args[1])
			if err != nil {
				return err
			}
			o := importer.Options{Cmd: cmdArgs, Entrypoint: entrypoint, Env: env}
			if created != "" {
				if o.Created, err = time.Parse(time.RFC3339, created); err != nil {
					return usagef("--created %q: want RFC 3339, e.g. 2026-11-23T00:00:00Z", created)
				}
			}
			d, err := importer.Import(cmd.Context(), args[0], p, ref, o, rf.client().Remote(cmd.Context())...)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "imported %s as %s (%s)\n", args[0], ref, platform.Format(p))
			fmt.Fprintln(g.stdout, d)
			return nil
		},
	}
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&plat, "platform", "", "platform of the root filesystem, e.g. linux/arm64")
	f.StringSliceVar(&cmdArgs, "cmd", nil, "default command, comma-separated words")
	f.StringSliceVar(&entrypoint, "entrypoint", nil, "entrypoint, comma-separated words")
	f.StringArrayVarP(&env, "env", "e", nil, "KEY=VALUE environment variable (repeatable)")
	f.StringVar(&created, "created", "", "creation time, RFC 3339 (default the Unix epoch, for reproducible digests)")
	return cmd
}
