package e2e

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/testutil"
)

// A published index survives `skopeo copy --all` to a mirror with its
// digest: skopeo re-writes an index whose descriptors carry fields its
// schema lacks (artifactType on images, in Docker manifest lists above all),
// and a mirror with another digest breaks every digest pin.
func TestPublishedIndexMirrorsDigestStableWithSkopeo(t *testing.T) {
	skopeo := testutil.Tool(t, "skopeo")
	bin := polyarchBinary(t)
	reg := testutil.NewRegistry(t)
	for _, mt := range []types.MediaType{types.DockerManifestSchema2, types.OCIManifestSchema1} {
		kind := "docker"
		if mt == types.OCIManifestSchema1 {
			kind = "oci"
		}
		for _, arch := range []string{"amd64", "arm64", "s390x"} {
			testutil.Push(t, reg.Host+"/org/"+kind+"-"+arch+":1", testutil.Image(t, "linux", arch, "", mt))
		}
	}
	for _, tc := range []struct{ name, template, extra string }{
		{"Docker manifest list", "/org/docker-ARCH:1", ""},
		{"OCI index", "/org/oci-ARCH:1", ""},
		{"OCI index with annotations", "/org/oci-ARCH:1", "linux/arm64:com.example.tested=yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := reg.Host + "/org/" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-") + ":1"
			args := []string{"manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64,linux/s390x",
				"--template", reg.Host + tc.template, "--target", target}
			if tc.extra != "" {
				args = append(args, "--annotation", tc.extra)
			}
			published := strings.TrimSpace(run(t, bin, args...))
			mirror := strings.Replace(target, "/org/", "/mirror/", 1)
			run(t, skopeo, "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+target, "docker://"+mirror)
			d, err := remote.Head(testutil.Ref(t, mirror))
			if err != nil {
				t.Fatal(err)
			}
			if d.Digest.String() != published {
				src, _ := remote.Get(testutil.Ref(t, target))
				dst, _ := remote.Get(testutil.Ref(t, mirror))
				t.Errorf("skopeo copy --all mirrored %s as %s:\npublished %s\nmirrored  %s", published, d.Digest, src.Manifest, dst.Manifest)
			}
		})
	}
}
