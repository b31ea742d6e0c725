package index_test

import (
	"encoding/json"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
)

// rawDescriptors reads ref's index as the registry serves it: each child's
// descriptor fields by name.
func rawDescriptors(t *testing.T, ref string) (mediaType string, descs []map[string]json.RawMessage) {
	t.Helper()
	desc, err := remote.Get(testutil.Ref(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		MediaType string                       `json:"mediaType"`
		Manifests []map[string]json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(desc.Manifest, &raw); err != nil {
		t.Fatal(err)
	}
	return raw.MediaType, raw.Manifests
}

// Only artifacts get artifactType in an index, and nothing does in a Docker
// manifest list, whose schema has no such field.
func TestImageDescriptorsCarryNoArtifactType(t *testing.T) {
	reg := testutil.NewRegistry(t)
	pushArch(t, reg.Host+"/org/oci-ARCH:1", types.OCIManifestSchema1, "linux/amd64", "linux/arm64")
	pushArch(t, reg.Host+"/org/docker-ARCH:1", types.DockerManifestSchema2, "linux/amd64", "linux/arm64")
	buildkitIndex(t, reg.Host+"/org/bk-amd64:1", "amd64", "")

	for _, tc := range []struct {
		name, target string
		req          index.Request
		mediaType    types.MediaType
	}{
		{"OCI index", "/org/oci:1", index.Request{Sources: sources(t, reg.Host+"/org/oci-ARCH:1", "linux/amd64,linux/arm64")}, types.OCIImageIndex},
		{"Docker manifest list", "/org/docker:1", index.Request{Sources: sources(t, reg.Host+"/org/docker-ARCH:1", "linux/amd64,linux/arm64")}, types.DockerManifestList},
		{"Docker list of OCI images", "/org/forced:1", index.Request{Sources: sources(t, reg.Host+"/org/oci-ARCH:1", "linux/amd64,linux/arm64"), MediaType: types.DockerManifestList}, types.DockerManifestList},
		{"OCI index with attestations", "/org/bk:1", index.Request{Sources: sources(t, reg.Host+"/org/bk-ARCH:1", "linux/amd64")}, types.OCIImageIndex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Target = testutil.Ref(t, reg.Host+tc.target)
			if _, err := index.Publish(ctx, tc.req); err != nil {
				t.Fatal(err)
			}
			mt, descs := rawDescriptors(t, reg.Host+tc.target)
			if mt != string(tc.mediaType) || len(descs) < 2 {
				t.Fatalf("published a %s of %d", mt, len(descs))
			}
			for i, d := range descs {
				if at, ok := d["artifactType"]; ok {
					t.Errorf("manifests[%d] (an image) has artifactType %s", i, at)
				}
				if _, ok := d["annotations"]; ok && tc.mediaType == types.DockerManifestList {
					t.Errorf("manifests[%d] of a Docker manifest list has annotations", i)
				}
			}
		})
	}
}

// A copy of some platforms writes a new index: its image descriptors carry
// no artifactType, and an artifact's keeps its own.
func TestCopiedIndexKeepsArtifactTypeForArtifactsOnly(t *testing.T) {
	reg := testutil.NewRegistry(t)
	amd := testutil.Image(t, "linux", "amd64", "", types.OCIManifestSchema1)
	arm := testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1)
	armDigest, _ := arm.Digest()
	// An attestation that is an artifact: its config's media type is its
	// artifactType.
	sbom := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	sbom, _ = mutate.Append(sbom, mutate.Addendum{Layer: static.NewLayer([]byte(`{"sbom":1}`), "application/spdx+json"), MediaType: "application/spdx+json"})
	sbom = mutate.ConfigMediaType(sbom, "application/vnd.example.sbom.config.v1+json")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: sbom, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": armDigest.String()}}},
	)
	if err := remote.WriteIndex(testutil.Ref(t, reg.Host+"/org/app:1"), idx); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Copy(ctx, testutil.Ref(t, reg.Host+"/org/app:1"), testutil.Ref(t, reg.Host+"/org/app:arm"), index.CopyOptions{Platforms: mustPlatforms(t, "linux/arm64")}); err != nil {
		t.Fatal(err)
	}
	_, descs := rawDescriptors(t, reg.Host+"/org/app:arm")
	if len(descs) != 2 {
		t.Fatalf("copied %d manifests, want the arm64 image and its attestation", len(descs))
	}
	if at, ok := descs[0]["artifactType"]; ok {
		t.Errorf("the arm64 image's descriptor has artifactType %s", at)
	}
	if at := string(descs[1]["artifactType"]); at != `"application/vnd.example.sbom.config.v1+json"` {
		t.Errorf("the artifact's descriptor has artifactType %s, want its own", at)
	}
}
