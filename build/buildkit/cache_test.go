package buildkit

import (
	"testing"

	"github.com/polyarch/polyarch/build"
)

// BuildKit's registry cache defaults to image-manifest=true since v0.21:
// the index form must say false, or the fallback exports the refused form
// again.
func TestCacheEntriesSayTheirForm(t *testing.T) {
	c := build.Cache{Ref: "127.0.0.1:5000/org/app-buildcache:linux-amd64"}
	for _, tc := range []struct {
		kind cacheKind
		want string
	}{{cacheImageManifest, "true"}, {cacheIndex, "false"}} {
		imports, exports := cacheEntries(c, tc.kind)
		if len(imports) != 1 || imports[0].Attrs["ref"] != c.Ref {
			t.Errorf("%s: imports %+v", tc.kind, imports)
		}
		if len(exports) != 1 {
			t.Fatalf("%s: exports %+v", tc.kind, exports)
		}
		a := exports[0].Attrs
		if a["image-manifest"] != tc.want || a["mode"] != "max" || a["ignore-error"] != "true" || a["oci-mediatypes"] != "true" || a["ref"] != c.Ref {
			t.Errorf("%s: export attrs %v", tc.kind, a)
		}
	}
	if _, exports := cacheEntries(c, cacheNone); len(exports) != 0 {
		t.Errorf("no form left: exports %+v", exports)
	}
	if imports, exports := cacheEntries(build.Cache{Ref: c.Ref, NoCache: true, NoExport: true}, cacheImageManifest); len(imports)+len(exports) != 0 {
		t.Errorf("--no-cache --no-cache-export: %+v %+v", imports, exports)
	}
	if imports, exports := cacheEntries(build.Cache{NoCache: true}, cacheImageManifest); len(imports)+len(exports) != 0 {
		t.Errorf("no ref: %+v %+v", imports, exports)
	}
}

// Builds running at once that see the same refusal say it once, and every
// later build of the process starts with the form the registry took.
func TestRefusalsAreSaidOncePerRegistry(t *testing.T) {
	f := &registryCacheForms{byHost: map[string]cacheKind{}, said: map[string]bool{}}
	const host = "registry.test:5443"
	if k := f.kind(host); k != cacheImageManifest {
		t.Fatalf("first form %s", k)
	}
	next, news := f.refused(host, cacheImageManifest)
	if next != cacheIndex || !news {
		t.Errorf("first refusal: next %s, news %v", next, news)
	}
	if next, news = f.refused(host, cacheImageManifest); next != cacheIndex || news {
		t.Errorf("the same refusal by another build: next %s, news %v", next, news)
	}
	if k := f.kind(host); k != cacheIndex {
		t.Errorf("later builds start with %s", k)
	}
	if k := f.kind("other.test"); k != cacheImageManifest {
		t.Errorf("another registry starts with %s", k)
	}
	if next, news = f.refused(host, cacheIndex); next != cacheNone || !news {
		t.Errorf("index refused: next %s, news %v", next, news)
	}
}
