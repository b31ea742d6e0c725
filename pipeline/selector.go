package pipeline

import (
	"fmt"
	"strings"

	"github.com/polyarch/polyarch/config"
)

// Selector picks units of polyarch.yaml on the command line of build, test,
// release and lint: "agent" is every version of agent, "builder@2.4" the
// version 2.4 alone.
type Selector struct {
	Image string
	// Version is "" for every version of Image.
	Version string
}

// ParseSelector splits "IMAGE[@VERSION]".
func ParseSelector(s string) Selector {
	img, version, _ := strings.Cut(s, "@")
	return Selector{Image: img, Version: version}
}

// Selects reports whether arg names an image of cfg, with or without a
// version, rather than something else such as an image reference.
func Selects(cfg *config.Config, arg string) bool {
	_, ok := cfg.Image(ParseSelector(arg).Image)
	return ok
}

// Lookup finds the selected image in cfg and checks that it has the
// selected version; the error lists what cfg has instead.
func (s Selector) Lookup(cfg *config.Config) (*config.Image, error) {
	img, ok := cfg.Image(s.Image)
	if !ok {
		return nil, fmt.Errorf("%s: no image %q (it has %s)", cfg.File, s.Image, strings.Join(imageNames(cfg), ", "))
	}
	if s.Version == "" {
		return img, nil
	}
	found := false
	for _, u := range img.Units() {
		found = found || u.Version == s.Version
	}
	if !found || len(img.Versions) == 0 {
		return nil, fmt.Errorf("%s: image %q has no version %q (it has %s)", cfg.File, s.Image, s.Version, strings.Join(versionNames(img), ", "))
	}
	return img, nil
}
