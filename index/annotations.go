package index

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/platform"
)

// Annotation is one annotation asked for on the command line: on the index
// itself ("KEY=VALUE"), or on the descriptor of one platform's child
// ("linux/arm64:KEY=VALUE").
type Annotation struct {
	// Platform is the child's platform; nil for the index.
	Platform   *v1.Platform
	Key, Value string
}

// ParseAnnotation parses "KEY=VALUE" or "PLATFORM:KEY=VALUE". Annotation
// keys are reverse-DNS names without '/', so a '/' before the first ':' of
// the key part marks a platform. Errors name s.
func ParseAnnotation(s string) (Annotation, error) {
	var a Annotation
	kv := s
	key, _, _ := strings.Cut(s, "=")
	if p, rest, found := strings.Cut(key, ":"); found && strings.Contains(p, "/") {
		if rest == "" {
			return a, fmt.Errorf("annotation %q: want PLATFORM:KEY=VALUE", s)
		}
		pl, err := platform.Parse(p)
		if err != nil {
			return a, fmt.Errorf("annotation %q: %w", s, err)
		}
		a.Platform = &pl
		kv = strings.TrimPrefix(s, p+":")
	}
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		if a.Platform != nil {
			return a, fmt.Errorf("annotation %q: want PLATFORM:KEY=VALUE", s)
		}
		return a, fmt.Errorf("annotation %q: want KEY=VALUE or PLATFORM:KEY=VALUE", s)
	}
	a.Key, a.Value = k, v
	return a, nil
}

// Annotate adds annotations to the request: on the index, or on the
// descriptor of every source stated to be of the annotation's platform,
// over what the request (a spec file) already says. An annotation for a
// platform no source states is an error naming it and those stated.
func (r *Request) Annotate(anns ...Annotation) error {
	for _, a := range anns {
		if a.Platform == nil {
			if r.Annotations == nil {
				r.Annotations = map[string]string{}
			}
			r.Annotations[a.Key] = a.Value
			continue
		}
		found := false
		var stated []v1.Platform
		for i := range r.Sources {
			p := r.Sources[i].Platform
			if p == nil {
				continue
			}
			stated = append(stated, *p)
			if !platform.Same(*p, *a.Platform) {
				continue
			}
			if r.Sources[i].Annotations == nil {
				r.Sources[i].Annotations = map[string]string{}
			}
			r.Sources[i].Annotations[a.Key] = a.Value
			found = true
		}
		if !found {
			have := "no source states a platform"
			if len(stated) > 0 {
				have = "the platforms published are " + platform.FormatList(stated)
			}
			return fmt.Errorf("annotation %s:%s=%s: %s is not one of the platforms published (%s)", platform.Format(*a.Platform), a.Key, a.Value, platform.Format(*a.Platform), have)
		}
	}
	return nil
}
