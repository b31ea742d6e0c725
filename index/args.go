package index

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/naming"
	"github.com/polyarch/polyarch/platform"
)

// SourcesFromTemplate names one source per platform with an arch-ref
// template, as `manifest-tool push from-args --template` does. optional
// lists platforms that may be missing.
func SourcesFromTemplate(tmpl *naming.Template, platforms []v1.Platform, optional []v1.Platform, parse func(string) (name.Reference, error)) ([]Source, error) {
	refs, err := tmpl.ForPlatforms(platforms, nil)
	if err != nil {
		return nil, err
	}
	var out []Source
	for i, p := range platforms {
		ref, err := parse(refs[i])
		if err != nil {
			return nil, fmt.Errorf("template %q for %s: %w", tmpl, platform.Format(p), err)
		}
		p := p
		src := Source{Ref: ref, Platform: &p}
		for _, o := range optional {
			if platform.Same(o, p) {
				src.Optional = true
			}
		}
		out = append(out, src)
	}
	return out, nil
}
