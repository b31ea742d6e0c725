package imagetest_test

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/platform"
)

// pushIndex pushes an index of one image per platform, plus a BuildKit
// attestation manifest for the first, and returns the images' digests by
// platform.
func pushIndex(t *testing.T, ref string, ps ...v1.Platform) map[string]string {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	digests := map[string]string{}
	var first v1.Hash
	for i, p := range ps {
		img := testutil.Image(t, p.OS, p.Architecture, p.Variant, types.OCIManifestSchema1)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d
		}
		pp := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pp}})
		digests[platform.Format(p)] = d.String()
	}
	att := testutil.Image(t, "unknown", "unknown", "", types.OCIManifestSchema1)
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": first.String()},
	}})
	if err := remote.WriteIndex(testutil.Ref(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	return digests
}

func TestTargetsPinsEveryPlatformOfAnIndex(t *testing.T) {
	reg := testutil.NewRegistry(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	armv7 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	ref := reg.Host + "/org/agent:v1"
	digests := pushIndex(t, ref, amd64, arm64, armv7)

	tests := []struct {
		name string
		only []v1.Platform
		want []string
	}{
		{"every platform, no attestation", nil, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}},
		{"only some", []v1.Platform{arm64, armv7}, []string{"linux/arm64", "linux/arm/v7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := imagetest.Targets(context.Background(), testutil.Ref(t, ref), tc.only)
			if err != nil {
				t.Fatal(err)
			}
			var plats []string
			for _, tg := range got {
				p := platform.Format(tg.Platform)
				plats = append(plats, p)
				if want := reg.Host + "/org/agent@" + digests[p]; tg.Ref != want {
					t.Errorf("%s is tested as %s, want %s", p, tg.Ref, want)
				}
			}
			if strings.Join(plats, " ") != strings.Join(tc.want, " ") {
				t.Errorf("targets %v, want %v", plats, tc.want)
			}
		})
	}

	t.Run("no image for the platforms asked", func(t *testing.T) {
		_, err := imagetest.Targets(context.Background(), testutil.Ref(t, ref), []v1.Platform{{OS: "linux", Architecture: "s390x"}})
		if err == nil || !strings.Contains(err.Error(), "no image for linux/s390x") || !strings.Contains(err.Error(), ref) {
			t.Fatalf("error %v, want one naming %s and linux/s390x", err, ref)
		}
	})
}

func TestTargetsOfOneImage(t *testing.T) {
	reg := testutil.NewRegistry(t)
	ref := reg.Host + "/org/tool:1"
	d := testutil.Push(t, ref, testutil.Image(t, "linux", "ppc64le", "", types.DockerManifestSchema2))
	got, err := imagetest.Targets(context.Background(), testutil.Ref(t, ref), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Ref != reg.Host+"/org/tool@"+d.String() || platform.Format(got[0].Platform) != "linux/ppc64le" {
		t.Fatalf("targets %+v, want the one linux/ppc64le image %s", got, d)
	}
}
