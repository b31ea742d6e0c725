// Package index assembles, publishes, inspects, resolves and copies
// multi-arch images (OCI image indexes and Docker manifest lists).
//
// Publish turns per-architecture images into one name:
//
//	res, err := index.Publish(ctx, index.Request{
//		Target:  target,                       // reg/org/agent:v1.4
//		Sources: []index.Source{{Ref: amd64Ref}, {Ref: arm64Ref}},
//	}, remoteOpts...)
//
// Each child's platform comes from its image config; a platform stated in
// the request must agree with it. Children in other repositories or
// registries are made present in the target's repository first (mounted
// within a registry, copied across), since registries refuse an index whose
// children are not in its repository. Nothing is written when a required
// child is missing, and republishing an identical index writes nothing.
package index

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/internal/parallel"
	"github.com/polyarch/polyarch/platform"
)

// Source is one per-architecture image to put in the index.
type Source struct {
	// Ref is the arch-named image, or an index (BuildKit output) whose
	// children are flattened into the new index.
	Ref name.Reference
	// Platform, when set, is what the user says Ref is; it must agree with
	// the image config. For an index source it selects that platform's child.
	Platform *v1.Platform
	// Optional sources may be missing: they are left out and reported.
	Optional bool
	// Annotations go on this child's descriptor.
	Annotations map[string]string
}

// Request says what to publish.
type Request struct {
	// Target is the multi-arch name, e.g. reg/org/agent:v1.4.
	Target name.Reference
	// Tags are extra tags in Target's repository, written after Target.
	Tags []string
	// Sources are the children, in the order the index lists them.
	Sources []Source
	// IgnoreMissing publishes without missing sources instead of failing.
	IgnoreMissing bool
	// MediaType forces the index type: types.OCIImageIndex or
	// types.DockerManifestList. Empty: a Docker manifest list when every
	// child is a Docker schema 2 image and nothing needs OCI (annotations,
	// attestations), an OCI index otherwise.
	MediaType types.MediaType
	// Annotations go on the index itself.
	Annotations map[string]string
	// DropAttestations leaves out attestation manifests of index sources;
	// by default they are kept with their vnd.docker.reference.digest.
	DropAttestations bool
	// DryRun resolves and checks everything, and writes nothing.
	DryRun bool
	// Jobs is how many sources and children are read at once; default
	// client.DefaultJobs. How many blobs move at once is the remote options'
	// (client.Options.Jobs).
	Jobs int
	// Progress, when set, is told how far the blobs copied into the target
	// repository have got, and told Done on every return.
	Progress Progress
}

// Child is one manifest of the published index.
type Child struct {
	Source    string          `json:"source"`
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	Size      int64           `json:"size"`
	Platform  string          `json:"platform"`
	// Attestation is set on attestation manifests: the digest they describe.
	Attestation string `json:"attestationFor,omitempty"`
	// Transfer says how the child reached the target repository: "present"
	// (already there), "mounted" (same registry) or "copied".
	Transfer string `json:"transfer"`
}

// Missing is a source that was not found.
type Missing struct {
	Source   string `json:"source"`
	Platform string `json:"platform,omitempty"`
	Optional bool   `json:"optional"`
	Reason   string `json:"reason"`
}

// Result says what Publish did.
type Result struct {
	Target    string          `json:"target"`
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	Size      int64           `json:"size"`
	// Unchanged is true when Target already was this index: nothing was written.
	Unchanged bool     `json:"unchanged"`
	Tags      []string `json:"tags"`
	Children  []Child  `json:"children"`
	// Missing lists sources left out (optional, or with IgnoreMissing).
	Missing []Missing `json:"missing,omitempty"`
	DryRun  bool      `json:"dryRun,omitempty"`
}

// MissingError is returned when required sources are missing; it lists all of them.
type MissingError struct{ Missing []Missing }

func (e *MissingError) Error() string {
	var parts []string
	for _, m := range e.Missing {
		s := m.Source
		if m.Platform != "" {
			s = m.Platform + " (" + m.Source + ")"
		}
		parts = append(parts, s+": "+m.Reason)
	}
	return fmt.Sprintf("%d required image(s) missing, nothing published: %s", len(e.Missing), strings.Join(parts, "; "))
}

// PlatformError is returned when a stated platform disagrees with the image.
type PlatformError struct {
	Source string
	Stated string
	Config string
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("%s: stated platform %s but its image config says %s", e.Source, e.Stated, e.Config)
}

