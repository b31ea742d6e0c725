package sign

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Sign signs the manifest subject describes (an image or an index) in repo,
// in the signer's format. It writes nothing when the key has already signed
// it there (in that format).
func (s *Signer) Sign(ctx context.Context, repo name.Repository, subject v1.Descriptor) (Outcome, error) {
	switch s.format {
	case TagFormat:
		return s.signTag(ctx, repo, subject)
	case ReferrersFormat:
		return s.attestReferrers(ctx, repo, subject, Statement(subject.Digest, CosignSignPredicateType, nil))
	}
	return 0, fmt.Errorf("signature format %v", s.format)
}

// Attest attaches st, signed, to the manifest subject describes. st must be
// about subject's digest. It replaces the signer's earlier attestation of
// the same predicate type, and writes nothing when that one is st.
func (s *Signer) Attest(ctx context.Context, repo name.Repository, subject v1.Descriptor, st *in_toto.Statement) (Outcome, error) {
	outs, err := s.AttestAll(ctx, repo, subject, st)
	if err != nil {
		return 0, err
	}
	return outs[0], nil
}

// AttestAll is Attest of several statements, one outcome each; in
// TagFormat they are written in one update of the .att image.
func (s *Signer) AttestAll(ctx context.Context, repo name.Repository, subject v1.Descriptor, sts ...*in_toto.Statement) ([]Outcome, error) {
	for _, st := range sts {
		about := false
		for _, d := range subjects(st) {
			about = about || d == subject.Digest
		}
		if !about {
			return nil, fmt.Errorf("attesting %s: the %s statement is about %v, not this manifest", repo.Digest(subject.Digest.String()), st.PredicateType, subjects(st))
		}
	}
	switch s.format {
	case TagFormat:
		return s.attestTag(ctx, repo, subject, sts)
	case ReferrersFormat:
		outs := make([]Outcome, len(sts))
		for i, st := range sts {
			o, err := s.attestReferrers(ctx, repo, subject, st)
			if err != nil {
				return nil, err
			}
			outs[i] = o
		}
		return outs, nil
	}
	return nil, fmt.Errorf("signature format %v", s.format)
}

// Attested returns the statement of predicateType about subject that the
// signer's key signed, as written (its JSON), from the signer's format's
// location; nil when there is none. A caller whose statement is a function
// of the (immutable) manifest can keep that one instead of making it again.
func (s *Signer) Attested(ctx context.Context, repo name.Repository, subject v1.Descriptor, predicateType string) ([]byte, error) {
	opts := withContext(ctx, s.remote)
	keys := []*PublicKey{s.key.Public()}
	var envs []*dsse.Envelope
	switch s.format {
	case TagFormat:
		have, err := readAttached(tagFor(repo, subject.Digest, "att"), opts)
		if err != nil {
			return nil, err
		}
		for _, a := range have {
			var env dsse.Envelope
			if a.mediaType == DSSEMediaType && a.annotations[annotationPredicateType] == predicateType && json.Unmarshal(a.payload, &env) == nil {
				envs = append(envs, &env)
			}
		}
	case ReferrersFormat:
		refs, err := bundleReferrers(repo.Digest(subject.Digest.String()), opts)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if r.predicateType != predicateType {
				continue
			}
			if env, err := bundleEnvelope(r.raw); err == nil {
				envs = append(envs, env)
			}
		}
	default:
		return nil, fmt.Errorf("signature format %v", s.format)
	}
	for i := len(envs) - 1; i >= 0; i-- { // the newest first
		st, body, k, err := openEnvelope(envs[i], keys)
		if err != nil || k == nil || st.PredicateType != predicateType {
			continue
		}
		for _, d := range subjects(st) {
			if d == subject.Digest {
				return body, nil
			}
		}
	}
	return nil, nil
}
