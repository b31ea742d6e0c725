package index

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/platform"
)

// Resolution is what a host of one platform gets when it pulls a name.
type Resolution struct {
	Host string `json:"host"`
	// Found is false when the host gets nothing it can run.
	Found    bool   `json:"found"`
	Digest   string `json:"digest,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Why explains the choice in a sentence.
	Why string `json:"why"`
}

// Resolver answers for many hosts after fetching the name once.
type Resolver struct {
	Reference string
	Digest    string
	isIndex   bool
	children  []v1.Descriptor // without attestations
	platforms []v1.Platform
}

// NewResolver fetches ref (an index, or a single image) for Resolve. ctx
// wins over any context in opts.
func NewResolver(ctx context.Context, ref name.Reference, opts ...remote.Option) (*Resolver, error) {
	opts = withContext(ctx, opts)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", ref, err)
	}
	r := &Resolver{Reference: ref.String(), Digest: desc.Digest.String()}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", ref, err)
		}
		r.children = []v1.Descriptor{{Digest: desc.Digest}}
		r.platforms = []v1.Platform{platform.Normalize(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion})}
		return r, nil
	}
	r.isIndex = true
	_, im, err := readIndex(ref, desc)
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if IsAttestation(d) || d.Platform == nil {
			continue
		}
		r.children = append(r.children, d)
		r.platforms = append(r.platforms, *d.Platform)
	}
	return r, nil
}

// Resolve says which manifest a host of platform host pulls, and why.
func (r *Resolver) Resolve(host v1.Platform) Resolution {
	h := platform.Format(platform.Normalize(host))
	if !r.isIndex {
		p := r.platforms[0]
		res := Resolution{Host: h, Found: true, Digest: r.Digest, Platform: platform.Format(p)}
		if platform.Runs(host, p) {
			res.Why = "not an index: every host pulls this single image, and this host can run it"
		} else {
			res.Found = false
			res.Why = fmt.Sprintf("not an index: every host pulls this single %s image, which a %s host cannot run", platform.Format(p), h)
		}
		return res
	}
	i, ok := platform.Resolve(host, r.platforms)
	if !ok {
		return Resolution{Host: h, Why: fmt.Sprintf("the index has no image a %s host can run; it has %s", h, r.list())}
	}
	got := platform.Normalize(r.platforms[i])
	res := Resolution{Host: h, Found: true, Digest: r.children[i].Digest.String(), Platform: platform.Format(got)}
	switch {
	case platform.Same(host, got):
		res.Why = "exact match"
	case got.Architecture == platform.Normalize(host).Architecture:
		res.Why = fmt.Sprintf("no %s image; %s is the newest variant this host runs (containerd falls back to older variants)", h, platform.Format(got))
	default:
		res.Why = fmt.Sprintf("no %s image; a %s host also runs %s images (containerd's compatibility fallback)", h, h, got.Architecture)
	}
	return res
}

func (r *Resolver) list() string {
	s := ""
	for i, p := range r.platforms {
		if i > 0 {
			s += ", "
		}
		s += platform.Format(p)
	}
	if s == "" {
		return "no platform-specific image"
	}
	return s
}
