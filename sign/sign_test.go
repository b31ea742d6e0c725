package sign_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/sign"
)

func TestGeneratedKeyRoundTrips(t *testing.T) {
	priv, pub, err := sign.GenerateKey([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.ParsePrivateKey(priv, []byte("secret"))
	if err != nil {
		t.Fatalf("reading the generated key: %v", err)
	}
	p, err := sign.ParsePublicKey(pub)
	if err != nil {
		t.Fatalf("reading the generated public key: %v", err)
	}
	if !p.Equal(k.Public()) {
		t.Error("the public key file is not the private key's public key")
	}
	if _, err := sign.ParsePrivateKey(priv, []byte("wrong")); err == nil {
		t.Error("a wrong password decrypted the key")
	}
	sig, err := k.SignBlob([]byte("record"))
	if err != nil {
		t.Fatal(err)
	}
	if sign.VerifyBlob([]byte("record"), sig, []*sign.PublicKey{p}) == nil {
		t.Error("a blob signature does not verify")
	}
	if sign.VerifyBlob([]byte("recorD"), sig, []*sign.PublicKey{p}) != nil {
		t.Error("a blob signature verifies over other bytes")
	}
	if sign.VerifyBlob([]byte("record"), sig, []*sign.PublicKey{testutil.SigningKey(t).Public()}) != nil {
		t.Error("a blob signature verifies with another key")
	}
}

func TestKeyReferences(t *testing.T) {
	priv, pub, err := sign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "cosign.key")
	if err := os.WriteFile(file, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sign.LoadKey(file, nil); err != nil {
		t.Errorf("key file: %v", err)
	}
	t.Setenv("POLYARCH_TEST_KEY", string(pub))
	if _, err := sign.LoadPublicKey("env://POLYARCH_TEST_KEY"); err != nil {
		t.Errorf("env:// public key: %v", err)
	}
	if _, err := sign.LoadPublicKey("env://POLYARCH_TEST_UNSET"); err == nil {
		t.Error("an unset env:// variable gave a key")
	}
	_, err = sign.LoadKey("awskms:///arn:aws:kms:us-east-1:1:key/k", nil)
	var kms *sign.KMSError
	if !errors.As(err, &kms) {
		t.Errorf("a KMS reference: got %v, want a *KMSError", err)
	}
	if _, err := sign.LoadKey(filepath.Join(dir, "missing.key"), nil); err == nil {
		t.Error("a missing key file gave a key")
	}
}

// push pushes a random image and returns its repository and descriptor.
func push(t *testing.T, host, repo string) (name.Repository, v1.Descriptor) {
	t.Helper()
	img := testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1)
	ref := testutil.Ref(t, host+"/"+repo+":v1")
	testutil.Push(t, ref.String(), img)
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context(), *desc
}

// registries are the two kinds of registry signatures must work with.
func registries(t *testing.T) map[string]string {
	return map[string]string{
		"embedded": testutil.NewRegistry(t).Host,
		"plain":    testutil.NewPlainRegistry(t),
	}
}

func TestSignFindsAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	for regName, host := range registries(t) {
		for _, format := range []sign.Format{sign.TagFormat, sign.ReferrersFormat} {
			t.Run(fmt.Sprintf("%s/%s", regName, format), func(t *testing.T) {
				repo, desc := push(t, host, "org/app-"+format.String())
				key, other := testutil.SigningKey(t), testutil.SigningKey(t)
				s := sign.NewSigner(key, sign.WithFormat(format))
				ref := repo.Digest(desc.Digest.String())

				ev, err := sign.Find(ctx, ref, []*sign.PublicKey{key.Public()})
				if err != nil {
					t.Fatal(err)
				}
				if ev.Signed(desc.Digest) != nil {
					t.Fatal("signed before signing")
				}
				if out, err := s.Sign(ctx, repo, desc); err != nil || out != sign.Written {
					t.Fatalf("Sign: %v, %v", out, err)
				}
				if out, err := s.Sign(ctx, repo, desc); err != nil || out != sign.Unchanged {
					t.Fatalf("Sign again: %v, %v; want unchanged", out, err)
				}
				ev, err = sign.Find(ctx, ref, []*sign.PublicKey{key.Public()})
				if err != nil {
					t.Fatal(err)
				}
				got := ev.Signed(desc.Digest)
				if got == nil || got.Format != format {
					t.Fatalf("signature not found in %v: %+v", format, ev.Signatures)
				}
				if len(ev.Signatures) != 1 {
					t.Errorf("%d signatures after signing twice, want 1", len(ev.Signatures))
				}
				ev, err = sign.Find(ctx, ref, []*sign.PublicKey{other.Public()})
				if err != nil {
					t.Fatal(err)
				}
				if ev.Signed(desc.Digest) != nil {
					t.Error("another key verifies the signature")
				}
				if len(ev.Signatures) != 1 {
					t.Errorf("the signature is not listed as unverified for another key: %+v", ev.Signatures)
				}
			})
		}
	}
}

func TestAttestReplacesTheSignersOwn(t *testing.T) {
	ctx := context.Background()
	const pt = "https://example.com/predicate/v1"
	for regName, host := range registries(t) {
		for _, format := range []sign.Format{sign.TagFormat, sign.ReferrersFormat} {
			t.Run(fmt.Sprintf("%s/%s", regName, format), func(t *testing.T) {
				repo, desc := push(t, host, "org/att-"+format.String())
				key := testutil.SigningKey(t)
				s := sign.NewSigner(key, sign.WithFormat(format))
				ref := repo.Digest(desc.Digest.String())

				st := sign.Statement(desc.Digest, pt, map[string]string{"n": "1"})
				if out, err := s.Attest(ctx, repo, desc, st); err != nil || out != sign.Written {
					t.Fatalf("Attest: %v, %v", out, err)
				}
				if out, err := s.Attest(ctx, repo, desc, st); err != nil || out != sign.Unchanged {
					t.Fatalf("Attest again: %v, %v; want unchanged", out, err)
				}
				if out, err := s.Attest(ctx, repo, desc, sign.Statement(desc.Digest, pt, map[string]string{"n": "2"})); err != nil || out != sign.Written {
					t.Fatalf("Attest a new statement: %v, %v", out, err)
				}
				ev, err := sign.Find(ctx, ref, []*sign.PublicKey{key.Public()})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, a := range ev.Attestations {
					if a.PredicateType == pt {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d attestations of %s, want the newest only: %+v", n, pt, ev.Attestations)
				}
				a := ev.Attested(pt)
				if a == nil || a.Key == nil || !a.About(desc.Digest) || string(a.Predicate) != `{"n":"2"}` {
					t.Fatalf("attestation: %+v", a)
				}
				if len(ev.Signatures) != 0 {
					t.Errorf("an attestation counts as a signature: %+v", ev.Signatures)
				}

				wrong := sign.Statement(v1.Hash{Algorithm: "sha256", Hex: "00" + desc.Digest.Hex[2:]}, pt, nil)
				if _, err := s.Attest(ctx, repo, desc, wrong); err == nil {
					t.Error("attested a statement about another digest")
				}
			})
		}
	}
}
