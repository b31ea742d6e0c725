package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types of cosign's keys. cosign v2 writes the SIGSTORE one and
// reads both.
const (
	pemEncryptedSigstore = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemEncryptedCosign   = "ENCRYPTED COSIGN PRIVATE KEY"
	pemPublicKey         = "PUBLIC KEY"
)

// kmsSchemes are the key references cosign resolves through a KMS or a
// hardware token. polyarch recognises them (so a config written for cosign
// is refused with a reason, not read as a file name) but links no KMS client.
var kmsSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://", "k8s://", "gitlab://", "pkcs11:"}

// KMSError is a key reference that names a KMS or a hardware token.
type KMSError struct{ Ref string }

func (e *KMSError) Error() string {
	return fmt.Sprintf("key %s: a KMS or hardware key; polyarch signs with cosign key files (or env://VAR) only: sign with a key file, or sign with cosign itself after publishing", e.Ref)
}

// IsKMS reports whether ref names a KMS or hardware key rather than a file.
func IsKMS(ref string) bool {
	for _, s := range kmsSchemes {
		if strings.HasPrefix(ref, s) {
			return true
		}
	}
	return false
}

// Key is a private key to sign with: an ECDSA (cosign's default, P-256) or
// RSA key behind a crypto.Signer, so a key held elsewhere works as well as
// one read from a file.
type Key struct {
	signer crypto.Signer
	public *PublicKey
}

// NewKey wraps a crypto.Signer whose public key is ECDSA or RSA.
func NewKey(s crypto.Signer) (*Key, error) {
	pub, err := newPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	return &Key{signer: s, public: pub}, nil
}

// Public is the key that verifies what k signs.
func (k *Key) Public() *PublicKey { return k.public }

// Sign signs payload: SHA-256, then ECDSA (ASN.1) or RSA PKCS #1 v1.5, as
// cosign does.
func (k *Key) Sign(payload []byte) ([]byte, error) {
	sum := sha256.Sum256(payload)
	return k.signer.Sign(rand.Reader, sum[:], crypto.SHA256)
}

// PublicKey verifies signatures.
type PublicKey struct {
	key crypto.PublicKey
	der []byte
}

func newPublicKey(k crypto.PublicKey) (*PublicKey, error) {
	switch pk := k.(type) {
	case *ecdsa.PublicKey:
	case *rsa.PublicKey:
		if pk.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: want at least 2048", pk.N.BitLen())
		}
	default:
		return nil, fmt.Errorf("key type %T: want ECDSA or RSA", k)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return &PublicKey{key: k, der: der}, nil
}

// Verify checks sig over payload.
func (p *PublicKey) Verify(payload, sig []byte) error {
	sum := sha256.Sum256(payload)
	switch pk := p.key.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pk, sum[:], sig) {
			return ErrBadSignature
		}
		return nil
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pk, crypto.SHA256, sum[:], sig) != nil {
			return ErrBadSignature
		}
		return nil
	}
	return ErrBadSignature
}

// ErrBadSignature: a signature that the key does not verify.
var ErrBadSignature = errors.New("signature does not verify with the key")

// ID names the key in reports: the SHA-256 of its PKIX encoding, in hex,
// shortened to 16 digits.
func (p *PublicKey) ID() string {
	sum := sha256.Sum256(p.der)
	return hex.EncodeToString(sum[:8])
}

// Hint is the key hint of a sigstore bundle: base64 of the SHA-256 of the
// PKIX encoding (what cosign writes).
func (p *PublicKey) hint() []byte {
	sum := sha256.Sum256(p.der)
	return sum[:]
}

// PEM is the public key as cosign writes it ("PUBLIC KEY", PKIX).
func (p *PublicKey) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: p.der})
}

// Equal reports whether p and q are the same key.
func (p *PublicKey) Equal(q *PublicKey) bool {
	return q != nil && string(p.der) == string(q.der)
}

// GenerateKey makes an ECDSA P-256 key pair in cosign's format: the private
// key PKCS #8, encrypted with password (scrypt, then NaCl secretbox) in an
// "ENCRYPTED SIGSTORE PRIVATE KEY" PEM block, and the public key a PKIX
// "PUBLIC KEY" one. cosign reads both (COSIGN_PASSWORD holds the password).
func GenerateKey(password []byte) (private, public []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting the key: %w", err)
	}
	pub, err := newPublicKey(k.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemEncryptedSigstore, Bytes: enc}), pub.PEM(), nil
}

// ParsePrivateKey reads a private key: cosign's encrypted PEM (decrypted
// with password), or an unencrypted PKCS #8, EC or RSA PEM.
func ParsePrivateKey(b, password []byte) (*Key, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	var der []byte
	switch blk.Type {
	case pemEncryptedSigstore, pemEncryptedCosign:
		d, err := encrypted.Decrypt(blk.Bytes, password)
		if err != nil {
			return nil, fmt.Errorf("decrypting the key (wrong password?): %w", err)
		}
		der = d
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		der = blk.Bytes
	case pemPublicKey:
		return nil, errors.New("a public key: signing needs the private key")
	default:
		return nil, fmt.Errorf("PEM block %q: want a cosign private key", blk.Type)
	}
	var k any
	var err error
	switch blk.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	default:
		k, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", k)
	}
	return NewKey(s)
}

// ParsePublicKey reads a PKIX "PUBLIC KEY" PEM, as cosign writes it.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if blk.Type != pemPublicKey {
		return nil, fmt.Errorf("PEM block %q: want a PUBLIC KEY", blk.Type)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the public key: %w", err)
	}
	return newPublicKey(k)
}

// readRef reads the bytes a key reference names: a file, or env://VAR (the
// PEM in an environment variable, as cosign reads it).
func readRef(ref string) ([]byte, error) {
	if IsKMS(ref) {
		return nil, &KMSError{Ref: ref}
	}
	if v, ok := strings.CutPrefix(ref, "env://"); ok {
		s, set := os.LookupEnv(v)
		if !set || s == "" {
			return nil, fmt.Errorf("key %s: environment variable %s is not set", ref, v)
		}
		return []byte(s), nil
	}
	b, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ref, err)
	}
	return b, nil
}

// LoadKey reads the private key ref names (a file or env://VAR; KMS
// references are refused with a *KMSError) and decrypts it with password.
func LoadKey(ref string, password []byte) (*Key, error) {
	b, err := readRef(ref)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(b, password)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ref, err)
	}
	return k, nil
}

// LoadPublicKey reads the public key ref names (a file or env://VAR).
func LoadPublicKey(ref string) (*PublicKey, error) {
	b, err := readRef(ref)
	if err != nil {
		return nil, err
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ref, err)
	}
	return k, nil
}

// SignBlob signs data as `cosign sign-blob` does: the base64 of the
// signature over its SHA-256.
func (k *Key) SignBlob(data []byte) (string, error) {
	sig, err := k.Sign(data)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyBlob returns the one of keys that verifies b64sig (as SignBlob
// writes it) over data, or nil.
func VerifyBlob(data []byte, b64sig string, keys []*PublicKey) *PublicKey {
	return verifySimple(data, b64sig, keys)
}
