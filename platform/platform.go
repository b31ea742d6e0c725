// Package platform parses, normalises, formats and matches OCI platforms
// (os/arch[/variant][:osversion]) with containerd's semantics.
//
// Spellings are normalised the way containerd does it before anything is
// compared: aarch64 and arm64/v8 are arm64, armhf is arm/v7, armel arm/v6,
// x86_64 amd64, i386 386, and an arm platform typed without a variant means
// arm/v7. Parse also refuses what containerd would pass through silently: an
// unknown OS, architecture or variant is an error naming the string.
//
// Resolve answers "which of these images does a host of platform P pull?"
// exactly as containerd does: the candidates the host can run (an arm/v7 host
// also runs v6 and v5, an amd64 host also runs 386), best first.
package platform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Parse parses a platform such as "linux/arm64", "linux/arm/v7",
// "linux/aarch64" or "windows/amd64:10.0.17763" and returns it normalised.
// The OS and architecture must both be given and known.
func Parse(s string) (v1.Platform, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return v1.Platform{}, fmt.Errorf("empty platform")
	}
	osVersion := ""
	spec := s
	// ggcr's and manifest-tool's os/arch:osversion form; containerd wants os(version)/arch.
	if i := strings.LastIndex(s, ":"); i >= 0 {
		spec, osVersion = s[:i], s[i+1:]
		if osVersion == "" {
			return v1.Platform{}, fmt.Errorf("platform %q: empty OS version after ':'", s)
		}
	}
	if !strings.Contains(spec, "/") {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. %s", s, example(spec))
	}
	p, err := platforms.Parse(spec)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, unwrapContainerd(err))
	}
	if osVersion != "" {
		p.OSVersion = osVersion
	}
	out := fromSpec(platforms.Normalize(p))
	if err := Check(out); err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, err)
	}
	return out, nil
}

// example suggests a whole platform for a word given alone: an OS gets its
// amd64 platform (linux gives linux/amd64), an architecture its linux one
// (aarch64 gives linux/arm64), anything else linux/amd64.
func example(word string) string {
	if w := strings.ToLower(word); knownOS[w] {
		return w + "/amd64"
	}
	if p, err := platforms.Parse("linux/" + word); err == nil {
		if n := fromSpec(platforms.Normalize(p)); Check(n) == nil {
			return Format(n)
		}
	}
	return "linux/amd64"
}

// unwrapContainerd drops containerd's trailing ": invalid argument".
func unwrapContainerd(err error) error {
	msg := strings.TrimSuffix(err.Error(), ": invalid argument")
	return fmt.Errorf("%s", msg)
}

// ParseList parses a comma-separated list such as
// "linux/amd64,linux/arm64,linux/arm/v7". Duplicates after normalisation
// (linux/arm64 and linux/aarch64) are an error.
func ParseList(s string) ([]v1.Platform, error) {
	var out []v1.Platform
	seen := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		p, err := Parse(part)
		if err != nil {
			return nil, err
		}
		key := Format(p)
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("platform %q repeats %q (both are %s)", strings.TrimSpace(part), first, key)
		}
		seen[key] = strings.TrimSpace(part)
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no platform in %q", s)
	}
	return out, nil
}

// Normalize returns p with containerd's canonical spellings.
func Normalize(p v1.Platform) v1.Platform {
	n := fromSpec(platforms.Normalize(toSpec(p)))
	n.Features = p.Features
	return n
}

// IsNormalized reports whether p is already spelled canonically. An arm
// platform without a variant is not: it says nothing about v6 or v7.
func IsNormalized(p v1.Platform) bool {
	return Equal(p, Normalize(p)) && p.OS == strings.ToLower(p.OS)
}

// Equal compares two platforms exactly (spelling included): OS, architecture,
// variant and OS version.
func Equal(a, b v1.Platform) bool {
	return a.OS == b.OS && a.Architecture == b.Architecture && a.Variant == b.Variant && a.OSVersion == b.OSVersion
}

// Same compares two platforms after normalisation: linux/aarch64 is the same
// as linux/arm64/v8.
func Same(a, b v1.Platform) bool { return Equal(Normalize(a), Normalize(b)) }

