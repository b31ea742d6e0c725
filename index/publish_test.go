package index_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/naming"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/registry"
)

var ctx = context.Background()

func mustPlatforms(t *testing.T, s string) []v1.Platform {
	t.Helper()
	ps, err := platform.ParseList(s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func parse(s string) (name.Reference, error) { return name.ParseReference(s) }

// sources names one source per platform with a template.
func sources(t *testing.T, tmpl, plats string) []index.Source {
	t.Helper()
	tm, err := naming.Parse(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	src, err := index.SourcesFromTemplate(tm, mustPlatforms(t, plats), nil, parse)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// pushArch pushes one image per "os/arch[/variant]" under a template.
func pushArch(t *testing.T, tmpl string, mt types.MediaType, plats ...string) map[string]v1.Hash {
	t.Helper()
	tm, _ := naming.Parse(tmpl)
	out := map[string]v1.Hash{}
	for _, s := range plats {
		parts := strings.Split(s, "/")
		variant := ""
		if len(parts) == 3 {
			variant = parts[2]
		}
		p, err := platform.Parse(s)
		if err != nil {
			// A deliberately odd spelling: name it by its normalised form.
			t.Fatal(err)
		}
		ref, _ := tm.Expand(naming.DataFor(p))
		out[platform.Format(p)] = testutil.Push(t, ref, testutil.Image(t, parts[0], parts[1], variant, mt))
	}
	return out
}

func indexManifest(t *testing.T, ref string) (*v1.IndexManifest, v1.ImageIndex) {
	t.Helper()
	ii, err := remote.Index(testutil.Ref(t, ref))
	if err != nil {
		t.Fatalf("fetching %s: %v", ref, err)
	}
	if err := validate.Index(ii, validate.Fast); err != nil {
		t.Fatalf("%s does not validate: %v", ref, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im, ii
}

func platformsOf(im *v1.IndexManifest) []string {
	var out []string
	for _, m := range im.Manifests {
		out = append(out, platform.Format(*m.Platform))
	}
	return out
}

func TestPublishRepositorySuffixScheme(t *testing.T) {
	reg := testutil.NewRegistry(t)
	tmpl := reg.Host + "/org/agent-{{.Arch}}:v1.4"
	digests := pushArch(t, tmpl, types.DockerManifestSchema2, "linux/amd64", "linux/arm64", "linux/arm/v7")

	counter := &testutil.Counter{}
	res, err := index.Publish(ctx, index.Request{
		Target:  testutil.Ref(t, reg.Host+"/org/agent:v1.4"),
		Tags:    []string{"latest", "1.4"},
		Sources: sources(t, tmpl, "linux/amd64,linux/arm64,linux/arm/v7"),
	}, remote.WithTransport(counter))
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || res.MediaType != types.DockerManifestList {
		t.Errorf("result = %+v, want a new Docker manifest list", res)
	}
	for _, c := range res.Children {
		if c.Transfer != "mounted" {
			t.Errorf("%s: transfer %q, want mounted (same registry, other repository)", c.Platform, c.Transfer)
		}
	}

	for _, tag := range []string{"v1.4", "latest", "1.4"} {
		im, _ := indexManifest(t, reg.Host+"/org/agent:"+tag)
		if got := strings.Join(platformsOf(im), ","); got != "linux/amd64,linux/arm64,linux/arm/v7" {
			t.Errorf("%s platforms = %s", tag, got)
		}
		for _, m := range im.Manifests {
			if m.Digest != digests[platform.Format(*m.Platform)] {
				t.Errorf("%s: %s child is %s, want the pushed %s", tag, platform.Format(*m.Platform), m.Digest, digests[platform.Format(*m.Platform)])
			}
		}
		if d, _ := remote.Head(testutil.Ref(t, reg.Host+"/org/agent:"+tag)); d.Digest.String() != res.Digest {
			t.Errorf("tag %s = %s, result says %s", tag, d.Digest, res.Digest)
		}
	}
	// Children were mounted: no layer bytes went over the wire.
	if counter.BytesSent() > 64<<10 {
		t.Errorf("publish sent %d bytes; mounts should have moved none of the layers", counter.BytesSent())
	}

	// Republishing the same index is a no-op: no write request at all.
	counter.Reset()
	res2, err := index.Publish(ctx, index.Request{
		Target:  testutil.Ref(t, reg.Host+"/org/agent:v1.4"),
		Tags:    []string{"latest", "1.4"},
		Sources: sources(t, tmpl, "linux/amd64,linux/arm64,linux/arm/v7"),
	}, remote.WithTransport(counter))
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Unchanged || res2.Digest != res.Digest {
		t.Errorf("republish: unchanged=%v digest %s, want unchanged %s", res2.Unchanged, res2.Digest, res.Digest)
	}
	if counter.Writes() != 0 || counter.BytesSent() != 0 {
		t.Errorf("republish made %d write requests and sent %d bytes, want none", counter.Writes(), counter.BytesSent())
	}
}

func TestPublishTagInfixScheme(t *testing.T) {
	reg := testutil.NewRegistry(t)
	tmpl := reg.Host + "/akraino/validation:k8s-ARCH-latest"
	pushArch(t, tmpl, types.OCIManifestSchema1, "linux/amd64", "linux/arm64")
	res, err := index.Publish(ctx, index.Request{
		Target:  testutil.Ref(t, reg.Host+"/akraino/validation:k8s-latest"),
		Sources: sources(t, tmpl, "linux/amd64,linux/arm64"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.MediaType != types.OCIImageIndex {
		t.Errorf("OCI children gave a %s", res.MediaType)
	}
	for _, c := range res.Children {
		if c.Transfer != "present" {
			t.Errorf("%s: transfer %q, want present (same repository)", c.Platform, c.Transfer)
		}
	}
	im, _ := indexManifest(t, reg.Host+"/akraino/validation:k8s-latest")
	if got := strings.Join(platformsOf(im), ","); got != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %s", got)
	}
}

func TestPublishAcrossRegistries(t *testing.T) {
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	tmpl := src.Host + "/org/agent-{{.Arch}}:v1"
	pushArch(t, tmpl, types.DockerManifestSchema2, "linux/amd64", "linux/s390x")
	res, err := index.Publish(ctx, index.Request{
		Target:  testutil.Ref(t, dst.Host+"/org/agent:v1"),
		Sources: sources(t, tmpl, "linux/amd64,linux/s390x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Children {
		if c.Transfer != "copied" {
			t.Errorf("%s: transfer %q, want copied", c.Platform, c.Transfer)
		}
	}
	// validate.Index without Fast re-reads and re-hashes every blob in dst.
	ii, err := remote.Index(testutil.Ref(t, dst.Host+"/org/agent:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(ii); err != nil {
		t.Fatalf("copied index is incomplete in the destination: %v", err)
	}
}

func TestPublishPlatformSemantics(t *testing.T) {
	reg := testutil.NewRegistry(t)
	target := testutil.Ref(t, reg.Host+"/org/app:1")
	push := func(ref, os, arch, variant string) name.Reference {
		testutil.Push(t, reg.Host+"/"+ref, testutil.Image(t, os, arch, variant, types.DockerManifestSchema2))
		return testutil.Ref(t, reg.Host+"/"+ref)
	}
	p := func(s string) *v1.Platform {
		pl, err := platform.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return &pl
	}

	t.Run("stated platform disagrees with the config", func(t *testing.T) {
		ref := push("org/app-arm64:1", "linux", "amd64", "")
		_, err := index.Publish(ctx, index.Request{Target: target, Sources: []index.Source{{Ref: ref, Platform: p("linux/arm64")}}})
		var perr *index.PlatformError
		if !errors.As(err, &perr) || perr.Stated != "linux/arm64" || perr.Config != "linux/amd64" {
			t.Fatalf("err = %v, want a PlatformError naming linux/arm64 and linux/amd64", err)
		}
		if !strings.Contains(err.Error(), ref.String()) {
			t.Errorf("error does not name the image: %v", err)
		}
	})

	t.Run("config spellings are normalised", func(t *testing.T) {
		ref := push("org/app-aarch64:1", "linux", "aarch64", "")
		res, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/app:norm"), Sources: []index.Source{{Ref: ref, Platform: p("linux/arm64")}}})
		if err != nil {
			t.Fatal(err)
		}
		// Not validate.Index: it wants the descriptor spelled like the config.
		ii, err := remote.Index(testutil.Ref(t, res.Target))
		if err != nil {
			t.Fatal(err)
		}
		im, _ := ii.IndexManifest()
		if got := platform.Format(*im.Manifests[0].Platform); got != "linux/arm64" {
			t.Errorf("descriptor platform %s, want linux/arm64", got)
		}
	})

	t.Run("arm without a variant needs one stated", func(t *testing.T) {
		ref := push("org/app-arm:1", "linux", "arm", "")
		_, err := index.Publish(ctx, index.Request{Target: target, Sources: []index.Source{{Ref: ref}}})
		if err == nil || !strings.Contains(err.Error(), "without a variant") {
			t.Fatalf("err = %v, want the missing arm variant named", err)
		}
		res, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/app:armv6"), Sources: []index.Source{{Ref: ref, Platform: p("linux/arm/v6")}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Children[0].Platform != "linux/arm/v6" {
			t.Errorf("stated variant not used: %s", res.Children[0].Platform)
		}
	})

	t.Run("duplicate platforms", func(t *testing.T) {
		a := push("org/app-x:1", "linux", "arm64", "")
		b := push("org/app-y:1", "linux", "aarch64", "")
		_, err := index.Publish(ctx, index.Request{Target: target, Sources: []index.Source{{Ref: a}, {Ref: b}}})
		if err == nil || !strings.Contains(err.Error(), "two images for linux/arm64") || !strings.Contains(err.Error(), a.String()) || !strings.Contains(err.Error(), b.String()) {
			t.Fatalf("err = %v, want both images named", err)
		}
	})

	// None of the failures above wrote the target.
	if _, err := remote.Head(target); err == nil {
		t.Error("a failed publish wrote the target")
	}
}

func TestPublishMissing(t *testing.T) {
	reg := testutil.NewRegistry(t)
	tmpl := reg.Host + "/org/agent-{{.Arch}}:v2"
	pushArch(t, tmpl, types.DockerManifestSchema2, "linux/amd64")
	target := testutil.Ref(t, reg.Host+"/org/agent:v2")
	src := sources(t, tmpl, "linux/amd64,linux/arm64,linux/s390x")

	_, err := index.Publish(ctx, index.Request{Target: target, Sources: src})
	var merr *index.MissingError
	if !errors.As(err, &merr) || len(merr.Missing) != 2 {
		t.Fatalf("err = %v, want both missing platforms listed", err)
	}
	for _, want := range []string{"linux/arm64", "linux/s390x", reg.Host + "/org/agent-arm64:v2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if _, err := remote.Head(target); err == nil {
		t.Fatal("index written although images were missing")
	}

	res, err := index.Publish(ctx, index.Request{Target: target, Sources: src, IgnoreMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Children) != 1 || len(res.Missing) != 2 || res.Missing[0].Platform != "linux/arm64" {
		t.Errorf("ignore-missing result: children %v, missing %v", res.Children, res.Missing)
	}

	// An optional platform may be missing without --ignore-missing.
	src[1].Optional, src[2].Optional = true, true
	res, err = index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/agent:v2-opt"), Sources: src})
	if err != nil || len(res.Missing) != 2 || !res.Missing[0].Optional {
		t.Fatalf("optional: %v, %+v", err, res)
	}
}

func TestPublishMediaTypesAndAnnotations(t *testing.T) {
	reg := testutil.NewRegistry(t)
	pushArch(t, reg.Host+"/org/d-{{.Arch}}:1", types.DockerManifestSchema2, "linux/amd64", "linux/arm64")
	src := sources(t, reg.Host+"/org/d-{{.Arch}}:1", "linux/amd64,linux/arm64")

	cases := []struct {
		name string
		req  index.Request
		want types.MediaType
	}{
		{"docker children give a manifest list", index.Request{}, types.DockerManifestList},
		{"forced oci", index.Request{MediaType: types.OCIImageIndex}, types.OCIImageIndex},
		{"annotations need oci", index.Request{Annotations: map[string]string{"org.opencontainers.image.source": "https://example.com/agent"}}, types.OCIImageIndex},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Target = testutil.Ref(t, reg.Host+"/org/d:"+string(rune('a'+i)))
			req.Sources = src
			res, err := index.Publish(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(req.Target)
			if err != nil {
				t.Fatal(err)
			}
			if res.MediaType != tc.want || desc.MediaType != tc.want {
				t.Errorf("media type: result %s, registry %s, want %s", res.MediaType, desc.MediaType, tc.want)
			}
			if len(tc.req.Annotations) > 0 {
				im, _ := indexManifest(t, req.Target.String())
				if im.Annotations["org.opencontainers.image.source"] != "https://example.com/agent" {
					t.Errorf("index annotations = %v", im.Annotations)
				}
			}
		})
	}

	// Descriptor annotations.
	src2 := sources(t, reg.Host+"/org/d-{{.Arch}}:1", "linux/amd64,linux/arm64")
	src2[1].Annotations = map[string]string{"com.example.tested": "yes"}
	if _, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/d:desc"), Sources: src2}); err != nil {
		t.Fatal(err)
	}
	im, _ := indexManifest(t, reg.Host+"/org/d:desc")
	if im.MediaType != types.OCIImageIndex || im.Manifests[1].Annotations["com.example.tested"] != "yes" || im.Manifests[0].Annotations != nil {
		t.Errorf("descriptor annotations: %s %+v", im.MediaType, im.Manifests)
	}
}

// buildkitIndex pushes what BuildKit pushes for one platform: an index with
// the image and its attestation manifest (platform unknown/unknown).
func buildkitIndex(t *testing.T, ref, arch, variant string) (image, attestation v1.Hash) {
	t.Helper()
	img := testutil.Image(t, "linux", arch, variant, types.OCIManifestSchema1)
	att := testutil.Image(t, "unknown", "unknown", "", types.OCIManifestSchema1)
	imgDigest, _ := img.Digest()
	attDigest, _ := att.Digest()
	p := v1.Platform{OS: "linux", Architecture: arch, Variant: variant}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{
				"vnd.docker.reference.type":   "attestation-manifest",
				"vnd.docker.reference.digest": imgDigest.String(),
			},
		}})
	if err := remote.WriteIndex(testutil.Ref(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	return imgDigest, attDigest
}

func TestPublishFlattensBuildKitIndexes(t *testing.T) {
	reg := testutil.NewRegistry(t)
	amdImg, amdAtt := buildkitIndex(t, reg.Host+"/org/bk-amd64:1", "amd64", "")
	armImg, armAtt := buildkitIndex(t, reg.Host+"/org/bk-arm:1", "arm", "v7")
	src := sources(t, reg.Host+"/org/bk-{{.Arch}}:1", "linux/amd64,linux/arm/v7")

	res, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/bk:1"), Sources: src})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := indexManifest(t, reg.Host+"/org/bk:1")
	var got []string
	for _, m := range im.Manifests {
		got = append(got, platform.Format(*m.Platform)+"="+m.Digest.String()+"@"+m.Annotations["vnd.docker.reference.digest"])
	}
	// Each image followed by its attestation, as in BuildKit's own output.
	want := []string{
		"linux/amd64=" + amdImg.String() + "@",
		"unknown/unknown=" + amdAtt.String() + "@" + amdImg.String(),
		"linux/arm/v7=" + armImg.String() + "@",
		"unknown/unknown=" + armAtt.String() + "@" + armImg.String(),
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("flattened index:\n got %v\nwant %v", got, want)
	}
	if res.MediaType != types.OCIImageIndex {
		t.Errorf("media type %s", res.MediaType)
	}

	res, err = index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/bk:noatt"), Sources: src, DropAttestations: true})
	if err != nil {
		t.Fatal(err)
	}
	im, _ = indexManifest(t, reg.Host+"/org/bk:noatt")
	if len(im.Manifests) != 2 || len(res.Children) != 2 {
		t.Errorf("--drop-attestations left %d manifests", len(im.Manifests))
	}
}

func TestPublishErrorsNameTheReference(t *testing.T) {
	reg := testutil.NewRegistry(t)
	t.Run("unreachable registry", func(t *testing.T) {
		_, err := index.Publish(ctx, index.Request{
			Target:  testutil.Ref(t, "127.0.0.1:1/org/a:1"),
			Sources: []index.Source{{Ref: testutil.Ref(t, "127.0.0.1:1/org/a-amd64:1")}},
		}, remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/org/a-amd64:1") || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("401", func(t *testing.T) {
		locked := testutil.NewRegistry(t, registry.WithHtpasswd(testutil.Htpasswd(t, "u", "p")))
		_, err := index.Publish(ctx, index.Request{
			Target:  testutil.Ref(t, locked.Host+"/org/a:1"),
			Sources: []index.Source{{Ref: testutil.Ref(t, locked.Host+"/org/a-amd64:1")}},
		})
		if err == nil || !strings.Contains(err.Error(), locked.Host+"/org/a-amd64:1") || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no sources", func(t *testing.T) {
		_, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/a:1")})
		if err == nil || !strings.Contains(err.Error(), "no source images") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPublishDryRunWritesNothing(t *testing.T) {
	reg := testutil.NewRegistry(t)
	tmpl := reg.Host + "/org/dry-{{.Arch}}:1"
	pushArch(t, tmpl, types.DockerManifestSchema2, "linux/amd64", "linux/arm64")
	counter := &testutil.Counter{}
	res, err := index.Publish(ctx, index.Request{Target: testutil.Ref(t, reg.Host+"/org/dry:1"), Sources: sources(t, tmpl, "linux/amd64,linux/arm64"), DryRun: true}, remote.WithTransport(counter))
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Digest == "" || counter.Writes() != 0 {
		t.Errorf("dry run: %+v, %d writes", res, counter.Writes())
	}
	if _, err := remote.Head(testutil.Ref(t, reg.Host+"/org/dry:1")); err == nil {
		t.Error("dry run wrote the target")
	}
}

// validateFull re-reads and re-hashes every blob of an index.
func validateFull(ii v1.ImageIndex) error { return validate.Index(ii) }
