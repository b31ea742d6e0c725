// Package naming turns a platform into the arch-named reference a project
// pushes it under, with the schemes projects use today:
//
//   - a repository suffix: org/agent-{{.Arch}}:v1.4 gives org/agent-arm64:v1.4,
//     and org/agent-arm:v1.4 for arm/v7;
//   - an arch inside the tag: org/validation:k8s-{{.Arch}}-latest gives
//     org/validation:k8s-arm64-latest, published as org/validation:k8s-latest;
//   - manifest-tool's placeholders, for compatibility: ARCH, OS and VARIANT
//     anywhere in the template (org/agent-ARCH:v1.4).
//
// A template is a Go template when it contains "{{", else a manifest-tool
// template. Go templates see the fields of Data and a few string functions
// (template.go lists them); anything else, such as {{range}}, is refused by
// Parse, and no template renders more than MaxLength bytes.
//
// Tags are templated too, without the need to name a platform: ParseTemplate.
package naming

import (
	"fmt"
	"strings"
	"text/template"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/platform"
)

// Data is what a Go template sees for one platform.
type Data struct {
	OS      string // linux
	Arch    string // amd64, arm64, arm (for every arm variant), ppc64le...
	Variant string // v7 for arm/v7; empty when the platform has none
	// ArchVariant is Arch and Variant together: amd64, arm64, armv7, armv6.
	ArchVariant string
	// Platform is the whole platform with dashes: linux-arm-v7.
	Platform  string
	OSVersion string
	// Version, Commit and GitTag describe what is built, where known.
	Version string
	Commit  string
	GitTag  string
}

// DataFor returns the template data of platform p (normalised first).
func DataFor(p v1.Platform) Data {
	p = platform.Normalize(p)
	return Data{
		OS:          p.OS,
		Arch:        p.Architecture,
		Variant:     p.Variant,
		ArchVariant: p.Architecture + p.Variant,
		Platform:    strings.ReplaceAll(platform.Format(v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}), "/", "-"),
		OSVersion:   p.OSVersion,
	}
}

// Template names the arch-specific reference of each platform.
type Template struct {
	text string
	tmpl *template.Template // nil for manifest-tool placeholders and literal text
	// placeholders: manifest-tool's ARCH, OS and VARIANT are replaced.
	placeholders bool
}

// manifestToolPlaceholders are replaced literally, as manifest-tool does.
var manifestToolPlaceholders = []string{"ARCH", "OS", "VARIANT"}

// Parse parses a template. One that names no platform field is an error:
// every platform would get the same reference.
func Parse(text string) (*Template, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("empty template")
	}
	if strings.Contains(text, "{{") {
		t, err := ParseTemplate(text)
		if err != nil {
			return nil, err
		}
		// Two platforms that differ in everything must give two references.
		a, errA := t.Expand(Data{OS: "linux", Arch: "amd64", ArchVariant: "amd64", Platform: "linux-amd64"})
		b, errB := t.Expand(Data{OS: "windows", Arch: "arm", Variant: "v7", ArchVariant: "armv7", Platform: "windows-arm-v7", OSVersion: "1"})
		if errA != nil {
			return nil, errA
		}
		if errB != nil {
			return nil, errB
		}
		if a == b {
			return nil, fmt.Errorf("template %q uses no platform field ({{.Arch}}, {{.ArchVariant}}, {{.OS}}, {{.Variant}}, {{.Platform}}): every platform would get the same reference", text)
		}
		return t, nil
	}
	t := &Template{text: text, placeholders: true}
	for _, ph := range manifestToolPlaceholders {
		if strings.Contains(text, ph) {
			if _, err := t.Expand(Data{}); err != nil {
				return nil, err
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("template %q has no placeholder: write ARCH, OS or VARIANT (manifest-tool style) or {{.Arch}}, {{.ArchVariant}}... (Go template) where the platform goes", text)
}

// ParseTemplate parses a template that need not name a platform, such as an
// index tag: a Go template when it contains "{{" (restricted as Parse's
// are), else literal text, used as written.
func ParseTemplate(text string) (*Template, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("empty template")
	}
	t := &Template{text: text}
	if strings.Contains(text, "{{") {
		tmpl, err := parseGo(text)
		if err != nil {
			return nil, err
		}
		t.tmpl = tmpl
	}
	// Run once on empty data: a template too long even then, or comparing a
	// field with a number, fails here rather than at the first push.
	if _, err := t.Expand(Data{}); err != nil {
		return nil, err
	}
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.text }

// Expand fills the template for d.
// What it renders is at most MaxLength bytes, else an error.
func (t *Template) Expand(d Data) (string, error) {
	if t.tmpl == nil {
		s := t.text
		if t.placeholders {
			s = strings.ReplaceAll(s, "ARCH", d.Arch)
			s = strings.ReplaceAll(s, "VARIANT", d.Variant)
			s = strings.ReplaceAll(s, "OS", d.OS)
		}
		if len(s) > MaxLength {
			return "", fmt.Errorf("template %q: %w", t.text, tooLong())
		}
		return s, nil
	}
	var buf bounded
	if err := t.tmpl.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("template %q: %w", t.text, err)
	}
	return buf.b.String(), nil
}

// ForPlatforms expands the template for each platform and checks that no two
// platforms share a reference (a scheme writing only {{.Arch}} cannot tell
// arm/v6 from arm/v7).
func (t *Template) ForPlatforms(ps []v1.Platform, extra func(*Data)) ([]string, error) {
	out := make([]string, len(ps))
	seen := map[string]v1.Platform{}
	for i, p := range ps {
		d := DataFor(p)
		if extra != nil {
			extra(&d)
		}
		s, err := t.Expand(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", platform.Format(p), err)
		}
		if prev, dup := seen[s]; dup {
			return nil, fmt.Errorf("template %q gives %s for both %s and %s: add {{.Variant}} or use {{.ArchVariant}}", t.text, s, platform.Format(prev), platform.Format(p))
		}
		seen[s] = p
		out[i] = s
	}
	return out, nil
}
