package index

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

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

// isNotFound reports a 404 or a MANIFEST_UNKNOWN / NAME_UNKNOWN answer.
func isNotFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, e := range terr.Errors {
		if e.Code == transport.ManifestUnknownErrorCode || e.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}
