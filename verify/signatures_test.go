package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/evidence"
	paindex "github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/sign"
	"github.com/polyarch/polyarch/verify"
)

// signedIndex publishes a three-platform index on host and signs it, with
// evidence, in format; it returns the index reference and each platform's
// child digest.
func signedIndex(t *testing.T, host string, key *sign.Key, format sign.Format) (name.Reference, map[string]v1.Hash) {
	t.Helper()
	ctx := context.Background()
	target := testutil.Ref(t, host+"/org/agent:v1")
	var sources []paindex.Source
	digests := map[string]v1.Hash{}
	for _, p := range []struct{ arch, variant, tag string }{{"amd64", "", "amd64"}, {"arm64", "", "arm64"}, {"arm", "v7", "arm"}} {
		ref := host + "/org/agent:v1-" + p.tag
		d := testutil.Push(t, ref, testutil.Image(t, "linux", p.arch, p.variant, types.OCIManifestSchema1))
		plat := v1.Platform{OS: "linux", Architecture: p.arch, Variant: p.variant}
		sources = append(sources, paindex.Source{Ref: testutil.Ref(t, ref), Platform: &plat})
		digests[strings.TrimSuffix("linux/"+p.arch+"/"+p.variant, "/")] = d
	}
	if _, err := paindex.Publish(ctx, paindex.Request{Target: target, Sources: sources}); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.Sign(ctx, target, evidence.Options{Signer: sign.NewSigner(key, sign.WithFormat(format))}); err != nil {
		t.Fatal(err)
	}
	return target, digests
}

func TestSignaturesOfASignedIndex(t *testing.T) {
	for _, format := range []sign.Format{sign.TagFormat, sign.ReferrersFormat} {
		t.Run(format.String(), func(t *testing.T) {
			reg := testutil.NewRegistry(t)
			key := testutil.SigningKey(t)
			ref, _ := signedIndex(t, reg.Host, key, format)
			rep, err := verify.Signatures(context.Background(), ref, []*sign.PublicKey{testutil.SigningKey(t).Public(), key.Public()})
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Err(); err != nil {
				t.Fatalf("a signed index: %v", err)
			}
			if len(rep.Children) != 3 || rep.Index == nil || !rep.Index.Signature.OK {
				t.Fatalf("report: %+v", rep)
			}
			var text strings.Builder
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"linux/arm/v7", "ok: 2 files, 0 packages", "0 problems"} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text report lacks %q:\n%s", want, text.String())
				}
			}
		})
	}
}

// problems runs Signatures and returns its problems, failing unless it
// found some and Err wraps ErrMissingEvidence.
func problems(t *testing.T, ref name.Reference, key *sign.Key) string {
	t.Helper()
	rep, err := verify.Signatures(context.Background(), ref, []*sign.PublicKey{key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if !errors.Is(err, verify.ErrMissingEvidence) {
		t.Fatalf("Err() = %v, want ErrMissingEvidence", err)
	}
	return strings.Join(rep.Problems(), "\n")
}

func TestSignaturesNameWhatIsMissing(t *testing.T) {
	ctx := context.Background()

	t.Run("unsigned", func(t *testing.T) {
		reg := testutil.NewRegistry(t)
		target := testutil.Ref(t, reg.Host+"/org/app:v1")
		testutil.Push(t, target.String(), testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1))
		got := problems(t, target, testutil.SigningKey(t))
		for _, want := range []string{"linux/arm64: signature: not signed", "linux/arm64: SBOM: no SBOM", "linux/arm64: provenance: no provenance"} {
			if !strings.Contains(got, want) {
				t.Errorf("problems lack %q:\n%s", want, got)
			}
		}
	})

	t.Run("another key", func(t *testing.T) {
		reg := testutil.NewRegistry(t)
		ref, _ := signedIndex(t, reg.Host, testutil.SigningKey(t), sign.TagFormat)
		got := problems(t, ref, testutil.SigningKey(t))
		for _, want := range []string{"index: signature: signed by another key", "linux/arm64: signature: signed by another key", "linux/amd64: SBOM: SBOM not signed by the key"} {
			if !strings.Contains(got, want) {
				t.Errorf("problems lack %q:\n%s", want, got)
			}
		}
	})

	t.Run("child re-pushed after signing", func(t *testing.T) {
		reg := testutil.NewRegistry(t)
		key := testutil.SigningKey(t)
		ref, _ := signedIndex(t, reg.Host, key, sign.TagFormat)
		// arm64 rebuilt and the index published again, nobody signing.
		arm := reg.Host + "/org/agent:v1-arm64"
		testutil.Push(t, arm, testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1))
		var sources []paindex.Source
		for _, tag := range []string{"amd64", "arm64", "arm"} {
			sources = append(sources, paindex.Source{Ref: testutil.Ref(t, reg.Host+"/org/agent:v1-"+tag)})
		}
		if _, err := paindex.Publish(ctx, paindex.Request{Target: ref, Sources: sources}); err != nil {
			t.Fatal(err)
		}
		got := problems(t, ref, key)
		for _, want := range []string{"index: signature: not signed", "linux/arm64: signature: not signed", "linux/arm64: SBOM: no SBOM"} {
			if !strings.Contains(got, want) {
				t.Errorf("problems lack %q:\n%s", want, got)
			}
		}
		if strings.Contains(got, "linux/amd64") || strings.Contains(got, "linux/arm/v7") {
			t.Errorf("platforms still signed are named:\n%s", got)
		}
	})

	t.Run("SBOM of another child", func(t *testing.T) {
		reg := testutil.NewRegistry(t)
		key := testutil.SigningKey(t)
		ref, digests := signedIndex(t, reg.Host, key, sign.TagFormat)
		repo := ref.Context()
		// The arm64 child's attestations copied over the amd64 child's.
		armAtt := repo.Tag("sha256-" + digests["linux/arm64"].Hex + ".att")
		img, err := remote.Image(armAtt)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(repo.Tag("sha256-"+digests["linux/amd64"].Hex+".att"), img); err != nil {
			t.Fatal(err)
		}
		got := problems(t, ref, key)
		want := "linux/amd64: SBOM: SBOM about " + digests["linux/arm64"].String() + " (another image)"
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
		if strings.Contains(got, "linux/arm64") {
			t.Errorf("the arm64 child, whose evidence is its own, is named:\n%s", got)
		}
	})
}
