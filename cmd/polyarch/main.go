// Command polyarch builds, tests and publishes multi-architecture container images.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/polyarch/polyarch/internal/cli"
)

func main() {
	// The first Ctrl-C (or SIGTERM) cancels ctx: the command winds down and
	// polyarch exits 130. Signals are caught only until then, so a second
	// one ends polyarch at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil
	stop()
	if interrupted && code != cli.ExitOK {
		fmt.Fprintln(os.Stderr, "polyarch: interrupted")
		code = 130
	}
	os.Exit(code)
}
