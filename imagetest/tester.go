package imagetest

import "context"

// Tester runs the tests of one target somewhere: OnNode runs them on a
// builder node; a release's unit tests answer with a fake.
type Tester interface {
	// Test runs every test of spec on t, plus the automatic architecture
	// test. Test failures are results; an error means the tests could not run.
	Test(ctx context.Context, t *Target, spec *Spec, o Options) ([]Result, error)
}

// OnNode is the Tester that runs tests with Run, in containers that ex
// starts: natively or under emulation, as the node serves the platform.
func OnNode(ex Executor) Tester { return onNode{ex} }

type onNode struct{ ex Executor }

func (n onNode) Test(ctx context.Context, t *Target, spec *Spec, o Options) ([]Result, error) {
	return Run(ctx, t, spec, n.ex, o)
}
