package verify

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/platform"
)

// lintPlatform checks how a platform is written; where is "descriptor" or
// "config", for the message. armVariant asks for arm's variant: the label
// hosts select by must have one, an index child's config need not.
func (c *child) lintPlatform(p v1.Platform, where string, armVariant bool) {
	if p.OS == "" || p.Architecture == "" {
		c.add(Finding{Kind: KindUnknownPlatform, Message: fmt.Sprintf("%s has os %q and architecture %q; both are required", where, p.OS, p.Architecture)})
		return
	}
	n := platform.Normalize(p)
	if err := platform.Check(n); err != nil {
		c.add(Finding{Kind: KindUnknownPlatform, Message: fmt.Sprintf("%s platform %s: %v", where, platform.Format(p), err)})
		return
	}
	if armVariant && strings.ToLower(p.Architecture) == "arm" && p.Variant == "" {
		c.add(Finding{Kind: KindArmVariant, Message: fmt.Sprintf("%s says %s without a variant; containerd reads it as %s, so arm/v6 hosts never pull it", where, platform.Format(p), platform.Format(n))})
	}
	if !wellSpelled(p, n) {
		c.add(Finding{Kind: KindSpelling, Message: fmt.Sprintf("%s says %s, normalised %s", where, platform.Format(p), platform.Format(n))})
	}
}

// wellSpelled reports whether p is written as its normalised form n, with
// two exceptions that are reported otherwise or not at all: arm without a
// variant (KindArmVariant) and arm64/v8, which the OCI image-index
// specification itself lists.
func wellSpelled(p, n v1.Platform) bool {
	if p.OS != n.OS || p.Architecture != n.Architecture {
		return false
	}
	switch {
	case p.Variant == n.Variant:
		return true
	case p.Architecture == "arm" && p.Variant == "":
		return true
	case p.Architecture == "arm64" && p.Variant == "v8":
		return true
	}
	return false
}

// lintConfig checks an index child's config platform: its spelling, and
// that it names the descriptor's platform. A config without a variant
// matches any variant: the image-spec makes the config's variant optional.
func (c *child) lintConfig(p v1.Platform) {
	c.lintPlatform(p, "config", false)
	if c.Platform == "" || p.OS == "" || p.Architecture == "" {
		return
	}
	d, n := platform.Normalize(c.expect), platform.Normalize(p)
	if d.OS != n.OS || d.Architecture != n.Architecture || p.Variant != "" && d.Variant != n.Variant {
		c.add(Finding{Kind: KindMismatch, Message: fmt.Sprintf("config says %s, descriptor %s", platform.Format(p), c.Platform)})
	}
}
