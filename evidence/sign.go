package evidence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/in-toto/in-toto-golang/in_toto"
	"golang.org/x/sync/errgroup"

	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/sign"
)

// Options say how Sign signs and what it attaches.
type Options struct {
	// Signer signs, in its format (required).
	Signer *sign.Signer
	// Remote reaches the registry for reads (client.Options.Remote gives
	// polyarch's); Sign's ctx replaces any context among them.
	Remote []remote.Option
	// NoEvidence signs only: no SBOM, no provenance.
	NoEvidence bool
	// Build says how the child with this platform and digest was made; nil,
	// or a nil result, leaves what its annotations say.
	Build func(p v1.Platform, digest v1.Hash) *Build
	// Jobs bounds how many children are handled at once. Default 4.
	Jobs int
	// Polyarch names the tool in SBOMs and provenance. Default "polyarch".
	Polyarch string
	// OnChild, when set, is called as each child is done.
	OnChild func(Child)
	// Layers, when set, keeps what SBOMs found in each layer across Sign
	// calls: give one to every Sign of a release, so that a layer its images
	// share is read once. Nil: a cache for this call.
	Layers *LayerCache
}

// DefaultJobs is Options.Jobs' default.
const DefaultJobs = 4

// Result is what Sign did with an index (or an image) and its children.
type Result struct {
	Reference string       `json:"reference"`
	Digest    v1.Hash      `json:"digest"`
	MediaType string       `json:"mediaType"`
	Signature sign.Outcome `json:"signature"`
	// Format is where the signatures and attestations are.
	Format sign.Format `json:"format"`
	// Children are the index's platforms in index order; empty for an image.
	Children []Child `json:"children,omitempty"`
	// Duration is how long Sign took.
	Duration time.Duration `json:"duration"`
}

// Written counts the signatures and attestations Sign wrote: 0 when the
// key had signed and attached everything already.
func (r *Result) Written() int {
	n := 0
	count := func(o *sign.Outcome) {
		if o != nil && *o == sign.Written {
			n++
		}
	}
	if len(r.Children) != 1 || r.Children[0].Digest != r.Digest {
		count(&r.Signature) // an index's own signature; an image's is its child's
	}
	for i := range r.Children {
		c := &r.Children[i]
		count(&c.Signature)
		count(c.SBOM)
		count(c.Provenance)
	}
	return n
}

// Child is what Sign did with one platform's image.
type Child struct {
	Platform  string       `json:"platform"`
	Digest    v1.Hash      `json:"digest"`
	Signature sign.Outcome `json:"signature"`
	// SBOM and Provenance are nil with NoEvidence.
	SBOM       *sign.Outcome `json:"sbom,omitempty"`
	Provenance *sign.Outcome `json:"provenance,omitempty"`
	// BuildKitProvenance counts BuildKit's own provenance statements
	// attached (signed) beside polyarch's.
	BuildKitProvenance int `json:"buildkitProvenance,omitempty"`
	// Files and Packages are what the SBOM lists.
	Files    int `json:"files,omitempty"`
	Packages int `json:"packages,omitempty"`
}

