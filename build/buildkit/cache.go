package buildkit

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	bk "github.com/moby/buildkit/client"

	"github.com/polyarch/polyarch/build"
)

// A build's registry cache (build.Cache) is BuildKit's type=registry cache
// in mode=max: every step's result, not only the final image's layers. It
// is exported in one of two forms, and registries differ in which they
// take: an OCI image manifest whose config is BuildKit's cache config
// (image-manifest=true, tried first), or an OCI index listing the cache's
// layers and config (image-manifest=false). An export a registry refuses
// never fails the build (ignore-error=true): the node sees the refusal in
// the export's progress, says so in one line, and exports the other form;
// a registry that refuses both gets no cache. What a registry took is
// remembered for the rest of the process, so the line is said once per
// registry.

// cacheKind is a form of registry cache.
type cacheKind int

const (
	cacheImageManifest cacheKind = iota
	cacheIndex
	cacheNone
)

func (k cacheKind) String() string {
	switch k {
	case cacheImageManifest:
		return "image-manifest"
	case cacheIndex:
		return "OCI index"
	}
	return "no"
}

// cacheExportVertex is the name of the export's step in BuildKit's progress.
const cacheExportVertex = "exporting cache to registry"

// cacheEntries are the solve's cache imports and exports for c, the
// export in form k.
func cacheEntries(c build.Cache, k cacheKind) (imports, exports []bk.CacheOptionsEntry) {
	if c.Ref == "" {
		return nil, nil
	}
	if !c.NoCache {
		imports = []bk.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": c.Ref}}}
	}
	if !c.NoExport && k != cacheNone {
		attrs := map[string]string{"ref": c.Ref, "mode": "max", "oci-mediatypes": "true", "ignore-error": "true",
			"image-manifest": strconv.FormatBool(k == cacheImageManifest)} // BuildKit's default is true since v0.21
		exports = []bk.CacheOptionsEntry{{Type: "registry", Attrs: attrs}}
	}
	return imports, exports
}

// cacheForms remembers which form each registry host took, for this
// process: every node and build pushing there asks it first.
var cacheForms = &registryCacheForms{byHost: map[string]cacheKind{}, said: map[string]bool{}}

type registryCacheForms struct {
	mu     sync.Mutex
	byHost map[string]cacheKind
	said   map[string]bool
}

// kind is the form to export to host in.
func (f *registryCacheForms) kind(host string) cacheKind {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byHost[host]
}

// refused records that host refused form k, and returns the form to try
// next and whether this refusal is news (to be said) rather than one that
// another build already reported.
func (f *registryCacheForms) refused(host string, k cacheKind) (next cacheKind, news bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next = k + 1
	if f.byHost[host] < next {
		f.byHost[host] = next
	}
	key := fmt.Sprintf("%s\x00%d", host, k)
	news = !f.said[key]
	f.said[key] = true
	return next, news
}

// cacheHost is the registry host of a cache reference.
func cacheHost(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Context().RegistryStr()
}

// refusalWarning is the one line said when host refused form k.
func refusalWarning(host string, k, next cacheKind, why string) string {
	why, _, _ = strings.Cut(strings.TrimSpace(why), "\n")
	if next == cacheNone {
		return fmt.Sprintf("registry %s refused BuildKit's %s cache too (%s): its builds are not cached in the registry", host, k, why)
	}
	return fmt.Sprintf("registry %s refused BuildKit's %s cache (%s); exporting the cache as an %s instead", host, k, why, next)
}