// Publish assembles the index described by req and writes it, then its
// tags, then reads the tags back: registries have no compare-and-swap, so a
// tag that names another index by then was written by another publisher in
// between, and Publish returns an *InterleaveError naming every tag and what
// it names. ctx wins over any context in opts.
func Publish(ctx context.Context, req Request, opts ...remote.Option) (*Result, error) {
	m := newMeter(req.Progress)
	defer m.end()
	if req.Target == nil {
		return nil, errors.New("publish: no target reference")
	}
	if len(req.Sources) == 0 {
		return nil, fmt.Errorf("publish %s: no source images", req.Target)
	}
	opts = withContext(ctx, opts)
	// One puller and one pusher for the whole publish: each registry is
	// pinged and authenticated once, not once per request.
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return nil, err
	}
	opts = append(opts, remote.Reuse(puller), remote.Reuse(pusher))
	res := &Result{Target: req.Target.String(), DryRun: req.DryRun}

	// Sources are fetched concurrently; results keep the request's order.
	resolved := make([]struct {
		adds []addendum
		miss *Missing
	}, len(req.Sources))
	// The images read keep the context they were read with, and are written
	// after the loop: they are read with ctx, not the loop's.
	err = parallel.ForEach(ctx, len(req.Sources), jobs(req.Jobs), func(_ context.Context, i int) error {
		r := &resolved[i]
		var err error
		r.adds, r.miss, err = resolveSource(req.Sources[i], req.DropAttestations, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	var adds []addendum
	var missing []Missing
	for _, r := range resolved {
		if r.miss != nil {
			missing = append(missing, *r.miss)
			continue
		}
		adds = append(adds, r.adds...)
	}
	var required []Missing
	for _, m := range missing {
		if !m.Optional && !req.IgnoreMissing {
			required = append(required, m)
		}
	}
	if len(required) > 0 {
		return nil, &MissingError{Missing: required}
	}
	res.Missing = missing
	if len(adds) == 0 {
		return nil, fmt.Errorf("publish %s: every source is missing, nothing to publish", req.Target)
	}
	if err := checkDuplicates(adds); err != nil {
		return nil, fmt.Errorf("publish %s: %w", req.Target, err)
	}

	mt, err := chooseMediaType(req, adds)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, mt)
	var ia []mutate.IndexAddendum
	for _, a := range adds {
		add := a.IndexAddendum
		if img, ok := add.Add.(v1.Image); ok {
			add.Add = sourceImage{img, via{meter: m, docker: mt == types.DockerManifestList}}
		}
		ia = append(ia, add)
	}
	idx = mutate.AppendManifests(idx, ia...)
	if len(req.Annotations) > 0 {
		idx = mutate.Annotations(idx, req.Annotations).(v1.ImageIndex)
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", req.Target, err)
	}
	size, _ := idx.Size()
	res.Digest, res.MediaType, res.Size = digest.String(), mt, size

	// What is already in the target repository, to report and to skip.
	targetRepo := req.Target.Context()
	res.Children = make([]Child, len(adds))
	err = parallel.ForEach(ctx, len(adds), jobs(req.Jobs), func(ctx context.Context, i int) error {
		a := adds[i]
		c := a.child
		switch present, err := manifestExists(targetRepo.Digest(c.Digest), withContext(ctx, opts)); {
		case err != nil:
			return fmt.Errorf("checking %s in %s: %w", c.Digest, targetRepo, err)
		case present:
			c.Transfer = "present"
		case a.repo.RegistryStr() == targetRepo.RegistryStr():
			c.Transfer = "mounted"
		default:
			c.Transfer = "copied"
		}
		res.Children[i] = c
		return nil
	})
	if err != nil {
		return nil, err
	}

	tags := []name.Reference{req.Target}
	for _, t := range req.Tags {
		tag, err := name.NewTag(targetRepo.String()+":"+t, name.WeakValidation)
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", t, err)
		}
		tags = append(tags, tag)
	}
	for _, t := range tags[1:] {
		res.Tags = append(res.Tags, t.String())
	}

	current, err := currentDigests(tags, opts)
	if err != nil {
		return nil, err
	}
	res.Unchanged = true
	for _, d := range current {
		if d != digest.String() {
			res.Unchanged = false
		}
	}
	if req.DryRun || res.Unchanged {
		return res, nil
	}

	// The index and its children first; the tags last, so a tag never names
	// an index whose children are not all there.
	if current[0] != digest.String() {
		if err := remote.WriteIndex(req.Target, idx, opts...); err != nil {
			return nil, fmt.Errorf("pushing index %s: %w", req.Target, err)
		}
	}
	for i, t := range tags[1:] {
		if current[i+1] == digest.String() {
			continue
		}
		if err := remote.Tag(t.(name.Tag), idx, opts...); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", t, err)
		}
	}
	if err := checkTags(tags, digest.String(), opts); err != nil {
		return nil, err
	}
	return res, nil
}

