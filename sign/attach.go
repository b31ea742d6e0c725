package sign

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/in-toto/in-toto-golang/in_toto"
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

// Attested returns the predicate of the statement of predicateType about
// subject that the signer's key signed, as written (its JSON), from the
// signer's format's location; nil when there is none. A caller whose
// statement is a function of the (immutable) manifest can keep that one
// instead of making it again.
func (s *Signer) Attested(ctx context.Context, repo name.Repository, subject v1.Descriptor, predicateType string) (json.RawMessage, error) {
	opts := withContext(ctx, s.remote)
	keys := []*PublicKey{s.key.Public()}
	var ev Evidence
	var err error
	switch s.format {
	case TagFormat:
		ev.Attestations, err = tagAttestations(repo, subject.Digest, keys, opts)
	case ReferrersFormat:
		_, ev.Attestations, err = referrerEvidence(repo.Digest(subject.Digest.String()), keys, opts)
	default:
		err = fmt.Errorf("signature format %v", s.format)
	}
	if err != nil {
		return nil, err
	}
	if a := ev.Attested(predicateType); a != nil && a.Key != nil && a.About(subject.Digest) {
		return a.Predicate, nil
	}
	return nil, nil
}