// Sign signs every child of the index ref names, attaches to each its SBOM
// and its provenance statement (both signed, in the signer's format), and
// only then signs the index; a single image is handled as one child. Run
// it after the index is published: what it signs is what the registry
// holds now, by digest. It is idempotent: a rerun over the same index
// writes nothing.
func Sign(ctx context.Context, ref name.Reference, o Options) (*Result, error) {
	if o.Signer == nil {
		return nil, errors.New("evidence.Sign: no signer")
	}
	start := time.Now()
	if o.Jobs < 1 {
		o.Jobs = DefaultJobs
	}
	if o.Polyarch == "" {
		o.Polyarch = "polyarch"
	}
	if o.Layers == nil {
		o.Layers = &LayerCache{}
	}
	// One puller and one pusher for every request: each repository is
	// pinged and authorised once, not once per signature and attestation.
	puller, err := remote.NewPuller(o.Remote...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(o.Remote...)
	if err != nil {
		return nil, err
	}
	reuse := []remote.Option{remote.Reuse(puller), remote.Reuse(pusher)}
	o.Remote = append(slices.Clone(o.Remote), reuse...)
	o.Signer = o.Signer.With(sign.WithRemote(reuse...))
	ropts := append(slices.Clone(o.Remote), remote.WithContext(ctx))
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	repo := ref.Context()
	res := &Result{Reference: ref.String(), Digest: desc.Digest, MediaType: string(desc.MediaType), Format: o.Signer.Format()}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w", ref, err)
		}
		var children []v1.Descriptor
		for _, d := range im.Manifests {
			if d.Platform == nil || d.Annotations[annotationReferenceType] == attestationManifest || !d.MediaType.IsImage() {
				continue
			}
			children = append(children, d)
		}
		res.Children = make([]Child, len(children))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(o.Jobs)
		for i, d := range children {
			g.Go(func() error {
				img, err := idx.Image(d.Digest)
				if err != nil {
					return fmt.Errorf("reading %s (%s): %w", repo.Digest(d.Digest.String()), platform.Format(*d.Platform), err)
				}
				c, err := o.child(gctx, repo, img, idx, d, *d.Platform)
				if err != nil {
					return err
				}
				res.Children[i] = *c
				if o.OnChild != nil {
					o.OnChild(*c)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	case desc.MediaType.IsImage():
		// A single image is its own one child; its signature is the result's.
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w", ref, err)
		}
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		c, err := o.child(ctx, repo, img, nil, desc.Descriptor, p)
		if err != nil {
			return nil, err
		}
		res.Children, res.Signature = []Child{*c}, c.Signature
		res.Duration = time.Since(start)
		return res, nil
	default:
		return nil, fmt.Errorf("signing %s: media type %s is neither an index nor an image", ref, desc.MediaType)
	}
	res.Signature, err = o.Signer.Sign(ctx, repo, desc.Descriptor)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// child signs one platform's image and attaches its evidence.
func (o Options) child(ctx context.Context, repo name.Repository, img v1.Image, idx v1.ImageIndex, d v1.Descriptor, p v1.Platform) (*Child, error) {
	c := &Child{Platform: platform.Format(p), Digest: d.Digest}
	ref := repo.Digest(d.Digest.String())
	if !o.NoEvidence {
		c2, err := o.attest(ctx, repo, img, d, p, idx)
		if err != nil {
			return nil, err
		}
		c.SBOM, c.Provenance, c.BuildKitProvenance, c.Files, c.Packages = c2.SBOM, c2.Provenance, c2.BuildKitProvenance, c2.Files, c2.Packages
	}
	var err error
	c.Signature, err = o.Signer.Sign(ctx, repo, d)
	if err != nil {
		return nil, fmt.Errorf("signing %s (%s): %w", ref, c.Platform, err)
	}
	return c, nil
}

// attest attaches an image's SBOM, BuildKit's provenance (when idx holds
// it) and polyarch's provenance.
func (o Options) attest(ctx context.Context, repo name.Repository, img v1.Image, d v1.Descriptor, p v1.Platform, idx v1.ImageIndex) (*Child, error) {
	c := &Child{Platform: platform.Format(p), Digest: d.Digest}
	ref := repo.Digest(d.Digest.String())
	s := Subject{Repository: repo, Digest: d.Digest, Platform: p}
	tool := "polyarch-" + o.Polyarch
	sbom, err := o.signedSBOM(ctx, repo, d, tool)
	if err != nil {
		return nil, fmt.Errorf("reading the attestations of %s (%s): %w", ref, c.Platform, err)
	}
	if sbom != nil {
		c.Files, c.Packages = sbom.summary.Files, sbom.summary.Packages
	} else {
		doc, err := o.Layers.SBOM(ctx, img, s, tool)
		if err != nil {
			return nil, err
		}
		c.Files, c.Packages = len(doc.Files), len(doc.Packages)-1
		sbom = &signedSBOM{statement: sign.Statement(d.Digest, SBOMPredicateType, doc)}
	}
	sts := []*in_toto.Statement{sbom.statement}

	var byproducts []v1.Descriptor
	if idx != nil {
		bk, err := buildkitProvenance(idx, d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading BuildKit's provenance of %s (%s): %w", ref, c.Platform, err)
		}
		for _, b := range bk {
			byproducts = append(byproducts, b.desc)
			if b.statement.PredicateType == ProvenancePredicateType {
				continue // polyarch's own takes that predicate type; this one is named in it
			}
			sts = append(sts, b.statement)
			c.BuildKitProvenance++
		}
	}
	sts = append(sts, Provenance(s, o.build(img, d, p), byproducts))
	// One write of the child's attestations (in the tag format).
	outs, err := o.Signer.AttestAll(ctx, repo, d, sts...)
	if err != nil {
		return nil, fmt.Errorf("attaching the SBOM and provenance of %s (%s): %w", ref, c.Platform, err)
	}
	c.SBOM, c.Provenance = &outs[0], &outs[len(outs)-1]
	return c, nil
}

// signedSBOM is an SBOM statement the signer's key signed before.
type signedSBOM struct {
	statement *in_toto.Statement
	summary   *SBOMSummary
}

// signedSBOM returns the SBOM this key signed for d before, when the same
// tool (polyarch's version) made it: an image is immutable by digest and
// its SBOM a function of the image and the tool, so that one is current and
// its layers need not be read again. Nil when there is none to keep.
func (o Options) signedSBOM(ctx context.Context, repo name.Repository, d v1.Descriptor, tool string) (*signedSBOM, error) {
	pred, err := o.Signer.Attested(ctx, repo, d, SBOMPredicateType)
	if err != nil || pred == nil {
		return nil, err
	}
	sum, err := ReadSBOM(pred)
	if err != nil || sum.Tool != tool || sum.Digest != d.Digest {
		return nil, nil // another tool's or version's, or not about d: made again
	}
	return &signedSBOM{statement: sign.Statement(d.Digest, SBOMPredicateType, pred), summary: sum}, nil
}

// OCI annotations (and labels) that name where an image came from.
const (
	annotationRevision = "org.opencontainers.image.revision"
	annotationSource   = "org.opencontainers.image.source"
	annotationVersion  = "org.opencontainers.image.version"
)

// build is what is known of how a child was made: the caller's Build, else
// what its manifest annotations or config labels say.
func (o Options) build(img v1.Image, d v1.Descriptor, p v1.Platform) Build {
	if o.Build != nil {
		if b := o.Build(p, d.Digest); b != nil {
			out := *b
			if out.Polyarch == "" {
				out.Polyarch = o.Polyarch
			}
			return out
		}
	}
	b := Build{Polyarch: o.Polyarch}
	labels := map[string]string{}
	if cf, err := img.ConfigFile(); err == nil {
		labels = cf.Config.Labels
	}
	ann := map[string]string{}
	if m, err := img.Manifest(); err == nil && m.MediaType != types.DockerManifestSchema2 {
		ann = m.Annotations
	}
	get := func(k string) string {
		if v := ann[k]; v != "" {
			return v
		}
		return labels[k]
	}
	b.Commit, b.Source, b.Version = get(annotationRevision), get(annotationSource), get(annotationVersion)
	return b
}
