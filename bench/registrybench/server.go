package main

import (
	"context"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// server is a registry under test: a name for the table and how to run it on
// a loopback address over a root directory.
type server struct {
	name string
	cmd  harness.Command
}

func polyarchServer(bin string) server {
	// Its request log is off (--quiet); distribution's own logrus output is
	// at warn level in both servers.
	return server{name: "polyarch", cmd: harness.PolyarchRegistry(bin)}
}

func plainServer(bin string) server {
	return server{name: "plain", cmd: func(addr, root string) []string {
		return []string{bin, "-addr", addr, "-root", root}
	}}
}

// start runs s with its root in dir/root and its output in dir/NAME.log,
// and returns once it answers GET /v2/.
func (s server) start(ctx context.Context, dir string) (*harness.Server, error) {
	return harness.Start(ctx, s.name, dir, s.cmd)
}
