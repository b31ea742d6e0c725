package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// simpleSigning is cosign's signature payload (the "simple signing" format
// of containers/image, as cosign v2 writes it: pkg/signature/payload in
// sigstore/sigstore).
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// signaturePayload is what a signature of digest in repo signs.
func signaturePayload(repo name.Repository, digest v1.Hash) ([]byte, error) {
	var p simpleSigning
	p.Critical.Identity.DockerReference = repo.Name()
	p.Critical.Image.DockerManifestDigest = digest.String()
	p.Critical.Type = simpleSigningType
	return json.Marshal(p)
}

// signedDigest reads the digest a simple-signing payload names.
func signedDigest(payload []byte) (v1.Hash, error) {
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return v1.Hash{}, fmt.Errorf("signature payload: %w", err)
	}
	if p.Critical.Type != simpleSigningType {
		return v1.Hash{}, fmt.Errorf("signature payload of type %q", p.Critical.Type)
	}
	return v1.NewHash(p.Critical.Image.DockerManifestDigest)
}

// Statement is an in-toto statement about the manifest with digest subject.
// (in-toto-golang's Statement, what BuildKit writes and cosign reads.)
func Statement(subject v1.Hash, predicateType string, predicate any) *in_toto.Statement {
	return &in_toto.Statement{
		StatementHeader: in_toto.StatementHeader{
			Type:          in_toto.StatementInTotoV1,
			PredicateType: predicateType,
			Subject:       []in_toto.Subject{{Name: "", Digest: map[string]string{subject.Algorithm: subject.Hex}}},
		},
		Predicate: predicate,
	}
}

// subjects lists the digests a statement is about.
func subjects(st *in_toto.Statement) []v1.Hash {
	var out []v1.Hash
	for _, s := range st.Subject {
		for alg, hex := range s.Digest {
			out = append(out, v1.Hash{Algorithm: alg, Hex: hex})
		}
	}
	return out
}

// dsseSigner adapts a Key to the DSSE library. Its key id is empty, as in
// cosign's envelopes, so verifiers try every key they have.
type dsseSigner struct{ key *Key }

func (d dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) { return d.key.Sign(data) }
func (d dsseSigner) KeyID() (string, error)                              { return "", nil }

// envelope signs an in-toto statement into a DSSE envelope.
func envelope(ctx context.Context, key *Key, st *in_toto.Statement) (*dsse.Envelope, []byte, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return nil, nil, err
	}
	es, err := dsse.NewEnvelopeSigner(dsseSigner{key})
	if err != nil {
		return nil, nil, err
	}
	env, err := es.SignPayload(ctx, InTotoPayloadType, body)
	if err != nil {
		return nil, nil, err
	}
	return env, body, nil
}

// openEnvelope verifies env with one of keys and decodes its statement.
// The key is nil, with the statement still decoded, when none verifies.
func openEnvelope(env *dsse.Envelope, keys []*PublicKey) (*in_toto.Statement, []byte, *PublicKey, error) {
	if env.PayloadType != InTotoPayloadType {
		return nil, nil, nil, fmt.Errorf("DSSE payload type %q: want %s", env.PayloadType, InTotoPayloadType)
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("DSSE payload: %w", err)
	}
	st := &in_toto.Statement{}
	if err := json.Unmarshal(body, st); err != nil {
		return nil, nil, nil, fmt.Errorf("in-toto statement: %w", err)
	}
	pae := dsse.PAE(env.PayloadType, body)
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if k.Verify(pae, sig) == nil {
				return st, body, k, nil
			}
		}
	}
	return st, body, nil, nil
}

// verifySimple verifies a base64 signature over payload with one of keys.
func verifySimple(payload []byte, b64sig string, keys []*PublicKey) *PublicKey {
	sig, err := base64.StdEncoding.DecodeString(b64sig)
	if err != nil {
		return nil
	}
	for _, k := range keys {
		if k.Verify(payload, sig) == nil {
			return k
		}
	}
	return nil
}

// withContext puts ctx last among opts: the context argument wins.
func withContext(ctx context.Context, opts []remote.Option) []remote.Option {
	return append(append([]remote.Option{}, opts...), remote.WithContext(ctx))
}

// tagFor is cosign's tag for what is attached to digest: sha256-<hex>.<suffix>.
func tagFor(repo name.Repository, digest v1.Hash, suffix string) name.Tag {
	return repo.Tag(fmt.Sprintf("%s-%s.%s", digest.Algorithm, digest.Hex, suffix))
}
