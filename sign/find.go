package sign

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Evidence is what is attached to one manifest, in either format, each
// signature and attestation checked against a set of keys.
type Evidence struct {
	Signatures   []Signature
	Attestations []Attestation
}

// Signature is one signature found beside a manifest.
type Signature struct {
	Format Format
	// Where is the .sig tag or the referrer it was read from.
	Where string
	// Digest is the manifest its payload says was signed.
	Digest v1.Hash
	// Key is the key that verifies it; nil when none of the keys does.
	Key *PublicKey
}

// Attestation is one attestation found beside a manifest.
type Attestation struct {
	Format Format
	// Where is the .att tag or the referrer it was read from.
	Where         string
	PredicateType string
	// Subjects are the digests its statement is about.
	Subjects []v1.Hash
	// Predicate is the statement's predicate, as JSON.
	Predicate json.RawMessage
	// Key is the key that verifies it; nil when none of the keys does.
	Key *PublicKey
	// Created is when a referrer says it was written; zero for tags.
	Created time.Time
}

// About reports whether the attestation's statement names digest.
func (a *Attestation) About(digest v1.Hash) bool {
	for _, s := range a.Subjects {
		if s == digest {
			return true
		}
	}
	return false
}

// Signed returns a signature of digest that one of the keys verifies, or nil.
func (e *Evidence) Signed(digest v1.Hash) *Signature {
	for i, s := range e.Signatures {
		if s.Key != nil && s.Digest == digest {
			return &e.Signatures[i]
		}
	}
	return nil
}

// Attested returns the attestation of predicateType to judge a manifest
// by: the newest one a key verifies (the last layer of a .att image, or the
// newest referrer), else the newest of any; nil when there is none.
func (e *Evidence) Attested(predicateType string) *Attestation {
	var best *Attestation
	for i := range e.Attestations {
		a := &e.Attestations[i]
		if a.PredicateType != predicateType {
			continue
		}
		switch {
		case best == nil, a.Key != nil && best.Key == nil:
			best = a
		case (a.Key != nil) == (best.Key != nil) && !a.Created.Before(best.Created):
			best = a
		}
	}
	return best
}

// Find reads what is attached to ref in both formats: its sha256-<hex>.sig
// and .att tags and its referrers holding sigstore bundles. Signatures and
// attestations that none of keys verifies are listed with a nil Key;
// unreadable ones are skipped. err is the registry's failure.
func Find(ctx context.Context, ref name.Digest, keys []*PublicKey, opts ...remote.Option) (*Evidence, error) {
	opts = withContext(ctx, opts)
	digest, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	repo := ref.Context()
	ev := &Evidence{}

	sigTag := tagFor(repo, digest, "sig")
	sigs, err := readAttached(sigTag, opts)
	if err != nil {
		return nil, err
	}
	for _, a := range sigs {
		if a.mediaType != SimpleSigningMediaType {
			continue
		}
		d, err := signedDigest(a.payload)
		if err != nil {
			continue
		}
		ev.Signatures = append(ev.Signatures, Signature{Format: TagFormat, Where: sigTag.String(), Digest: d,
			Key: verifySimple(a.payload, a.annotations[annotationSignature], keys)})
	}

	atts, err := tagAttestations(repo, digest, keys, opts)
	if err != nil {
		return nil, err
	}
	ev.Attestations = append(ev.Attestations, atts...)

	sigs2, atts, err := referrerEvidence(ref, keys, opts)
	if err != nil {
		return nil, err
	}
	ev.Signatures = append(ev.Signatures, sigs2...)
	ev.Attestations = append(ev.Attestations, atts...)
	return ev, nil
}

// tagAttestations reads the attestations of digest's sha256-<hex>.att image.
func tagAttestations(repo name.Repository, digest v1.Hash, keys []*PublicKey, opts []remote.Option) ([]Attestation, error) {
	attTag := tagFor(repo, digest, "att")
	atts, err := readAttached(attTag, opts)
	if err != nil {
		return nil, err
	}
	var out []Attestation
	for _, a := range atts {
		if a.mediaType != DSSEMediaType {
			continue
		}
		var env dsse.Envelope
		if json.Unmarshal(a.payload, &env) != nil {
			continue
		}
		if at, ok := attestation(&env, keys); ok {
			at.Format, at.Where = TagFormat, attTag.String()
			out = append(out, at)
		}
	}
	return out, nil
}

// referrerEvidence reads the signatures and attestations of ref's
// referrers that hold sigstore bundles.
func referrerEvidence(ref name.Digest, keys []*PublicKey, opts []remote.Option) ([]Signature, []Attestation, error) {
	bundles, err := bundleReferrers(ref, opts)
	if err != nil {
		return nil, nil, err
	}
	var sigs []Signature
	var atts []Attestation
	for _, b := range bundles {
		env, err := bundleEnvelope(b.raw)
		if err != nil {
			continue
		}
		at, ok := attestation(env, keys)
		if !ok {
			continue
		}
		where := ref.Context().Digest(b.desc.Digest.String()).String()
		if at.PredicateType == CosignSignPredicateType {
			for _, d := range at.Subjects {
				sigs = append(sigs, Signature{Format: ReferrersFormat, Where: where, Digest: d, Key: at.Key})
			}
			continue
		}
		at.Format, at.Where = ReferrersFormat, where
		at.Created, _ = time.Parse(time.RFC3339, b.desc.Annotations[annotationCreated])
		atts = append(atts, at)
	}
	return sigs, atts, nil
}

// attestation decodes and checks one envelope.
func attestation(env *dsse.Envelope, keys []*PublicKey) (Attestation, bool) {
	st, body, key, err := openEnvelope(env, keys)
	if err != nil {
		return Attestation{}, false
	}
	var raw struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	_ = json.Unmarshal(body, &raw)
	return Attestation{PredicateType: st.PredicateType, Subjects: subjects(st), Predicate: raw.Predicate, Key: key}, true
}
