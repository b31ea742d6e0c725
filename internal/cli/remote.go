package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/platform"
)

// remoteFlags are the registry-access flags of every command that talks to
// registries.
type remoteFlags struct {
	insecure bool
	jobs     int
}

func (f *remoteFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP and unverified TLS to non-loopback registries (loopback ones always speak plain HTTP)")
	cmd.Flags().IntVar(&f.jobs, "jobs", client.DefaultJobs, "blobs transferred at once")
}

func (f *remoteFlags) client() client.Options {
	return client.Options{Insecure: f.insecure, Jobs: f.jobs}
}

// parseRef parses a reference given on the command line (a usage error if bad).
func (f *remoteFlags) parseRef(what, s string) (name.Reference, error) {
	r, err := f.client().Parse(s)
	if err != nil {
		return nil, usagef("%s: %v", what, err)
	}
	return r, nil
}

// remote returns the remote options, with a progress line on a terminal.
func (f *remoteFlags) remote(ctx context.Context, g *globals, verb string) ([]remote.Option, func()) {
	opts := f.client().Remote(ctx)
	file, ok := g.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return opts, func() {}
	}
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		shown := false
		for u := range updates {
			if u.Total > 0 {
				fmt.Fprintf(file, "\r%s: %s / %s   ", verb, mib(u.Complete), mib(u.Total))
				shown = true
			}
		}
		if shown {
			fmt.Fprint(file, "\r\033[K")
		}
	}()
	return append(opts, remote.WithProgress(updates)), func() { <-done }
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// parsePlatforms parses a --platform list (a usage error if bad).
func parsePlatforms(flag, s string) ([]v1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	ps, err := platform.ParseList(s)
	if err != nil {
		return nil, usagef("--%s: %v", flag, err)
	}
	return ps, nil
}

// parseKeyValues parses KEY=VALUE flags.
func parseKeyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
