package index

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/parallel"
	"github.com/polyarch/polyarch/platform"
)

// Inspection describes an index or an image.
type Inspection struct {
	Reference   string            `json:"reference"`
	Digest      string            `json:"digest"`
	MediaType   types.MediaType   `json:"mediaType"`
	Size        int64             `json:"size"`
	IsIndex     bool              `json:"isIndex"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Manifests has one entry per child of an index, or the image itself.
	Manifests []Manifest `json:"manifests"`
}

// Manifest describes one image manifest.
type Manifest struct {
	Platform  string          `json:"platform"`
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	// Size is the manifest's own size; ImageSize adds its config and layers.
	Size        int64             `json:"size"`
	ImageSize   int64             `json:"imageSize"`
	Created     *time.Time        `json:"created,omitempty"`
	Layers      []v1.Descriptor   `json:"layers"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// AttestationFor is set on attestation manifests: the digest they describe.
	AttestationFor string `json:"attestationFor,omitempty"`
	// ConfigPlatform is what the image config says, when it differs from Platform.
	ConfigPlatform string `json:"configPlatform,omitempty"`
}

// InspectOptions says how Inspect reads.
type InspectOptions struct {
	// Jobs is how many children of an index are read at once; default
	// client.DefaultJobs.
	Jobs int
}

// Inspect fetches ref and describes it; for an index, every child too.
// ctx wins over any context in opts.
func Inspect(ctx context.Context, ref name.Reference, opts ...remote.Option) (*Inspection, error) {
	return InspectWith(ctx, ref, InspectOptions{}, opts...)
}

// InspectWith is Inspect reading as o says.
func InspectWith(ctx context.Context, ref name.Reference, o InspectOptions, opts ...remote.Option) (*Inspection, error) {
	opts = withContext(ctx, opts)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", ref, err)
	}
	out := &Inspection{Reference: ref.String(), Digest: desc.Digest.String(), MediaType: desc.MediaType, Size: desc.Size}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		m, err := describeImage(img, v1.Descriptor{Digest: desc.Digest, MediaType: desc.MediaType, Size: desc.Size})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		if m.ConfigPlatform != "" {
			m.Platform, m.ConfigPlatform = m.ConfigPlatform, ""
		}
		out.Manifests = []Manifest{m}
		return out, nil
	}
	out.IsIndex = true
	ii, im, err := readIndex(ref, desc)
	if err != nil {
		return nil, err
	}
	out.Annotations = im.Annotations
	out.Manifests = make([]Manifest, len(im.Manifests))
	err = parallel.ForEach(ctx, len(im.Manifests), jobs(o.Jobs), func(ctx context.Context, i int) error {
		d := im.Manifests[i]
		if !d.MediaType.IsImage() {
			out.Manifests[i] = Manifest{Platform: formatPtr(d.Platform), Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size, Annotations: d.Annotations}
			return nil
		}
		img, err := ii.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("reading %s@%s: %w", ref.Context(), d.Digest, err)
		}
		m, err := describeImage(img, d)
		if err != nil {
			return fmt.Errorf("reading %s@%s: %w", ref.Context(), d.Digest, err)
		}
		out.Manifests[i] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func formatPtr(p *v1.Platform) string {
	if p == nil {
		return ""
	}
	return platform.Format(*p)
}

func describeImage(img v1.Image, d v1.Descriptor) (Manifest, error) {
	m := Manifest{Platform: formatPtr(d.Platform), Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size, Annotations: d.Annotations}
	if IsAttestation(d) {
		m.AttestationFor = d.Annotations[annotationReferenceDigest]
	}
	mf, err := img.Manifest()
	if err != nil {
		return m, err
	}
	m.ImageSize = d.Size + mf.Config.Size
	m.Layers = mf.Layers
	for _, l := range mf.Layers {
		m.ImageSize += l.Size
	}
	if m.Annotations == nil {
		m.Annotations = mf.Annotations
	}
	if m.AttestationFor != "" {
		return m, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return m, err
	}
	if !cf.Created.IsZero() {
		t := cf.Created.Time
		m.Created = &t
	}
	cp := platform.Format(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion})
	if cf.OS != "" && cp != m.Platform {
		m.ConfigPlatform = cp
	}
	return m, nil
}
