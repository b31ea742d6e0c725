package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/sign"
)

// Signatures checks, recursively, that an index and every platform of it
// carry what polyarch's release attaches, each verified with one of keys:
// the index's signature; each child's signature, its SBOM (an SPDX document
// describing that child's digest and platform) and its provenance (SLSA,
// about that child's digest and platform). Both of cosign's formats are
// read (sha256-<hex>.sig/.att tags and sigstore-bundle referrers).
// Attestation manifests (unknown/unknown) are skipped. A single image is
// checked as one child.
//
// As with Verify, err is non-nil only when ref could not be checked; what
// is missing or wrong is in the report, and SignatureReport.Err turns it
// into an error naming each platform.
func Signatures(ctx context.Context, ref name.Reference, keys []*sign.PublicKey, opts ...Option) (*SignatureReport, error) {
	if len(keys) == 0 {
		return nil, errors.New("verifying signatures: no public key")
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	ropts := append(slices.Clone(o.remote), remote.WithContext(ctx))
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("verifying the signatures of %s: %w", ref, err)
	}
	rep := &SignatureReport{Reference: ref.String(), Digest: desc.Digest, MediaType: desc.MediaType}
	for _, k := range keys {
		rep.Keys = append(rep.Keys, k.ID())
	}
	repo := ref.Context()
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("verifying the signatures of %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("verifying the signatures of %s: %w", ref, err)
		}
		for _, d := range im.Manifests {
			if index.IsAttestation(d) {
				continue
			}
			c := ChildEvidence{Digest: d.Digest, expect: d.Platform}
			if d.Platform != nil {
				c.Platform = platform.Format(*d.Platform)
			}
			rep.Children = append(rep.Children, c)
		}
		rep.Index = &IndexEvidence{}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("verifying the signatures of %s: %w", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("verifying the signatures of %s: %w", ref, err)
		}
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		rep.Children = []ChildEvidence{{Platform: platform.Format(p), Digest: desc.Digest, expect: &p}}
	default:
		return nil, fmt.Errorf("verifying the signatures of %s: %s is a %s, not an image index or image", ref, desc.Digest, desc.MediaType)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency)
	if rep.Index != nil {
		g.Go(func() error {
			ev, err := sign.Find(gctx, repo.Digest(desc.Digest.String()), keys, o.remote...)
			if err != nil {
				return fmt.Errorf("verifying the signatures of %s: %w", ref, err)
			}
			rep.Index.Signature = signatureCheck(ev, desc.Digest)
			return nil
		})
	}
	for i := range rep.Children {
		c := &rep.Children[i]
		g.Go(func() error {
			ev, err := sign.Find(gctx, repo.Digest(c.Digest.String()), keys, o.remote...)
			if err != nil {
				return fmt.Errorf("verifying the signatures of %s (%s): %w", ref, c.label(), err)
			}
			c.Signature = signatureCheck(ev, c.Digest)
			c.SBOM = sbomCheck(ev, c.Digest, c.expect)
			c.Provenance = provenanceCheck(ev, c.Digest, c.expect)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rep, nil
}

// SignatureReport is what Signatures found.
type SignatureReport struct {
	Reference string          `json:"reference"`
	Digest    v1.Hash         `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	// Keys are the IDs of the keys signatures were checked against.
	Keys []string `json:"keys"`
	// Index is the index's own signature; nil for a single image.
	Index *IndexEvidence `json:"index,omitempty"`
	// Children are the platforms, in index order.
	Children []ChildEvidence `json:"children"`
}

// IndexEvidence is an index's own evidence: its signature.
type IndexEvidence struct {
	Signature Check `json:"signature"`
}

// ChildEvidence is one platform's evidence.
type ChildEvidence struct {
	Platform   string  `json:"platform"`
	Digest     v1.Hash `json:"digest"`
	Signature  Check   `json:"signature"`
	SBOM       Check   `json:"sbom"`
	Provenance Check   `json:"provenance"`

	expect *v1.Platform
}

func (c *ChildEvidence) label() string {
	if c.Platform == "" {
		return "no platform"
	}
	return c.Platform
}

// Check is one piece of evidence, found good or not.
type Check struct {
	OK bool `json:"ok"`
	// Detail says what was found ("key 3f2a…", "3 files, 1 package") or,
	// when not OK, what is missing or wrong ("not signed", "signed by
	// another key", "about sha256:… (another image)").
	Detail string `json:"detail"`
	// Where is the tag or referrer that holds it.
	Where string `json:"where,omitempty"`
}

func bad(format string, args ...any) Check { return Check{Detail: fmt.Sprintf(format, args...)} }

func signatureCheck(ev *sign.Evidence, digest v1.Hash) Check {
	if s := ev.Signed(digest); s != nil {
		return Check{OK: true, Detail: "key " + s.Key.ID(), Where: s.Where}
	}
	for _, s := range ev.Signatures {
		if s.Digest == digest {
			return Check{Detail: "signed by another key", Where: s.Where}
		}
	}
	if len(ev.Signatures) > 0 {
		s := ev.Signatures[0]
		return Check{Detail: fmt.Sprintf("not signed: the signature beside it is of %s (another manifest)", s.Digest), Where: s.Where}
	}
	return bad("not signed")
}

// attestationCheck is what SBOM and provenance checks share: present,
// verified by a key, and about this digest.
func attestationCheck(ev *sign.Evidence, predicateType, what string, digest v1.Hash) (*sign.Attestation, Check) {
	a := ev.Attested(predicateType)
	switch {
	case a == nil:
		return nil, bad("no %s", what)
	case a.Key == nil:
		return nil, Check{Detail: what + " not signed by the key", Where: a.Where}
	case !a.About(digest):
		return nil, Check{Detail: fmt.Sprintf("%s about %s (another image)", what, subjectsOf(a)), Where: a.Where}
	}
	return a, Check{OK: true, Where: a.Where}
}

func subjectsOf(a *sign.Attestation) string {
	var s []string
	for _, d := range a.Subjects {
		s = append(s, d.String())
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// samePlatform compares a platform an attestation names with the child's.
func samePlatform(got string, want *v1.Platform) bool {
	if want == nil {
		return true
	}
	p, err := platform.Parse(got)
	return err == nil && platform.Same(p, *want)
}

func sbomCheck(ev *sign.Evidence, digest v1.Hash, want *v1.Platform) Check {
	a, c := attestationCheck(ev, evidence.SBOMPredicateType, "SBOM", digest)
	if a == nil {
		return c
	}
	s, err := evidence.ReadSBOM(a.Predicate)
	switch {
	case err != nil:
		return Check{Detail: err.Error(), Where: a.Where}
	case s.Digest != digest:
		return Check{Detail: fmt.Sprintf("SBOM describes %s (another image)", s.Digest), Where: a.Where}
	case s.Platform != "" && !samePlatform(s.Platform, want):
		return Check{Detail: fmt.Sprintf("SBOM describes platform %s", s.Platform), Where: a.Where}
	}
	c.Detail = fmt.Sprintf("%s, %s", plural(s.Files, "file"), plural(s.Packages, "package"))
	return c
}

func provenanceCheck(ev *sign.Evidence, digest v1.Hash, want *v1.Platform) Check {
	a, c := attestationCheck(ev, evidence.ProvenancePredicateType, "provenance", digest)
	if a == nil {
		return c
	}
	s, err := evidence.ReadProvenance(a.Predicate)
	if err != nil {
		// Another builder's SLSA provenance: signed and about this image.
		c.Detail = "SLSA provenance (" + err.Error() + ")"
		return c
	}
	if s.Platform != "" && !samePlatform(s.Platform, want) {
		return Check{Detail: fmt.Sprintf("provenance of platform %s", s.Platform), Where: a.Where}
	}
	var parts []string
	if s.Node != "" {
		parts = append(parts, strings.TrimSpace(s.Execution+" on "+s.Node))
	}
	if s.Commit != "" {
		parts = append(parts, "commit "+short(s.Commit, 12))
	}
	if s.Tested != nil {
		parts = append(parts, map[bool]string{true: "tests passed", false: "tests failed"}[*s.Tested])
	}
	if len(parts) == 0 {
		parts = append(parts, "signed after the build")
	}
	c.Detail = strings.Join(parts, ", ")
	return c
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Problems lists what is missing or wrong, one line each, naming the
// platform: "linux/arm64: SBOM: no SBOM".
func (r *SignatureReport) Problems() []string {
	var out []string
	if r.Index != nil && !r.Index.Signature.OK {
		out = append(out, "index: signature: "+r.Index.Signature.Detail)
	}
	for _, c := range r.Children {
		for _, x := range []struct {
			name string
			c    Check
		}{{"signature", c.Signature}, {"SBOM", c.SBOM}, {"provenance", c.Provenance}} {
			if !x.c.OK {
				out = append(out, fmt.Sprintf("%s: %s: %s", c.label(), x.name, x.c.Detail))
			}
		}
	}
	return out
}

// ErrMissingEvidence is what SignatureReport.Err wraps: a signature, SBOM
// or provenance is missing, unsigned, or about another image.
var ErrMissingEvidence = errors.New("missing or invalid signatures or attestations")

type evidenceError struct {
	ref      string
	problems []string
}

func (e *evidenceError) Error() string {
	return fmt.Sprintf("%s: %s", e.ref, strings.Join(e.problems, "; "))
}
func (e *evidenceError) Unwrap() error { return ErrMissingEvidence }

// Err is nil when everything is there and verified, else an error naming
// each problem and its platform, wrapping ErrMissingEvidence.
func (r *SignatureReport) Err() error {
	p := r.Problems()
	if len(p) == 0 {
		return nil
	}
	return &evidenceError{ref: r.Reference, problems: p}
}

// WriteText writes the index's signature, a table of the platforms, and a
// summary line.
func (r *SignatureReport) WriteText(w io.Writer) error {
	cell := func(c Check) string {
		if c.OK {
			return "ok: " + c.Detail
		}
		return "MISSING: " + c.Detail
	}
	if r.Index != nil {
		if _, err := fmt.Fprintf(w, "index %s: signature %s\n", r.Digest, cell(r.Index.Signature)); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tDIGEST\tSIGNATURE\tSBOM\tPROVENANCE")
	for _, c := range r.Children {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.label(), short(c.Digest.String(), 19), cell(c.Signature), cell(c.SBOM), cell(c.Provenance))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	what := plural(len(r.Children), "platform")
	if r.Index != nil {
		what = "an index and " + what
	}
	_, err := fmt.Fprintf(w, "verified the signatures of %s with %s: %s\n", what, plural(len(r.Keys), "key"), plural(len(r.Problems()), "problem"))
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *SignatureReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
