// Package sign signs images and attaches signed attestations in cosign's
// formats, so that cosign (and the policy engines that read its formats:
// Kyverno, Harbor, podman's sigstore policies) verify what polyarch signs.
//
// A Signer writes in one of two formats (Format):
//
//   - TagFormat, cosign v2's default: a signature is an image tagged
//     sha256-<hex>.sig beside the signed manifest, one layer per signature,
//     each layer a simple-signing payload (the signed digest and the
//     repository) with the base64 signature in its
//     dev.cosignproject.cosign/signature annotation; attestations are an
//     image tagged sha256-<hex>.att, one layer per attestation, each a DSSE
//     envelope of an in-toto statement, its predicate type in the layer's
//     predicateType annotation. `cosign verify --key` and `cosign
//     verify-attestation --key` read these without further flags.
//   - ReferrersFormat: OCI 1.1 referrers of the signed manifest, each holding
//     one sigstore bundle (v0.3) with a DSSE envelope; a signature is the
//     statement cosign's --new-bundle-format writes (predicate type
//     https://sigstore.dev/cosign/sign/v1). Registries without the referrers
//     API get go-containerregistry's fallback tag sha256-<hex>.
//
// Signing is idempotent: a signature that the key already made over the same
// payload is not written again, and an attestation replaces the signer's
// earlier one of the same predicate type (a regenerated SBOM does not pile
// up). Find reads both formats back and verifies them against a set of
// public keys:
//
//	key, err := sign.LoadKey("cosign.key", []byte(os.Getenv("COSIGN_PASSWORD")))
//	s := sign.NewSigner(key, sign.WithRemote(client.Options{}.Remote(ctx)...))
//	_, err = s.Sign(ctx, repo, desc)                 // desc: the manifest's descriptor
//	_, err = s.Attest(ctx, repo, desc, sbomStatement) // subject: desc.Digest
//	ev, err := sign.Find(ctx, repo.Digest(desc.Digest.String()), []*sign.PublicKey{key.Public()})
//
// Keys are cosign's: ECDSA P-256 by default, the private key encrypted in an
// "ENCRYPTED SIGSTORE PRIVATE KEY" PEM block (GenerateKey, LoadKey). Keyless
// signing (OIDC, Fulcio, Rekor) and KMS keys are not implemented; a KMS key
// reference is refused with a *KMSError. Nothing is uploaded to a
// transparency log: cosign verifies polyarch's signatures with
// --insecure-ignore-tlog=true.
package sign

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Format is where signatures and attestations are written.
type Format int

const (
	// TagFormat: cosign's sha256-<hex>.sig and .att tags (cosign v2's default).
	TagFormat Format = iota
	// ReferrersFormat: OCI 1.1 referrers holding sigstore bundles.
	ReferrersFormat
)

var formatNames = [...]string{TagFormat: "tag", ReferrersFormat: "referrers"}

// String is the format as polyarch.yaml and --format spell it.
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// MarshalText writes the format as its String.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// ParseFormat reads "tag" or "referrers"; "" is TagFormat.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "tag":
		return TagFormat, nil
	case "referrers":
		return ReferrersFormat, nil
	}
	return 0, fmt.Errorf("signature format %q: want tag (cosign's sha256-<digest>.sig tags) or referrers (OCI 1.1 referrers with sigstore bundles)", s)
}

// Media types and annotations of cosign's formats (cosign v2.6.5:
// pkg/types, pkg/oci/static, pkg/oci/remote/write.go).
const (
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEMediaType          = "application/vnd.dsse.envelope.v1+json"
	BundleMediaType        = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// InTotoPayloadType is the DSSE payload type of in-toto statements.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// CosignSignPredicateType is the predicate of a signature in a bundle.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"

	annotationSignature           = "dev.cosignproject.cosign/signature"
	annotationPredicateType       = "predicateType"
	annotationBundleContent       = "dev.sigstore.bundle.content"
	annotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
	annotationCreated             = "org.opencontainers.image.created"

	simpleSigningType = "cosign container image signature"
	// maxEvidence bounds how much of a signature or attestation blob is read.
	maxEvidence = 64 << 20
)

// Outcome is what a write did.
type Outcome int

const (
	// Written: a signature or attestation was pushed.
	Written Outcome = iota
	// Unchanged: the key had already signed exactly this; nothing was pushed.
	Unchanged
)

// String is the outcome as tables say it.
func (o Outcome) String() string {
	if o == Unchanged {
		return "unchanged"
	}
	return "signed"
}

// MarshalText writes the outcome as its String.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Signer signs manifests and attaches attestations with one key, in one format.
type Signer struct {
	key    *Key
	format Format
	remote []remote.Option
}

// Option configures a Signer.
type Option func(*Signer)

// WithFormat says where signatures go. Default: TagFormat.
func WithFormat(f Format) Option { return func(s *Signer) { s.format = f } }

// WithRemote says how to reach the registry (client.Options.Remote gives
// polyarch's). The context of each call replaces any remote.WithContext
// among them.
func WithRemote(opts ...remote.Option) Option {
	return func(s *Signer) { s.remote = append(s.remote, opts...) }
}

// NewSigner returns a Signer that signs with key.
func NewSigner(key *Key, opts ...Option) *Signer {
	s := &Signer{key: key}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Key is the signer's key.
func (s *Signer) Key() *Key { return s.key }

// Format is where the signer writes.
func (s *Signer) Format() Format { return s.format }

// With returns a copy of s with more options (a shared puller and pusher,
// say: remote.Reuse).
func (s *Signer) With(opts ...Option) *Signer {
	c := *s
	c.remote = append([]remote.Option{}, s.remote...)
	for _, o := range opts {
		o(&c)
	}
	return &c
}