// Format returns os/arch[/variant][:osversion].
func Format(p v1.Platform) string {
	s := platforms.Format(toSpec(p))
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}

// Check reports an unknown OS, architecture or variant in a normalised platform.
func Check(p v1.Platform) error {
	if p.OS == "" || p.Architecture == "" {
		return fmt.Errorf("OS and architecture are both required (got os %q, architecture %q)", p.OS, p.Architecture)
	}
	if !knownOS[p.OS] {
		return fmt.Errorf("unknown operating system %q", p.OS)
	}
	variants, ok := knownArch[p.Architecture]
	if !ok {
		return fmt.Errorf("unknown architecture %q", p.Architecture)
	}
	if p.Variant != "" && !variants(p.Variant) {
		return fmt.Errorf("unknown variant %q for architecture %s", p.Variant, p.Architecture)
	}
	return nil
}

var knownOS = map[string]bool{
	"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true, "illumos": true,
	"ios": true, "js": true, "linux": true, "netbsd": true, "openbsd": true, "plan9": true,
	"solaris": true, "wasip1": true, "windows": true, "zos": true,
}

func oneOf(vs ...string) func(string) bool {
	return func(v string) bool {
		for _, x := range vs {
			if v == x {
				return true
			}
		}
		return false
	}
}

// knownArch maps each architecture GOARCH knows to its valid variants.
var knownArch = map[string]func(string) bool{
	"386":   oneOf(),
	"amd64": oneOf("v2", "v3", "v4"),
	"arm":   oneOf("v5", "v6", "v7", "v8"),
	"arm64": func(v string) bool {
		if v == "v8" || v == "v9" {
			return true
		}
		var major, minor int
		n, _ := fmt.Sscanf(v, "v%d.%d", &major, &minor)
		return n == 2 && (major == 8 && minor <= 9 || major == 9 && minor <= 5)
	},
	"loong64": oneOf(), "mips": oneOf(), "mipsle": oneOf(), "mips64": oneOf(), "mips64le": oneOf(),
	"ppc64": oneOf(), "ppc64le": oneOf("power8", "power9", "power10"),
	"riscv64": oneOf("rva20u64", "rva22u64", "rva23u64"),
	"s390x":   oneOf(), "wasm": oneOf(),
}

// Common lists the platforms `polyarch resolve --all` asks about.
func Common() []v1.Platform {
	var out []v1.Platform
	for _, s := range []string{
		"linux/amd64", "linux/386", "linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5",
		"linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/mips64le", "linux/loong64", "windows/amd64", "windows/arm64",
	} {
		p, err := Parse(s)
		if err != nil {
			panic(err)
		}
		out = append(out, p)
	}
	return out
}

// Resolve returns the index of the candidate a host of platform host pulls,
// following containerd: among the candidates the host can run, the best
// match (its own platform first, then older variants, then compatible
// architectures). ok is false when the host can run none of them.
// Candidates are compared after normalisation.
func Resolve(host v1.Platform, candidates []v1.Platform) (index int, ok bool) {
	m := platforms.Only(toSpec(Normalize(host)))
	var matching []int
	for i, c := range candidates {
		if m.Match(toSpec(Normalize(c))) {
			matching = append(matching, i)
		}
	}
	if len(matching) == 0 {
		return -1, false
	}
	sort.SliceStable(matching, func(a, b int) bool {
		return m.Less(toSpec(Normalize(candidates[matching[a]])), toSpec(Normalize(candidates[matching[b]])))
	})
	return matching[0], true
}

// Runs reports whether a host of platform host can run an image of platform p.
func Runs(host, p v1.Platform) bool {
	return platforms.Only(toSpec(Normalize(host))).Match(toSpec(Normalize(p)))
}

func toSpec(p v1.Platform) specs.Platform {
	return specs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

func fromSpec(p specs.Platform) v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

// Contains reports whether ps holds p, compared after normalisation.
func Contains(ps []v1.Platform, p v1.Platform) bool {
	for _, q := range ps {
		if Same(p, q) {
			return true
		}
	}
	return false
}

// FormatList formats platforms as "linux/amd64, linux/arm64".
func FormatList(ps []v1.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = Format(p)
	}
	return strings.Join(s, ", ")
}
