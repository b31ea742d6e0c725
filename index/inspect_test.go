package index_test

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/platform"
)

func testutilRegistry(t *testing.T) string { return testutil.NewRegistry(t).Host }

// published returns a registry host with org/m:1 = amd64, arm64, arm/v6 and s390x.
func published(t *testing.T) (string, map[string]v1.Hash) {
	t.Helper()
	reg := testutilRegistry(t)
	tmpl := reg + "/org/m-{{.ArchVariant}}:1"
	digests := pushArch(t, tmpl, types.OCIManifestSchema1, "linux/amd64", "linux/arm64", "linux/arm/v6", "linux/s390x")
	_, err := index.Publish(ctx, index.Request{
		Target:      testutil.Ref(t, reg+"/org/m:1"),
		Sources:     sources(t, tmpl, "linux/amd64,linux/arm64,linux/arm/v6,linux/s390x"),
		Annotations: map[string]string{"org.opencontainers.image.version": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg, digests
}

func TestInspect(t *testing.T) {
	reg, digests := published(t)
	ins, err := index.Inspect(ctx, testutil.Ref(t, reg+"/org/m:1"))
	if err != nil {
		t.Fatal(err)
	}
	if !ins.IsIndex || ins.MediaType != types.OCIImageIndex || len(ins.Manifests) != 4 || ins.Annotations["org.opencontainers.image.version"] != "1" {
		t.Fatalf("inspection %+v", ins)
	}
	head, _ := remote.Head(testutil.Ref(t, reg+"/org/m:1"))
	if ins.Digest != head.Digest.String() {
		t.Errorf("digest %s, registry says %s", ins.Digest, head.Digest)
	}
	for _, m := range ins.Manifests {
		if m.Digest != digests[m.Platform].String() {
			t.Errorf("%s digest %s, want %s", m.Platform, m.Digest, digests[m.Platform])
		}
		if len(m.Layers) != 2 || m.ImageSize <= m.Size || m.Created == nil {
			t.Errorf("%s: layers %d, size %d/%d, created %v", m.Platform, len(m.Layers), m.ImageSize, m.Size, m.Created)
		}
	}

	img, err := index.Inspect(ctx, testutil.Ref(t, reg+"/org/m-armv6:1"))
	if err != nil {
		t.Fatal(err)
	}
	if img.IsIndex || len(img.Manifests) != 1 || img.Manifests[0].Platform != "linux/arm/v6" {
		t.Errorf("single image inspection %+v", img)
	}

	_, err = index.Inspect(ctx, testutil.Ref(t, reg+"/org/nothing:1"))
	if err == nil || !strings.Contains(err.Error(), reg+"/org/nothing:1") {
		t.Errorf("missing ref: %v", err)
	}
}

func TestResolve(t *testing.T) {
	reg, digests := published(t)
	r, err := index.NewResolver(ctx, testutil.Ref(t, reg+"/org/m:1"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ host, want, why string }{
		{"linux/arm64", "linux/arm64", "exact match"},
		{"linux/arm/v7", "linux/arm/v6", "newest variant"},
		{"linux/s390x", "linux/s390x", "exact match"},
		{"linux/ppc64le", "", "nothing"},
		{"linux/386", "", "nothing"},
	}
	for _, tc := range cases {
		host, _ := platform.Parse(tc.host)
		res := r.Resolve(host)
		if tc.want == "" {
			if res.Found || !strings.Contains(res.Why, "linux/amd64, linux/arm64, linux/arm/v6, linux/s390x") {
				t.Errorf("%s: %+v, want nothing and the list of what there is", tc.host, res)
			}
			continue
		}
		if !res.Found || res.Platform != tc.want || res.Digest != digests[tc.want].String() || !strings.Contains(res.Why, tc.why) {
			t.Errorf("%s: %+v, want %s (%s)", tc.host, res, tc.want, tc.why)
		}
	}
}

func TestCopy(t *testing.T) {
	reg, digests := published(t)
	dst := testutilRegistry(t)
	src := testutil.Ref(t, reg+"/org/m:1")

	res, err := index.Copy(ctx, src, testutil.Ref(t, dst+"/mirror/m:1"), index.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := remote.Head(src)
	if res.Digest != head.Digest.String() || len(res.Platforms) != 4 {
		t.Errorf("full copy %+v: digest must be kept", res)
	}
	im, _ := indexManifest(t, dst+"/mirror/m:1")
	ii, _ := remote.Index(testutil.Ref(t, dst+"/mirror/m:1"))
	if err := validateFull(ii); err != nil {
		t.Fatalf("copy incomplete: %v", err)
	}
	_ = im

	counter := &testutil.Counter{}
	again, err := index.Copy(ctx, src, testutil.Ref(t, dst+"/mirror/m:1"), index.CopyOptions{}, remote.WithTransport(counter))
	if err != nil || !again.Unchanged || counter.Writes() != 0 {
		t.Errorf("second copy: %+v %v, %d writes", again, err, counter.Writes())
	}

	some := mustPlatforms(t, "linux/arm64,linux/arm/v6")
	res, err = index.Copy(ctx, src, testutil.Ref(t, dst+"/mirror/m:arm"), index.CopyOptions{Platforms: some})
	if err != nil {
		t.Fatal(err)
	}
	im, _ = indexManifest(t, dst+"/mirror/m:arm")
	if got := strings.Join(platformsOf(im), ","); got != "linux/arm64,linux/arm/v6" || im.Manifests[0].Digest != digests["linux/arm64"] {
		t.Errorf("platform subset: %s", got)
	}

	_, err = index.Copy(ctx, src, testutil.Ref(t, dst+"/mirror/m:x"), index.CopyOptions{Platforms: mustPlatforms(t, "linux/riscv64")})
	if err == nil || !strings.Contains(err.Error(), "no linux/riscv64 image (it has linux/amd64, linux/arm64, linux/arm/v6, linux/s390x)") {
		t.Errorf("missing platform: %v", err)
	}

	// Within one registry, blobs are mounted: no layer bytes are sent.
	counter.Reset()
	if _, err := index.Copy(ctx, src, testutil.Ref(t, reg+"/other/m:1"), index.CopyOptions{}, remote.WithTransport(counter)); err != nil {
		t.Fatal(err)
	}
	if counter.BytesSent() > 64<<10 {
		t.Errorf("same-registry copy sent %d bytes, want mounts", counter.BytesSent())
	}
}
