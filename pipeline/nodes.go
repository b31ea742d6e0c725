package pipeline

import (
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
)

// Node is a builder node as a release uses it: it builds jobs, and tests the
// images they made on the same platform.
type Node interface {
	build.Node
	imagetest.Tester
}

// Nodes says which node builds and tests each platform. Release depends on
// it alone; Builders is the real one, a unit test's fake is another.
type Nodes interface {
	// Describe says which node serves p and whether natively, starting
	// nothing: for plans and dry runs. The error, a *build.UnservedError,
	// says why no node can.
	Describe(p v1.Platform) (node string, native bool, err error)
	// For returns the node that serves p, ready for use, and whether it
	// serves p natively.
	For(ctx context.Context, p v1.Platform) (node Node, native bool, err error)
}

// Builders are the builder nodes of a polyarch.yaml: the declared ones, and
// the managed local node that emulates what none of them builds natively.
// Which serves a platform is build.Router's rule; the local node is started
// the first time it is needed.
type Builders struct {
	Remote []*buildkit.Node
	Local  *buildkit.Node
	// LocalOptions start the local node on demand.
	LocalOptions localnode.Options

	mu      sync.Mutex
	started bool
}

var _ Nodes = (*Builders)(nil)

// NodesFor builds the node list of cfg; local locates the local node.
func NodesFor(cfg *config.Config, local localnode.Options) *Builders {
	n := &Builders{LocalOptions: local}
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

func (n *Builders) router() build.Router {
	var r build.Router
	if n.Local != nil {
		r.Local = n.Local
	}
	for _, node := range n.Remote {
		r.Nodes = append(r.Nodes, node)
	}
	return r
}

// Describe implements Nodes.
func (n *Builders) Describe(p v1.Platform) (string, bool, error) {
	node, native, err := n.router().For(p)
	if err != nil {
		return "", false, err
	}
	return node.Name(), native, nil
}

// For implements Nodes.
func (n *Builders) For(ctx context.Context, p v1.Platform) (Node, bool, error) {
	node, native, err := n.serve(ctx, p)
	if err != nil {
		return nil, false, err
	}
	return testsOn{node}, native, nil
}

// ForPlatform returns the BuildKit node that serves p, started: for
// commands that run images (polyarch run, polyarch test).
func (n *Builders) ForPlatform(ctx context.Context, p v1.Platform) (*buildkit.Node, error) {
	node, _, err := n.serve(ctx, p)
	return node, err
}

func (n *Builders) serve(ctx context.Context, p v1.Platform) (*buildkit.Node, bool, error) {
	node, native, err := n.router().For(p)
	if err != nil {
		return nil, false, err
	}
	bk := node.(*buildkit.Node)
	if bk == n.Local {
		if err := n.startLocal(ctx); err != nil {
			return nil, false, err
		}
	}
	return bk, native, nil
}

// Route assigns jobs to nodes, refusing before anything starts every
// platform no node can build, and starts the local node if a job needs it.
func (n *Builders) Route(ctx context.Context, jobs []build.Job) ([]build.Assignment, error) {
	as, err := n.router().Route(jobs)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.Node == build.Node(n.Local) {
			if err := n.startLocal(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	return as, nil
}

// startLocal starts the local node once per Builders (localnode.Start is
// safe to call at once, but asks the daemon each time).
func (n *Builders) startLocal(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return nil
	}
	if _, err := localnode.Start(ctx, n.LocalOptions); err != nil {
		return fmt.Errorf("starting the local builder node: %w", err)
	}
	n.started = true
	return nil
}

// All lists every node: the declared ones and the local one.
func (n *Builders) All() []*buildkit.Node {
	return append(append([]*buildkit.Node{}, n.Remote...), n.Local)
}

// testsOn is a BuildKit node that also tests images, in its containers.
type testsOn struct{ *buildkit.Node }

func (n testsOn) Test(ctx context.Context, t *imagetest.Target, spec *imagetest.Spec, o imagetest.Options) ([]imagetest.Result, error) {
	return imagetest.OnNode(n.Node).Test(ctx, t, spec, o)
}
