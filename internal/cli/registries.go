package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/pipeline"
)

// registriesOf is polyarch.yaml's registries: as the client reads them
// (CA paths resolved against the file's directory); certs.d is read too.
func registriesOf(cfg *config.Config) client.Registries {
	r := client.Registries{Hosts: map[string]client.Registry{}}
	for host, reg := range cfg.Registries {
		cr := client.Registry{Insecure: reg.Insecure, Mirrors: reg.Mirrors}
		if reg.CA != "" {
			cr.CA = []string{cfg.Path(reg.CA)}
		}
		r.Hosts[host] = cr
	}
	return r
}

// forProject is how the project's commands reach registries: the flags,
// and polyarch.yaml's registries: (cfg may be nil).
func (f *remoteFlags) forProject(cfg *config.Config) client.Options {
	o := f.client()
	if cfg != nil {
		o.Registries = registriesOf(cfg)
	}
	return o
}

// cacheFlags turn the registry cache off for one run of build or release.
type cacheFlags struct{ noCache, noExport bool }

func (f *cacheFlags) register(fl interface {
	BoolVar(p *bool, name string, value bool, usage string)
}) {
	fl.BoolVar(&f.noCache, "no-cache", false, "run every build step again: use no cache, neither the builder's nor the registry's (the registry's cache is still exported)")
	fl.BoolVar(&f.noExport, "no-cache-export", false, "leave the build cache in the registry as it was")
}

// builderNodes are the project's builder nodes, each saying in one line on
// g's stderr what the user should know of a build that succeeded (a
// registry that refused a form of cache).
func builderNodes(g *globals, cfg *config.Config, f *projectFlags) *pipeline.Builders {
	nodes := pipeline.NodesFor(cfg, f.localOptions(cfg))
	regs := registriesOf(cfg)
	for _, n := range nodes.All() {
		n.Warn = func(msg string) { fmt.Fprintf(g.stderr, "warning: %s\n", msg) }
		n.Registries = regs
	}
	return nodes
}

// sayReferrers tells, once per registry the plan's test records go to,
// whether it has the referrers API or gets the tag schema; a registry that
// cannot be asked is left to the run's own error.
func sayReferrers(ctx context.Context, w io.Writer, plan *pipeline.Plan, opts []remote.Option) {
	for _, r := range pipeline.ReferrersModes(ctx, plan, opts...) {
		if r.Err == nil {
			fmt.Fprintln(w, r.Mode.Line(r.Host))
		}
	}
}
