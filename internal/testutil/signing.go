package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/polyarch/polyarch/sign"
)

// SigningKey is a fresh ECDSA P-256 signing key, as cosign makes them. It is
// not sign.GenerateKey: that one's scrypt encryption takes a second a key.
func SigningKey(t testing.TB) *sign.Key {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.NewKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