// addendum is one child with where it comes from.
type addendum struct {
	mutate.IndexAddendum
	child Child
	repo  name.Repository
}

// resolveSource fetches one source and returns its children, or why it is missing.
func resolveSource(src Source, dropAttestations bool, opts []remote.Option) ([]addendum, *Missing, error) {
	stated := ""
	if src.Platform != nil {
		stated = platform.Format(*src.Platform)
	}
	desc, err := remote.Get(src.Ref, opts...)
	if err != nil {
		if client.IsNotFound(err) {
			return nil, &Missing{Source: src.Ref.String(), Platform: stated, Optional: src.Optional, Reason: "not found"}, nil
		}
		return nil, nil, fmt.Errorf("fetching %s: %w", src.Ref, err)
	}
	if desc.MediaType.IsIndex() {
		return flatten(src, desc, dropAttestations, opts)
	}
	if !desc.MediaType.IsImage() {
		return nil, nil, fmt.Errorf("%s: %s is neither an image nor an index", src.Ref, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", src.Ref, err)
	}
	p, err := imagePlatform(src.Ref.String(), img, src.Platform)
	if err != nil {
		return nil, nil, err
	}
	// go-containerregistry copies a child's manifest annotations to its
	// descriptor; stated annotations add to them rather than replace them.
	var ann map[string]string
	if len(src.Annotations) > 0 {
		m, err := img.Manifest()
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", src.Ref, err)
		}
		ann = merge(m.Annotations, src.Annotations)
	}
	return []addendum{{
		IndexAddendum: mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p, Annotations: ann}},
		child:         Child{Source: src.Ref.String(), Digest: desc.Digest.String(), MediaType: desc.MediaType, Size: desc.Size, Platform: platform.Format(p)},
		repo:          src.Ref.Context(),
	}}, nil, nil
}

// imagePlatform reads an image's platform from its config and checks it
// against the stated one.
func imagePlatform(ref string, img v1.Image, stated *v1.Platform) (v1.Platform, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Platform{}, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	raw := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion, OSFeatures: cf.OSFeatures}
	if raw.OS == "" || raw.Architecture == "" {
		if stated == nil {
			return v1.Platform{}, fmt.Errorf("%s: its image config names no os/architecture; state the platform", ref)
		}
		return *stated, nil
	}
	if platform.Normalize(raw).Architecture == "arm" && raw.Variant == "" {
		// "arm" alone would silently become arm/v7: only the user can say.
		if stated == nil || stated.Architecture != "arm" {
			return v1.Platform{}, fmt.Errorf("%s: its image config says linux/arm without a variant (v6 or v7?); state the platform, e.g. linux/arm/v7", ref)
		}
		return *stated, nil
	}
	got := platform.Normalize(raw)
	if stated != nil {
		if !platform.Same(*stated, got) {
			return v1.Platform{}, &PlatformError{Source: ref, Stated: platform.Format(*stated), Config: platform.Format(raw)}
		}
		got.Features = stated.Features
		if len(stated.OSFeatures) > 0 {
			got.OSFeatures = stated.OSFeatures
		}
		if stated.OSVersion != "" {
			got.OSVersion = stated.OSVersion
		}
	}
	return got, nil
}

// Attestation manifests in BuildKit output.
const (
	annotationReferenceType   = "vnd.docker.reference.type"
	annotationReferenceDigest = "vnd.docker.reference.digest"
	attestationManifest       = "attestation-manifest"
)

