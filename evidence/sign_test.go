package evidence_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/sign"
)

// buildkitIndex pushes an index of two images, the arm64 one with a
// BuildKit attestation manifest holding a SLSA v0.2 provenance statement,
// as BuildKit writes them.
func buildkitIndex(t *testing.T, host string) (string, map[string]v1.Hash) {
	t.Helper()
	repo := host + "/org/app"
	amd := testutil.Image(t, "linux", "amd64", "", types.OCIManifestSchema1)
	arm := testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1)
	armDigest, _ := arm.Digest()
	st := sign.Statement(armDigest, "https://slsa.dev/provenance/v0.2", map[string]any{"builder": map[string]string{"id": "buildkit"}})
	body, _ := json.Marshal(st)
	att, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer(body, "application/vnd.in-toto+json"),
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": armDigest.String()},
		}},
	)
	ref := testutil.Ref(t, repo+":v1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	amdDigest, _ := amd.Digest()
	return ref.String(), map[string]v1.Hash{"linux/amd64": amdDigest, "linux/arm64": armDigest}
}

func TestSignAttachesEvidenceToEveryChildThenTheIndex(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	ref, digests := buildkitIndex(t, reg.Host)
	key := testutil.SigningKey(t)
	o := evidence.Options{
		Signer: sign.NewSigner(key),
		Build: func(p v1.Platform, d v1.Hash) *evidence.Build {
			native := p.Architecture == "amd64"
			return &evidence.Build{Image: "app", Version: "v1", Commit: "0123456789abcdef", Node: "local", Native: &native,
				Test: &evidence.Test{Passed: true, Results: []evidence.TestResult{{Kind: "command", Name: "version", Passed: true}}}}
		},
	}
	res, err := evidence.Sign(ctx, testutil.Ref(t, ref), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Children) != 2 || res.Signature != sign.Written {
		t.Fatalf("result: %+v", res)
	}
	// Per child a signature, an SBOM and a provenance statement, then the index's signature.
	if n := res.Written(); n != 2*3+1 || res.Format != sign.TagFormat || res.Duration <= 0 {
		t.Errorf("written %d (want 7), format %v, duration %v", n, res.Format, res.Duration)
	}
	for _, c := range res.Children {
		if c.Digest != digests[c.Platform] || c.Signature != sign.Written || *c.SBOM != sign.Written || *c.Provenance != sign.Written {
			t.Errorf("%s: %+v", c.Platform, c)
		}
		if want := map[string]int{"linux/arm64": 1}[c.Platform]; c.BuildKitProvenance != want {
			t.Errorf("%s: %d BuildKit provenance statements attached, want %d", c.Platform, c.BuildKitProvenance, want)
		}
		ev, err := sign.Find(ctx, testutil.Ref(t, ref).Context().Digest(c.Digest.String()), []*sign.PublicKey{key.Public()})
		if err != nil {
			t.Fatal(err)
		}
		prov := ev.Attested(evidence.ProvenancePredicateType)
		if prov == nil || prov.Key == nil {
			t.Fatalf("%s: no signed provenance: %+v", c.Platform, ev.Attestations)
		}
		s, err := evidence.ReadProvenance(prov.Predicate)
		if err != nil {
			t.Fatal(err)
		}
		exec := map[string]string{"linux/amd64": "native", "linux/arm64": "emulated"}[c.Platform]
		if s.Platform != c.Platform || s.Commit != "0123456789abcdef" || s.Node != "local" || s.Execution != exec || s.Tested == nil || !*s.Tested {
			t.Errorf("%s: provenance %+v", c.Platform, s)
		}
		if bk := ev.Attested("https://slsa.dev/provenance/v0.2"); (bk != nil && bk.Key != nil) != (c.Platform == "linux/arm64") {
			t.Errorf("%s: BuildKit's provenance attached and signed: %v", c.Platform, bk != nil)
		}
	}

	again, err := evidence.Sign(ctx, testutil.Ref(t, ref), o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Signature != sign.Unchanged || again.Written() != 0 {
		t.Errorf("the index signed again: %v, %d written", again.Signature, again.Written())
	}
	for _, c := range again.Children {
		if c.Signature != sign.Unchanged || *c.SBOM != sign.Unchanged || *c.Provenance != sign.Unchanged {
			t.Errorf("%s signed again: %+v", c.Platform, c)
		}
	}
}

// blobGets records the blobs a client GETs.
type blobGets struct {
	mu  sync.Mutex
	got map[string]bool
}

func (b *blobGets) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, d, ok := strings.Cut(r.URL.Path, "/blobs/"); ok && r.Method == http.MethodGet {
		b.mu.Lock()
		if b.got == nil {
			b.got = map[string]bool{}
		}
		b.got[d] = true
		b.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (b *blobGets) take() map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := b.got
	b.got = nil
	return got
}

// A rerun keeps the SBOMs its key signed with the same polyarch: no layer
// of a child is read again. Another version of polyarch makes them again.
func TestSignAgainKeepsTheSignedSBOMs(t *testing.T) {
	for _, f := range []sign.Format{sign.TagFormat, sign.ReferrersFormat} {
		t.Run(f.String(), func(t *testing.T) { signAgainKeepsTheSignedSBOMs(t, f) })
	}
}

func signAgainKeepsTheSignedSBOMs(t *testing.T, format sign.Format) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	ref, digests := buildkitIndex(t, reg.Host)
	var layers []string
	for p, d := range digests {
		img, err := remote.Image(testutil.Ref(t, ref).Context().Digest(d.String()))
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := img.Layers()
		for _, l := range ls {
			ld, _ := l.Digest()
			layers = append(layers, p+" "+ld.String())
		}
	}
	gets := &blobGets{}
	opts := []remote.Option{remote.WithTransport(gets)}
	key := testutil.SigningKey(t)
	signWith := func(version string) *evidence.Result {
		t.Helper()
		res, err := evidence.Sign(ctx, testutil.Ref(t, ref), evidence.Options{Signer: sign.NewSigner(key, sign.WithFormat(format), sign.WithRemote(opts...)), Remote: opts, Polyarch: version})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	read := func(got map[string]bool) (n int) {
		for _, l := range layers {
			if got[strings.Fields(l)[1]] {
				n++
			}
		}
		return n
	}
	signWith("v1")
	if n := read(gets.take()); n != len(layers) {
		t.Fatalf("the first signing read %d of the children's %d layers", n, len(layers))
	}
	again := signWith("v1")
	if n := read(gets.take()); n != 0 || again.Written() != 0 {
		t.Errorf("signing again with the same polyarch read %d layers and wrote %d; want none", n, again.Written())
	}
	for _, c := range again.Children {
		if c.Files == 0 {
			t.Errorf("%s: the kept SBOM's files are not counted", c.Platform)
		}
	}
	newer := signWith("v2")
	if n := read(gets.take()); n != len(layers) {
		t.Errorf("polyarch v2 read %d of %d layers; want its own SBOMs made", n, len(layers))
	}
	for _, c := range newer.Children {
		if *c.SBOM != sign.Written {
			t.Errorf("%s: polyarch v2's SBOM %v, want written in place of v1's", c.Platform, *c.SBOM)
		}
	}
}
