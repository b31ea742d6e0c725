package build

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/platform"
)

// Emulator is a Node that also builds platforms it does not build natively,
// under emulation: the local node, with QEMU.
type Emulator interface {
	Node
	// CanEmulate says why the node cannot build p under emulation; nil
	// when it can.
	CanEmulate(p v1.Platform) error
}

// Router is the one rule that says which node builds a platform, and runs
// its images: the first of Nodes that builds it natively, else Local, when
// it can emulate it. Everything that picks a node (builds, tests, runs,
// plans) asks a Router.
type Router struct {
	// Nodes are the declared nodes, in order of preference.
	Nodes []Node
	// Local emulates what no node builds natively; nil when there is none.
	Local Emulator
}

// UnservedError says that no node can build a platform, and why.
type UnservedError struct {
	Platform v1.Platform
	// Why the local node cannot emulate it; nil when there is no local node.
	Err error
}

func (e *UnservedError) Error() string {
	p := platform.Format(e.Platform)
	if e.Err == nil {
		return fmt.Sprintf("no builder node builds %s natively and there is no local node to emulate it", p)
	}
	return fmt.Sprintf("no builder node builds %s natively and the local node cannot emulate it: %v", p, e.Err)
}

func (e *UnservedError) Unwrap() error { return e.Err }

// UnservedErrors is every platform of a plan that no node can build: each
// error names what needs the platform and wraps its *UnservedError. It
// reads on one line, "a: ...; b: ...".
type UnservedErrors []error

func (e UnservedErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e UnservedErrors) Unwrap() []error { return e }

// For returns the node that builds p, and whether natively. The error is an
// *UnservedError when no node can.
func (r Router) For(p v1.Platform) (Node, bool, error) {
	for _, n := range r.Nodes {
		if n.Native(p) {
			return n, true, nil
		}
	}
	if r.Local == nil {
		return nil, false, &UnservedError{Platform: p}
	}
	if r.Local.Native(p) {
		return r.Local, true, nil
	}
	if err := r.Local.CanEmulate(p); err != nil {
		return nil, false, &UnservedError{Platform: p, Err: err}
	}
	return r.Local, false, nil
}

// Route gives each job its node (For), in job order. When some platforms
// cannot be built, the error (UnservedErrors) names each once, with the
// jobs that need it, and nothing is assigned.
func (r Router) Route(jobs []Job) ([]Assignment, error) {
	out := make([]Assignment, 0, len(jobs))
	var order []string
	unserved := map[string]error{}
	needs := map[string][]string{}
	for _, j := range jobs {
		n, native, err := r.For(j.Platform)
		if err != nil {
			p := platform.Format(j.Platform)
			if _, seen := unserved[p]; !seen {
				order = append(order, p)
				unserved[p] = err
			}
			needs[p] = append(needs[p], j.Name())
			continue
		}
		out = append(out, Assignment{Job: j, Node: n, Native: native})
	}
	if len(order) > 0 {
		errs := make(UnservedErrors, len(order))
		for i, p := range order {
			errs[i] = fmt.Errorf("%s: %w", strings.Join(needs[p], ", "), unserved[p])
		}
		return nil, errs
	}
	return out, nil
}
