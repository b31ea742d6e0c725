package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/polyarch/polyarch/client"
)

// attached is one layer of a .sig or .att image: its blob and annotations.
type attached struct {
	mediaType   types.MediaType
	payload     []byte
	annotations map[string]string
}

// readAttached reads every layer of the image at tag; none when the tag
// does not exist.
func readAttached(tag name.Tag, opts []remote.Option) ([]attached, error) {
	img, err := remote.Image(tag, opts...)
	if err != nil {
		if client.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	out := make([]attached, 0, len(m.Layers))
	for _, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tag, err)
		}
		b, err := readBlob(l)
		if err != nil {
			return nil, fmt.Errorf("reading %s layer %s: %w", tag, d.Digest, err)
		}
		out = append(out, attached{mediaType: d.MediaType, payload: b, annotations: d.Annotations})
	}
	return out, nil
}

func readBlob(l v1.Layer) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxEvidence+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxEvidence {
		return nil, fmt.Errorf("larger than %d bytes", maxEvidence)
	}
	return b, nil
}

// writeAttached pushes layers as the image at tag, in cosign's layout: an
// OCI image of an empty config, one uncompressed layer per entry.
func writeAttached(tag name.Tag, layers []attached, opts []remote.Option) error {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, a := range layers {
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(a.payload, a.mediaType), Annotations: a.annotations})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return err
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return fmt.Errorf("writing %s: %w", tag, err)
	}
	return nil
}

// signTag adds a signature of subject to its sha256-<hex>.sig image.
func (s *Signer) signTag(ctx context.Context, repo name.Repository, subject v1.Descriptor) (Outcome, error) {
	opts := withContext(ctx, s.remote)
	tag := tagFor(repo, subject.Digest, "sig")
	have, err := readAttached(tag, opts)
	if err != nil {
		return 0, err
	}
	keys := []*PublicKey{s.key.Public()}
	for _, a := range have {
		if a.mediaType != SimpleSigningMediaType {
			continue
		}
		if d, err := signedDigest(a.payload); err == nil && d == subject.Digest && verifySimple(a.payload, a.annotations[annotationSignature], keys) != nil {
			return Unchanged, nil
		}
	}
	payload, err := signaturePayload(repo, subject.Digest)
	if err != nil {
		return 0, err
	}
	sig, err := s.key.Sign(payload)
	if err != nil {
		return 0, fmt.Errorf("signing %s: %w", repo.Digest(subject.Digest.String()), err)
	}
	have = append(have, attached{
		mediaType:   SimpleSigningMediaType,
		payload:     payload,
		annotations: map[string]string{annotationSignature: base64.StdEncoding.EncodeToString(sig)},
	})
	return Written, writeAttached(tag, have, opts)
}

// attestTag puts sts into subject's sha256-<hex>.att image in one write,
// each in place of the signer's earlier attestation of its predicate type.
func (s *Signer) attestTag(ctx context.Context, repo name.Repository, subject v1.Descriptor, sts []*in_toto.Statement) ([]Outcome, error) {
	opts := withContext(ctx, s.remote)
	tag := tagFor(repo, subject.Digest, "att")
	have, err := readAttached(tag, opts)
	if err != nil {
		return nil, err
	}
	keys := []*PublicKey{s.key.Public()}
	outs := make([]Outcome, len(sts))
	written := false
	for i, st := range sts {
		body, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		kept := make([]attached, 0, len(have)+1)
		same := false
		for _, a := range have {
			if a.mediaType == DSSEMediaType && a.annotations[annotationPredicateType] == st.PredicateType {
				var env dsse.Envelope
				if json.Unmarshal(a.payload, &env) == nil {
					if _, old, k, err := openEnvelope(&env, keys); err == nil && k != nil {
						if bytes.Equal(old, body) {
							same = true
						} else {
							continue // the signer's own older attestation: replaced
						}
					}
				}
			}
			kept = append(kept, a)
		}
		if same {
			outs[i] = Unchanged
			continue
		}
		env, _, err := envelope(ctx, s.key, st)
		if err != nil {
			return nil, fmt.Errorf("signing the %s attestation of %s: %w", st.PredicateType, repo.Digest(subject.Digest.String()), err)
		}
		raw, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		have = append(kept, attached{
			mediaType: DSSEMediaType,
			payload:   raw,
			// cosign writes an empty signature annotation on attestation layers.
			annotations: map[string]string{annotationPredicateType: st.PredicateType, annotationSignature: ""},
		})
		outs[i], written = Written, true
	}
	if !written {
		return outs, nil
	}
	return outs, writeAttached(tag, have, opts)
}
