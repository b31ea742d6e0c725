package pipeline

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/naming"
	"github.com/polyarch/polyarch/platform"
)

// Every build keeps its BuildKit cache in the registry, one reference per
// image, version and platform (build.Cache): a CI runner's fresh node then
// rebuilds an unchanged commit from it, and runners building other
// platforms or versions at the same time never overwrite each other's.

// cacheTemplate is the image's cache ref template, "" when it keeps none.
func cacheTemplate(img *config.Image, repo string) string {
	switch {
	case img.Cache != nil && img.Cache.Disabled:
		return ""
	case img.Cache != nil && img.Cache.Ref != "":
		return img.Cache.Ref
	case len(img.Versions) > 0:
		return repo + "-buildcache:{{.Version}}-{{.Platform}}"
	}
	return repo + "-buildcache:{{.Platform}}"
}

// planCache renders one unit's cache ref for each of ps (nil when the
// image keeps no cache); bad reports a mistake at the field it names, the
// image's own (imageField) when its cache ref is not written.
func planCache(cfg *config.Config, img *config.Image, repo string, ps []v1.Platform, data naming.Data, bad func(field, format string, args ...any), imageField string) []string {
	text := cacheTemplate(img, repo)
	if text == "" {
		return nil
	}
	field := imageField
	if img.Cache != nil && img.Cache.Ref != "" {
		field += ".cache.ref"
	}
	tmpl, err := naming.Parse(text)
	if err != nil {
		bad(field, "cache ref: %v", err)
		return nil
	}
	refs, err := tmpl.ForPlatforms(ps, func(d *naming.Data) { d.Version, d.Commit, d.GitTag = data.Version, data.Commit, data.GitTag })
	if err != nil {
		bad(field, "cache ref %v", err)
		return nil
	}
	for i, r := range refs {
		ref, err := withRegistry(cfg.Registry, r)
		if err == nil {
			_, err = naming.CheckTag(ref)
		}
		if err != nil {
			bad(field, "platform %s: cache ref %q gives %q: %v", platform.Format(ps[i]), text, ref, err)
			return nil
		}
		refs[i] = ref
	}
	return refs
}

// checkSharedCaches refuses two versions of an image sharing a cache ref
// (a template without {{.Version}}): they are built at once.
func checkSharedCaches(cfg *config.Config, units map[string]*Unit) []error {
	var errs []error
	for i := range cfg.Images {
		img := &cfg.Images[i]
		owner := map[string]string{}
		for _, cu := range img.Units() {
			u := units[img.Name+"@"+cu.Version]
			if u == nil {
				continue
			}
			for _, t := range u.Targets {
				ref := t.Job.Cache.Ref
				if ref == "" {
					continue
				}
				if prev, dup := owner[ref]; dup {
					errs = append(errs, fmt.Errorf("%s: %s and %s would share the cache %s: add {{.Version}}", cfg.At(fmt.Sprintf("images[%d].cache.ref", i)), prev, u.Name(), ref))
					continue
				}
				owner[ref] = u.Name()
			}
		}
	}
	return errs
}
