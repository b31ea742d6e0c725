package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// archImages is the publish scenario's input: one image per platform in
// an arch-named repository, as per-arch CI jobs push them.
var archImages = []struct {
	arch     string // the {{.Arch}} word in the repository name
	platform v1.Platform
}{
	{"amd64", v1.Platform{OS: "linux", Architecture: "amd64"}},
	{"arm64", v1.Platform{OS: "linux", Architecture: "arm64"}},
	{"arm", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
	{"ppc64le", v1.Platform{OS: "linux", Architecture: "ppc64le"}},
	{"s390x", v1.Platform{OS: "linux", Architecture: "s390x"}},
}

// pushArchImages pushes addr/org/agent-<arch>:v1 for every platform: a
// random image of layers x layerBytes (Docker media types, as `docker
// push` and BuildKit's docker exporter write them) whose config names the
// platform. It returns the sources, the {{.Arch}} template naming them,
// each child's manifest digest by platform, and the blob bytes pushed.
func pushArchImages(ctx context.Context, addr string, layers, layerBytes int64) ([]source, string, map[string]string, int64, error) {
	var srcs []source
	digests := map[string]string{}
	var total int64
	for _, a := range archImages {
		img, err := random.Image(layerBytes, layers)
		if err != nil {
			return nil, "", nil, 0, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, "", nil, 0, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = a.platform.OS, a.platform.Architecture, a.platform.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, "", nil, 0, err
		}
		ref, err := name.ParseReference(fmt.Sprintf("%s/org/agent-%s:v1", addr, a.arch))
		if err != nil {
			return nil, "", nil, 0, err
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			return nil, "", nil, 0, fmt.Errorf("pushing %s: %w", ref, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, "", nil, 0, err
		}
		p := formatPlatform(a.platform)
		digests[p] = d.String()
		srcs = append(srcs, source{ref: ref.String(), platform: p})
		m, err := img.Manifest()
		if err != nil {
			return nil, "", nil, 0, err
		}
		total += m.Config.Size
		for _, l := range m.Layers {
			total += l.Size
		}
	}
	return srcs, addr + "/org/agent-{{.Arch}}:v1", digests, total, nil
}

// pushLayout pushes the image index of an OCI layout written by genimage to
// ref and returns its digest, and the bytes and number of its blobs (layers
// and configs: what a copy moves through blob uploads; manifests are not
// blobs here).
func pushLayout(ctx context.Context, dir, ref string) (string, int64, int, error) {
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return "", 0, 0, err
	}
	im, err := top.IndexManifest()
	if err != nil {
		return "", 0, 0, err
	}
	if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsIndex() {
		return "", 0, 0, fmt.Errorf("%s: index.json should hold exactly one image index", dir)
	}
	ii, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return "", 0, 0, err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", 0, 0, err
	}
	if err := remote.WriteIndex(r, ii, remote.WithContext(ctx)); err != nil {
		return "", 0, 0, fmt.Errorf("pushing %s to %s: %w", dir, ref, err)
	}
	children, err := ii.IndexManifest()
	if err != nil {
		return "", 0, 0, err
	}
	var bytes int64
	var blobs int
	for _, c := range children.Manifests {
		img, err := ii.Image(c.Digest)
		if err != nil {
			return "", 0, 0, err
		}
		m, err := img.Manifest()
		if err != nil {
			return "", 0, 0, err
		}
		bytes += m.Config.Size
		blobs++
		for _, l := range m.Layers {
			bytes += l.Size
			blobs++
		}
	}
	return im.Manifests[0].Digest.String(), bytes, blobs, nil
}

func formatPlatform(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
