// Package build runs per-platform image builds on builder nodes.
//
// Every (image, version, platform) is its own Job. A Router gives each job
// the node that builds its platform natively, else the local node, which
// emulates it with QEMU when it can (and otherwise says so before anything
// is built); Run runs the jobs in parallel up to each node's capacity, keeps
// each build's log, and goes on when one fails. A Node is anything that can
// build one job and push it: build/buildkit drives a buildkitd, local or
// remote.
package build

import (
	"context"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/platform"
)

// Job is one build: one version of one image for one platform.
type Job struct {
	Image    string
	Version  string
	Platform v1.Platform
	// Context is the build context directory; Dockerfile is a file path.
	Context    string
	Dockerfile string
	// Target is the Dockerfile stage; empty for the last one.
	Target string
	Args   map[string]string
	Labels map[string]string
	// Annotations go on the pushed manifest.
	Annotations map[string]string
	// Ref is where the result is pushed (the arch-named reference). With
	// ByDigest it is a repository, and the image is pushed untagged.
	Ref      string
	ByDigest bool
	// Cache is the build's cache in a registry; the zero value keeps none.
	Cache Cache
}

// Cache is one build's BuildKit cache kept in a registry, so that it
// outlives the node: imported before the build (a step whose inputs did
// not change is taken from it, on a node that never ran it) and exported
// after it (every step's result, BuildKit's mode=max).
type Cache struct {
	// Ref is the cache's reference, one per image, version and platform so
	// that builds running at once never overwrite each other's; empty for
	// no registry cache.
	Ref string
	// NoCache runs every step again: no cache is used, neither the node's
	// own nor the registry's (the registry's is still exported).
	NoCache bool
	// NoExport leaves the registry's cache as it was.
	NoExport bool
}

// Name is "image[@version] os/arch[/variant]", for tables and log files.
func (j Job) Name() string {
	n := j.Image
	if j.Version != "" {
		n += "@" + j.Version
	}
	return n + " " + platform.Format(j.Platform)
}

// Output is what a node reports for a successful build.
type Output struct {
	// Digest of the pushed manifest.
	Digest string
	// Ref it was pushed as.
	Ref string
}

// Node builds jobs on one BuildKit daemon.
type Node interface {
	// Name names the node in tables and errors.
	Name() string
	// Native reports whether the node builds p natively (without emulation).
	Native(p v1.Platform) bool
	// Parallel is how many builds the node runs at once.
	Parallel() int
	// Build solves job, pushes the result to job.Ref, and writes BuildKit's
	// progress as plain text to log.
	Build(ctx context.Context, job Job, log io.Writer) (Output, error)
}

// Result is the outcome of one job.
type Result struct {
	Job      Job
	Node     string
	Native   bool
	Output   Output
	Duration time.Duration
	// LogFile holds the build's whole log.
	LogFile string
	Err     error
}

// NodeError says which node failed and how to look at it.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("builder node %q: %v (check it with 'polyarch builder status')", e.Node, e.Err)
}

func (e *NodeError) Unwrap() error { return e.Err }
