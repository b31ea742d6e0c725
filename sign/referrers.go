package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/polyarch/polyarch/client"
)

// emptyConfig is the OCI empty descriptor's blob, the config of a referrer.
var emptyConfig = static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")

// makeBundle is a sigstore bundle v0.3 of a DSSE envelope signed by key,
// with the key's hint as its verification material and no transparency
// log entry (cosign's MakeNewBundle without Rekor).
func makeBundle(key *PublicKey, env *dsse.Envelope, body []byte) ([]byte, error) {
	var sigs []*protodsse.Signature
	for _, s := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, &protodsse.Signature{Sig: raw, Keyid: s.KeyID})
	}
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: base64.StdEncoding.EncodeToString(key.hint())},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     body,
			PayloadType: env.PayloadType,
			Signatures:  sigs,
		}},
	}
	return protojson.Marshal(b)
}

// bundleEnvelope reads the DSSE envelope out of a sigstore bundle.
func bundleEnvelope(raw []byte) (*dsse.Envelope, error) {
	var b protobundle.Bundle
	if err := protojson.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("sigstore bundle: %w", err)
	}
	e := b.GetDsseEnvelope()
	if e == nil {
		return nil, fmt.Errorf("sigstore bundle without a DSSE envelope")
	}
	env := &dsse.Envelope{PayloadType: e.PayloadType, Payload: base64.StdEncoding.EncodeToString(e.Payload)}
	for _, s := range e.Signatures {
		env.Signatures = append(env.Signatures, dsse.Signature{KeyID: s.Keyid, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	return env, nil
}

// bundleReferrer is one referrer of a subject holding a sigstore bundle.
type bundleReferrer struct {
	desc          v1.Descriptor
	predicateType string
	raw           []byte
}

// bundleReferrers lists and reads the subject's referrers that hold
// sigstore bundles.
func bundleReferrers(subject name.Digest, opts []remote.Option) ([]bundleReferrer, error) {
	idx, err := remote.Referrers(subject, append(opts, remote.WithFilter("artifactType", BundleMediaType))...)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", subject, err)
	}
	var out []bundleReferrer
	for _, d := range im.Manifests {
		if d.ArtifactType != BundleMediaType {
			continue
		}
		ref := subject.Context().Digest(d.Digest.String())
		img, err := remote.Image(ref, opts...)
		if client.IsNotFound(err) {
			continue // deleted since (a fallback tag is not updated on delete)
		}
		if err != nil {
			return nil, fmt.Errorf("reading referrer %s: %w", ref, err)
		}
		layers, err := img.Layers()
		if err != nil {
			return nil, fmt.Errorf("reading referrer %s: %w", ref, err)
		}
		if len(layers) != 1 {
			continue
		}
		raw, err := readBlob(layers[0])
		if err != nil {
			return nil, fmt.Errorf("reading referrer %s: %w", ref, err)
		}
		out = append(out, bundleReferrer{desc: d, predicateType: d.Annotations[annotationBundlePredicateType], raw: raw})
	}
	return out, nil
}

// writeBundle pushes a bundle as a referrer of subject (cosign's
// WriteAttestationNewBundleFormat).
func writeBundle(repo name.Repository, subject v1.Descriptor, raw []byte, predicateType string, opts []remote.Option) error {
	layer := static.NewLayer(raw, BundleMediaType)
	for _, l := range []v1.Layer{emptyConfig, layer} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return fmt.Errorf("writing a bundle for %s: %w", repo.Digest(subject.Digest.String()), err)
		}
	}
	ld, _ := layer.Digest()
	cd, _ := emptyConfig.Digest()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  BundleMediaType,
		Config:        v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: cd, Size: 2},
		Layers:        []v1.Descriptor{{MediaType: BundleMediaType, Digest: ld, Size: int64(len(raw))}},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: map[string]string{
			annotationCreated:             time.Now().UTC().Format(time.RFC3339),
			annotationBundleContent:       "dsse-envelope",
			annotationBundlePredicateType: predicateType,
		},
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	dst := repo.Digest("sha256:" + hex.EncodeToString(sum[:]))
	if err := remote.Put(dst, rawManifest{body: body, mt: types.OCIManifestSchema1}, opts...); err != nil {
		return fmt.Errorf("writing a bundle for %s: %w", repo.Digest(subject.Digest.String()), err)
	}
	return nil
}

// rawManifest is a manifest pushed as is.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// attestReferrers attaches st in a bundle, unless the signer's key already
// signed the same statement; the signer's older bundles of the same
// predicate type are deleted where the registry allows it.
func (s *Signer) attestReferrers(ctx context.Context, repo name.Repository, subject v1.Descriptor, st *in_toto.Statement) (Outcome, error) {
	opts := withContext(ctx, s.remote)
	subjectRef := repo.Digest(subject.Digest.String())
	have, err := bundleReferrers(subjectRef, opts)
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	keys := []*PublicKey{s.key.Public()}
	var stale []v1.Descriptor
	for _, b := range have {
		if b.predicateType != st.PredicateType {
			continue
		}
		env, err := bundleEnvelope(b.raw)
		if err != nil {
			continue
		}
		if _, old, k, err := openEnvelope(env, keys); err == nil && k != nil {
			if bytes.Equal(old, body) || st.PredicateType == CosignSignPredicateType {
				return Unchanged, nil
			}
			stale = append(stale, b.desc)
		}
	}
	env, body, err := envelope(ctx, s.key, st)
	if err != nil {
		return 0, fmt.Errorf("signing the %s attestation of %s: %w", st.PredicateType, subjectRef, err)
	}
	raw, err := makeBundle(s.key.Public(), env, body)
	if err != nil {
		return 0, err
	}
	if err := writeBundle(repo, subject, raw, st.PredicateType, opts); err != nil {
		return 0, err
	}
	for _, d := range stale {
		// Best effort: a registry that refuses deletes keeps both, and
		// readers take the newest.
		_ = remote.Delete(repo.Digest(d.Digest.String()), opts...)
	}
	return Written, nil
}
