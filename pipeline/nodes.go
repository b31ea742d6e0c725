package pipeline

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/platform"
)

// Nodes are the builder nodes of a config: the declared ones, and the
// managed local node that emulates every other platform.
type Nodes struct {
	Remote []*buildkit.Node
	Local  *buildkit.Node
	// LocalOptions start the local node on demand.
	LocalOptions localnode.Options
}

// NodesFor builds the node list of cfg; local locates the local node.
func NodesFor(cfg *config.Config, local localnode.Options) *Nodes {
	n := &Nodes{LocalOptions: local}
	for _, b := range cfg.Builders {
		if b.Name == config.LocalBuilder {
			if b.Parallel > 0 {
				n.LocalOptions.Parallel = b.Parallel
			}
			continue
		}
		node := &buildkit.Node{NodeName: b.Name, Address: b.Address, Capacity: b.Parallel}
		for _, s := range b.Platforms {
			p, _ := platform.Parse(s) // validated by config
			node.Platforms = append(node.Platforms, p)
		}
		if b.TLS != nil {
			node.TLS = &buildkit.TLS{CA: cfg.Path(b.TLS.CA), Cert: cfg.Path(b.TLS.Cert), Key: cfg.Path(b.TLS.Key), ServerName: b.TLS.ServerName}
		}
		n.Remote = append(n.Remote, node)
	}
	n.Local = n.LocalOptions.Node()
	return n
}

// Route assigns jobs to nodes and starts the local node if any job needs it.
func (n *Nodes) Route(ctx context.Context, jobs []build.Job) ([]build.Assignment, error) {
	remote := make([]build.Node, len(n.Remote))
	for i, r := range n.Remote {
		remote[i] = r
	}
	as, err := build.Route(jobs, remote, n.Local)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.Node == build.Node(n.Local) {
			if _, err := localnode.Start(ctx, n.LocalOptions); err != nil {
				return nil, fmt.Errorf("starting the local builder node: %w", err)
			}
			break
		}
	}
	return as, nil
}

// Describe says where a platform is built: the node and native/emulated.
func (n *Nodes) Describe(p v1.Platform) (node string, native bool) {
	for _, r := range n.Remote {
		if r.Native(p) {
			return r.Name(), true
		}
	}
	return n.Local.Name(), n.Local.Native(p)
}

// ForPlatform returns the node that serves p: its native node, else the
// local node, started if needed.
func (n *Nodes) ForPlatform(ctx context.Context, p v1.Platform) (*buildkit.Node, error) {
	for _, r := range n.Remote {
		if r.Native(p) {
			return r, nil
		}
	}
	if _, err := localnode.Start(ctx, n.LocalOptions); err != nil {
		return nil, fmt.Errorf("starting the local builder node: %w", err)
	}
	return n.Local, nil
}

// All lists every node: the declared ones and the local one.
func (n *Nodes) All() []*buildkit.Node {
	return append(append([]*buildkit.Node{}, n.Remote...), n.Local)
}
