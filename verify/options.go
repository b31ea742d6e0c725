package verify

import (
	"fmt"
	"runtime"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/evidence"
)

// Option configures Verify and ScanLayer.
type Option func(*options) error

type options struct {
	remote      []remote.Option
	ignore      []pattern
	concurrency int
	sbomLayers  *evidence.LayerCache
}

// DefaultConcurrency is how many layers Verify scans at once unless
// WithConcurrency says otherwise: one per CPU, at least 2 (a layer's
// download can wait on the network while another decompresses) and at most 8.
func DefaultConcurrency() int { return min(max(runtime.GOMAXPROCS(0), 2), 8) }

func makeOptions(opts []Option) (*options, error) {
	o := &options{concurrency: DefaultConcurrency()}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithRemote says how to reach the registry: credentials, transport, plain
// HTTP (client.Options.Remote gives polyarch's). Verify's ctx replaces any
// remote.WithContext among them. Default: anonymous, over HTTPS.
func WithRemote(opts ...remote.Option) Option {
	return func(o *options) error {
		o.remote = append(o.remote, opts...)
		return nil
	}
}

// WithIgnore skips files whose path inside a layer matches one of the globs,
// such as a cross-architecture test fixture. Paths are relative to the image
// root, without a leading "/" or "./". A glob is matched segment by segment
// with path.Match; "**" matches any number of directories; a glob that
// matches a directory ignores everything beneath it:
//
//	usr/share/qemu/*              files directly in usr/share/qemu
//	usr/local/go/src/**/testdata  every testdata tree in Go's sources
//	**/*.ko                       kernel modules anywhere
//
// Default: nothing is ignored.
func WithIgnore(globs ...string) Option {
	return func(o *options) error {
		for _, g := range globs {
			p, err := compilePattern(g)
			if err != nil {
				return err
			}
			o.ignore = append(o.ignore, p)
		}
		return nil
	}
}

// WithSBOMLayers makes the scan also record, in c, what an SBOM needs of
// each layer it reads (every file's path and checksums, the package
// databases), in the same pass: a release that tests and then signs reads
// each layer once. Layers c already holds are scanned as usual.
func WithSBOMLayers(c *evidence.LayerCache) Option {
	return func(o *options) error {
		o.sbomLayers = c
		return nil
	}
}

// WithConcurrency bounds how many layers are downloaded and scanned at once
// (and child manifests fetched). Default: DefaultConcurrency().
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d: must be at least 1", n)
		}
		o.concurrency = n
		return nil
	}
}

// CheckIgnore returns the error WithIgnore would give for the first bad
// glob, so a command line can refuse it before reaching any registry.
func CheckIgnore(globs ...string) error {
	for _, g := range globs {
		if _, err := compilePattern(g); err != nil {
			return err
		}
	}
	return nil
}
