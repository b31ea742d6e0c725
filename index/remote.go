package index

import (
	"context"
	"slices"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/client"
)

// withContext returns opts with ctx last. go-containerregistry keeps the
// last remote.WithContext it is given, so the context argument of every
// function here wins over any the options carry (client.Options.Remote
// puts one in). opts itself is left as it was.
func withContext(ctx context.Context, opts []remote.Option) []remote.Option {
	return append(slices.Clip(opts), remote.WithContext(ctx))
}

// jobs is a caller's limit on concurrent reads, or the default.
func jobs(n int) int {
	if n < 1 {
		return client.DefaultJobs
	}
	return n
}