// IsAttestation reports whether an index entry is an attestation manifest
// (BuildKit's provenance and SBOMs) rather than a platform's image: it is
// marked as one, or its platform is unknown/unknown. Publish, inspect,
// resolve, verify and the image tests all skip or carry them by this rule.
func IsAttestation(d v1.Descriptor) bool {
	if d.Annotations[annotationReferenceType] == attestationManifest {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

// flatten takes the children of an index source (one platform's when the
// source states one), with their attestations.
func flatten(src Source, desc *remote.Descriptor, dropAttestations bool, opts []remote.Option) ([]addendum, *Missing, error) {
	ii, im, err := readIndex(src.Ref, desc)
	if err != nil {
		return nil, nil, err
	}
	var out []addendum
	kept := map[string]bool{}
	for _, d := range im.Manifests {
		if IsAttestation(d) {
			continue
		}
		if !d.MediaType.IsImage() {
			return nil, nil, fmt.Errorf("%s: child %s is %s; nested indexes are not flattened further", src.Ref, d.Digest, d.MediaType)
		}
		img, err := ii.Image(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s@%s: %w", src.Ref.Context(), d.Digest, err)
		}
		childRef := src.Ref.Context().Digest(d.Digest.String()).String()
		if src.Platform != nil && d.Platform != nil && !platform.Same(*src.Platform, *d.Platform) {
			continue
		}
		p, err := imagePlatform(childRef, img, src.Platform)
		if err != nil {
			return nil, nil, err
		}
		if d.Platform != nil && !platform.Same(*d.Platform, p) {
			return nil, nil, fmt.Errorf("%s: its index says %s but its image config says %s", childRef, platform.Format(*d.Platform), platform.Format(p))
		}
		ann := merge(d.Annotations, src.Annotations)
		out = append(out, addendum{
			IndexAddendum: mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p, Annotations: ann}},
			child:         Child{Source: childRef, Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size, Platform: platform.Format(p)},
			repo:          src.Ref.Context(),
		})
		kept[d.Digest.String()] = true
	}
	if len(out) == 0 {
		stated := ""
		if src.Platform != nil {
			stated = platform.Format(*src.Platform)
		}
		return nil, &Missing{Source: src.Ref.String(), Platform: stated, Optional: src.Optional, Reason: "index has no manifest for this platform"}, nil
	}
	if dropAttestations {
		return out, nil, nil
	}
	for _, d := range im.Manifests {
		if !IsAttestation(d) || !kept[d.Annotations[annotationReferenceDigest]] {
			continue
		}
		img, err := ii.Image(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("reading attestation %s@%s: %w", src.Ref.Context(), d.Digest, err)
		}
		p := v1.Platform{OS: "unknown", Architecture: "unknown"}
		out = append(out, addendum{
			IndexAddendum: mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p, Annotations: d.Annotations}},
			child: Child{Source: src.Ref.Context().Digest(d.Digest.String()).String(), Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size,
				Platform: "unknown/unknown", Attestation: d.Annotations[annotationReferenceDigest]},
			repo: src.Ref.Context(),
		})
	}
	return out, nil, nil
}

func merge(a, b map[string]string) map[string]string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// checkDuplicates refuses two children for one platform.
func checkDuplicates(adds []addendum) error {
	seen := map[string]string{}
	for _, a := range adds {
		if a.child.Attestation != "" {
			continue
		}
		if first, dup := seen[a.child.Platform]; dup {
			return fmt.Errorf("two images for %s: %s and %s", a.child.Platform, first, a.child.Source)
		}
		seen[a.child.Platform] = a.child.Source
	}
	return nil
}

func chooseMediaType(req Request, adds []addendum) (types.MediaType, error) {
	switch req.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		return req.MediaType, nil
	case "":
	default:
		return "", fmt.Errorf("index type %q: want %s or %s", req.MediaType, types.OCIImageIndex, types.DockerManifestList)
	}
	if len(req.Annotations) > 0 {
		return types.OCIImageIndex, nil
	}
	for _, a := range adds {
		if a.child.MediaType != types.DockerManifestSchema2 || len(a.Descriptor.Annotations) > 0 {
			return types.OCIImageIndex, nil
		}
	}
	return types.DockerManifestList, nil
}

// currentDigests returns what each tag points to now ("" where nothing).
func currentDigests(tags []name.Reference, opts []remote.Option) ([]string, error) {
	out := make([]string, len(tags))
	for i, t := range tags {
		d, err := remote.Head(t, opts...)
		if err != nil {
			if client.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("checking %s: %w", t, err)
		}
		out[i] = d.Digest.String()
	}
	return out, nil
}

func manifestExists(ref name.Reference, opts []remote.Option) (bool, error) {
	_, err := remote.Head(ref, opts...)
	if err == nil {
		return true, nil
	}
	if client.IsNotFound(err) {
		return false, nil
	}
	return false, err
}
