package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/registry"
)

func newRegistryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run the embedded OCI registry",
		Long: `The embedded OCI registry: distribution/distribution v3 with the OCI 1.1
referrers API, so the whole pipeline can publish on a machine with nothing else.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRegistryServeCmd(g), newRegistryGCCmd(g))
	return cmd
}

// storageFlags are shared by serve and gc: where the data is, and how long
// unfinished uploads are kept there.
type storageFlags struct {
	root      string
	config    string
	uploadAge time.Duration
}

func (f *storageFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.root, "root", "", "data directory for the filesystem driver (default "+registry.DefaultRoot()+", i.e. $XDG_DATA_HOME/polyarch/registry)")
	cmd.Flags().StringVar(&f.config, "config", "", "distribution configuration YAML for everything else (storage driver such as s3, middleware, notifications); flags override it")
	cmd.Flags().DurationVar(&f.uploadAge, "uploads-older-than", registry.DefaultUploadAge, "delete unfinished uploads (data of failed or abandoned pushes) started longer ago than this; 0 keeps them")
}

// checkUploadAge refuses a negative --uploads-older-than as a usage error.
func (f *storageFlags) checkUploadAge() error {
	if f.uploadAge < 0 {
		return usagef("--uploads-older-than %s: must not be negative (0 keeps every upload)", f.uploadAge)
	}
	return nil
}

func (f *storageFlags) options() []registry.Option {
	var opts []registry.Option
	if f.config != "" {
		opts = append(opts, registry.WithConfigFile(f.config))
	}
	if f.root != "" {
		opts = append(opts, registry.WithRoot(f.root))
	}
	return opts
}

func newRegistryServeCmd(g *globals) *cobra.Command {
	var (
		storage        storageFlags
		addr           string
		htpasswd       string
		tlsCert        string
		tlsKey         string
		readOnly       bool
		insecurePublic bool
		quiet          bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve an OCI registry (distribution v3 plus the referrers API)",
		Long: `Serve an OCI distribution registry until interrupted.

Data lives in --root with the filesystem driver unless --config names a
distribution YAML with another storage driver. Deletes are enabled.

A non-loopback --addr is refused unless --htpasswd is given (bcrypt entries,
as 'htpasswd -B' writes) with --tls-cert and --tls-key, so that passwords never
cross the network in clear, or --insecure-public accepts the risk. On SIGINT or
SIGTERM the server stops accepting, lets in-flight requests finish (30s at
most) and exits 0; an upload cut short never becomes a visible blob, and
distribution's upload purger deletes unfinished uploads older than
--uploads-older-than (first within an hour of starting, then at most daily;
without the flag, the --config file's storage.maintenance.uploadpurging, else 24h).

Each request is logged on stderr as: time method path status bytes duration.`,
		Example: `  polyarch registry serve
  polyarch registry serve --addr 127.0.0.1:5001 --root /var/lib/polyarch
  polyarch registry serve --addr 0.0.0.0:5000 --htpasswd ./htpasswd --tls-cert cert.pem --tls-key key.pem`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (tlsCert == "") != (tlsKey == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			if err := storage.checkUploadAge(); err != nil {
				return err
			}
			opts := storage.options()
			opts = append(opts, registry.WithReadOnly(readOnly), registry.WithInsecurePublic(insecurePublic))
			if cmd.Flags().Changed("uploads-older-than") {
				// Unset, the --config file's uploadpurging applies, else the default.
				opts = append(opts, registry.WithUploadPurging(storage.uploadAge))
			}
			if htpasswd != "" {
				opts = append(opts, registry.WithHtpasswd(htpasswd))
			}
			if tlsCert != "" {
				opts = append(opts, registry.WithTLS(tlsCert, tlsKey))
			}
			if !quiet {
				opts = append(opts, registry.WithRequestLog(g.stderr))
			}
			reg, err := registry.New(cmd.Context(), opts...)
			if err != nil {
				return err
			}
			ln, err := reg.Listen(addr)
			if err != nil {
				_ = reg.Close()
				return err
			}
			scheme := "http"
			if reg.TLSEnabled() {
				scheme = "https"
			}
			where := reg.Root()
			if where == "" {
				where = "storage from " + storage.config
			}
			mode := ""
			if readOnly {
				mode = ", read-only"
			}
			if reg.AuthEnabled() {
				mode += ", basic auth"
			}
			fmt.Fprintf(g.stderr, "polyarch registry serving %s://%s (data: %s%s)\n", scheme, ln.Addr(), where, mode)
			if err := reg.Serve(cmd.Context(), ln); err != nil {
				return err
			}
			fmt.Fprintln(g.stderr, "polyarch registry stopped")
			return nil
		},
	}
	storage.register(cmd)
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:5000", "host:port to listen on")
	f.StringVar(&htpasswd, "htpasswd", "", "require HTTP basic auth, checked against this bcrypt htpasswd file")
	f.StringVar(&tlsCert, "tls-cert", "", "PEM certificate: serve HTTPS (with --tls-key)")
	f.StringVar(&tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	f.BoolVar(&readOnly, "read-only", false, "refuse pushes and deletes; serve pulls only")
	f.BoolVar(&insecurePublic, "insecure-public", false, "allow a non-loopback --addr without --htpasswd, or with --htpasswd but without TLS")
	f.BoolVar(&quiet, "quiet", false, "do not log each request")
	return cmd
}

func newRegistryGCCmd(g *globals) *cobra.Command {
	var (
		storage        storageFlags
		dryRun         bool
		removeUntagged bool
		verbose        bool
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete blobs no manifest references (distribution's mark-and-sweep) and stale uploads",
		Long: `Delete blobs that no manifest references, with distribution's mark-and-sweep,
and unfinished uploads (the data of failed or abandoned pushes) started longer
ago than --uploads-older-than.

Run it while nothing pushes to the same storage: stop 'polyarch registry serve'
or restart it with --read-only first, since a blob pushed during the mark phase
would be swept.`,
		Example: `  polyarch registry gc --dry-run
  polyarch registry gc --root /var/lib/polyarch --remove-untagged
  polyarch registry gc --uploads-older-than 1h`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := storage.checkUploadAge(); err != nil {
				return err
			}
			res, err := registry.GarbageCollect(cmd.Context(), registry.GCOptions{
				DryRun: dryRun, RemoveUntagged: removeUntagged, Quiet: !verbose,
				UploadsOlderThan: storage.uploadAge,
			}, storage.options()...)
			if err != nil {
				return err
			}
			if verbose {
				for _, u := range res.PurgedUploads {
					fmt.Fprintln(g.stderr, "unfinished upload:", u)
				}
			}
			msg := "gc finished"
			if dryRun {
				msg = "gc dry run finished: nothing was deleted"
			}
			if storage.uploadAge > 0 {
				verb := "deleted"
				if dryRun {
					verb = "to delete"
				}
				msg += fmt.Sprintf(" (unfinished uploads older than %s %s: %d)", storage.uploadAge, verb, len(res.PurgedUploads))
			}
			fmt.Fprintln(g.stderr, msg)
			return nil
		},
	}
	storage.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be deleted, delete nothing")
	cmd.Flags().BoolVar(&removeUntagged, "remove-untagged", false, "also delete manifests no tag points to (this removes untagged referrers such as signatures)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every blob marked")
	return cmd
}
