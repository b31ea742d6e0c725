package config

import "github.com/polyarch/polyarch/naming"

// Cache is where an image's BuildKit cache is kept in the registry
// (images[].cache), so that a fresh builder node (a CI runner's) rebuilds
// an unchanged commit from it instead of running every step again. It is
// on by default in build and release; --no-cache and --no-cache-export
// turn it off for one run.
type Cache struct {
	// Ref names each platform's cache, a template like archRef; a ref
	// without registry is in the project's. It must differ per platform,
	// and per version with a versions matrix, so that builds running at
	// once never overwrite each other's cache. Default
	// "<repository>-buildcache:{{.Platform}}", and
	// "<repository>-buildcache:{{.Version}}-{{.Platform}}" with a versions
	// matrix: a repository of its own, so that the image's repository
	// holds only the image's tags.
	Ref string `yaml:"ref"`
	// Disabled keeps no cache of this image in the registry.
	Disabled bool `yaml:"disabled"`
}

// validateCache checks an image's cache: section.
func (c *Config) validateCache(p string, cache *Cache, add func(path, format string, args ...any)) {
	if cache == nil || cache.Ref == "" {
		return
	}
	if cache.Disabled {
		add(p+".ref", "the cache is disabled: give ref or disabled, not both")
	}
	if _, err := naming.Parse(cache.Ref); err != nil {
		add(p+".ref", "%v", err)
	}
}
