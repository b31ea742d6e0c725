package naming_test

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/naming"
	"github.com/polyarch/polyarch/platform"
)

func plats(t *testing.T, s string) []v1.Platform {
	t.Helper()
	ps, err := platform.ParseList(s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestSchemes(t *testing.T) {
	cases := []struct {
		name, template, platforms string
		want                      []string
	}{
		{"repository suffix (antrea)", "reg/org/agent-{{.Arch}}:v1.4", "linux/amd64,linux/arm64,linux/arm/v7",
			[]string{"reg/org/agent-amd64:v1.4", "reg/org/agent-arm64:v1.4", "reg/org/agent-arm:v1.4"}},
		{"arch in the tag (akraino)", "reg/akraino/validation:k8s-{{.Arch}}-latest", "linux/amd64,linux/arm64",
			[]string{"reg/akraino/validation:k8s-amd64-latest", "reg/akraino/validation:k8s-arm64-latest"}},
		{"manifest-tool placeholders", "reg/org/agent-ARCH:v1.4", "linux/amd64,linux/arm64",
			[]string{"reg/org/agent-amd64:v1.4", "reg/org/agent-arm64:v1.4"}},
		{"manifest-tool with variant", "reg/org/agent:OS-ARCHVARIANT", "linux/arm/v6,linux/arm/v7",
			[]string{"reg/org/agent:linux-armv6", "reg/org/agent:linux-armv7"}},
		{"ArchVariant", "reg/org/agent:{{.ArchVariant}}", "linux/arm/v7,linux/arm64,linux/amd64",
			[]string{"reg/org/agent:armv7", "reg/org/agent:arm64", "reg/org/agent:amd64"}},
		{"Platform", "reg/org/agent:{{.Platform}}", "linux/arm/v7,linux/s390x",
			[]string{"reg/org/agent:linux-arm-v7", "reg/org/agent:linux-s390x"}},
		{"normalised before naming", "reg/a-{{.Arch}}:1", "linux/aarch64,linux/x86_64",
			[]string{"reg/a-arm64:1", "reg/a-amd64:1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := naming.Parse(tc.template)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.ForPlatforms(plats(t, tc.platforms), nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTemplatesThatCannotNameAPlatform(t *testing.T) {
	for tmpl, want := range map[string]string{
		"reg/org/agent:v1.4":         "has no placeholder",
		"reg/org/agent:{{.Version}}": "uses no platform field",
		"reg/org/agent:{{.Nope}}":    "unknown field .Nope",
		"reg/org/agent:{{.Arch":      "unclosed action",
		"":                           "empty template",
	} {
		_, err := naming.Parse(tmpl)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tmpl, err, want)
		}
	}
}

func TestTwoPlatformsOneReference(t *testing.T) {
	tmpl, err := naming.Parse("reg/org/agent-{{.Arch}}:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.ForPlatforms(plats(t, "linux/arm/v6,linux/arm/v7"), nil)
	if err == nil || !strings.Contains(err.Error(), "reg/org/agent-arm:1 for both linux/arm/v6 and linux/arm/v7") {
		t.Fatalf("err = %v", err)
	}
}

func TestExtraData(t *testing.T) {
	tmpl, _ := naming.Parse("reg/builder:{{.Version}}-{{.Arch}}")
	got, err := tmpl.ForPlatforms(plats(t, "linux/ppc64le"), func(d *naming.Data) { d.Version = "2.4" })
	if err != nil || got[0] != "reg/builder:2.4-ppc64le" {
		t.Fatalf("got %v, %v", got, err)
	}
}

// parseWithin parses a template in the background and fails the test if
// that takes longer than a second: a template must be judged, not run.
func parseWithin(t *testing.T, parse func(string) (*naming.Template, error), text string) (*naming.Template, error) {
	t.Helper()
	type result struct {
		tm  *naming.Template
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		tm, err := parse(text)
		done <- result{tm, err}
	}()
	select {
	case r := <-done:
		if d := time.Since(start); d > time.Second {
			t.Errorf("parsing %q took %v", text, d)
		}
		return r.tm, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("parsing %q did not return in 5s", text)
		return nil, nil
	}
}

// Templates are user input: what naming does not need is refused when the
// template is parsed, before anything runs it.
func TestTemplatesAreRestricted(t *testing.T) {
	cases := []struct{ name, template, want string }{
		{"range that would fill memory", "reg/org/agent-{{.Arch}}:{{range 100000000}}aaaa{{end}}", "{{range}} is not allowed"},
		{"range that would never end", "reg/org/agent-{{.Arch}}:{{range 3000000000}}{{end}}", "{{range}} is not allowed"},
		{"range over a field", "reg/org/agent:{{range .Arch}}{{.}}{{end}}", "{{range}} is not allowed"},
		{"with", "reg/org/agent:{{with .Arch}}{{.}}{{end}}", "{{with}} is not allowed"},
		{"define and template", `{{define "x"}}{{.Arch}}{{end}}reg/org/agent:{{template "x" .}}`, "{{define}} and {{block}} are not allowed"},
		{"block", `reg/org/agent:{{block "x" .}}{{.Arch}}{{end}}`, "{{define}} and {{block}} are not allowed"},
		{"printf", `reg/org/agent-{{.Arch}}:{{printf "%0100000000d" 1}}`, `function "printf" is not allowed`},
		{"call", `reg/org/agent-{{.Arch}}:{{call .Arch}}`, `function "call" is not allowed`},
		{"an unknown function", `reg/org/agent-{{nosuch .Arch}}:1`, `function "nosuch" not defined`},
		{"an unknown field", "reg/org/agent-{{.Arch}}:{{.Nope}}", "unknown field .Nope"},
		{"a field of a field", "reg/org/agent-{{.Arch.Len}}:1", "unknown field .Arch.Len"},
		{"the whole data", "reg/org/agent-{{.Arch}}:{{.}}", "{{.}} is not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for fn, parse := range map[string]func(string) (*naming.Template, error){"Parse": naming.Parse, "ParseTemplate": naming.ParseTemplate} {
				_, err := parseWithin(t, parse, tc.template)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s(%q) = %v, want an error containing %q", fn, tc.template, err, tc.want)
				}
			}
		})
	}
}

func TestAllowedTemplatesRender(t *testing.T) {
	cases := []struct {
		template, platforms, version string
		want                         []string
	}{
		{"reg/a:{{if .Variant}}{{.Arch}}-{{.Variant}}{{else}}{{.Arch}}{{end}}", "linux/arm/v7,linux/amd64", "",
			[]string{"reg/a:arm-v7", "reg/a:amd64"}},
		{`reg/a:{{if eq .Arch "arm"}}arm32{{.Variant}}{{else if ne .Arch "amd64"}}{{.Arch}}{{else}}x86-64{{end}}`, "linux/arm/v6,linux/arm64,linux/amd64", "",
			[]string{"reg/a:arm32v6", "reg/a:arm64", "reg/a:x86-64"}},
		{`reg/a:{{trimPrefix "v" .Version}}-{{.ArchVariant}}`, "linux/arm/v7,linux/s390x", "v1.4",
			[]string{"reg/a:1.4-armv7", "reg/a:1.4-s390x"}},
		{`reg/a-{{.Arch | upper | lower}}:{{.Version | replace "+" "_" | trimSuffix "-rc"}}`, "linux/ppc64le", "1.4+git-rc",
			[]string{"reg/a-ppc64le:1.4_git"}},
		{`reg/a-{{$.Arch}}:{{$v := .Version}}{{$v}}`, "linux/riscv64", "2",
			[]string{"reg/a-riscv64:2"}},
		{`reg/a:{{if and .Variant (not (eq .Variant "v8"))}}{{.ArchVariant}}{{else}}{{.Arch}}{{end}}`, "linux/arm/v7,linux/arm64", "",
			[]string{"reg/a:armv7", "reg/a:arm64"}},
	}
	for _, tc := range cases {
		t.Run(tc.template, func(t *testing.T) {
			tm, err := parseWithin(t, naming.Parse, tc.template)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tm.ForPlatforms(plats(t, tc.platforms), func(d *naming.Data) { d.Version = tc.version })
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A reference is a few hundred bytes at most; a template that renders more
// is an error, however it gets there.
func TestOutputIsBounded(t *testing.T) {
	grow := `{{.Version` + strings.Repeat(` | replace "" "xxxxxxxxxx"`, 8) + `}}`
	cases := []struct{ name, template, version string }{
		{"a long field", "reg/a-{{.Arch}}:{{.Version}}", strings.Repeat("1", 2*naming.MaxLength)},
		{"replace growing it tenfold eight times", "reg/a-{{.Arch}}:" + grow, "1"},
		{"long placeholders", "reg/a-ARCH:" + strings.Repeat("VARIANT", naming.MaxLength), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var out []string
			tm, err := naming.Parse(tc.template) // may already see it grow too long
			if err == nil {
				out, err = tm.ForPlatforms(plats(t, "linux/arm/v7"), func(d *naming.Data) { d.Version = tc.version })
			}
			if err == nil || !strings.Contains(err.Error(), "more than 512 bytes") {
				t.Errorf("rendered %d bytes, err %v; want an error saying more than 512 bytes", len(strings.Join(out, "")), err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	if _, err := naming.Parse("reg/a-{{.Arch}}:" + strings.Repeat("a", naming.MaxLength)); err == nil || !strings.Contains(err.Error(), "more than 512 bytes") {
		t.Errorf("a template longer than any reference: %v", err)
	}
}

// ParseTemplate is for tags: no platform field needed, and text without
// "{{" is taken as written (a tag "OSX" is not manifest-tool's OS).
func TestParseTemplateForTags(t *testing.T) {
	for text, want := range map[string]string{
		"{{.Version}}":                      "2.4",
		"latest":                            "latest",
		"OSX-ARCH":                          "OSX-ARCH",
		`{{trimPrefix "v" .GitTag}}-stable`: "1.0-stable",
	} {
		tm, err := naming.ParseTemplate(text)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", text, err)
		}
		got, err := tm.Expand(naming.Data{Version: "2.4", GitTag: "v1.0"})
		if err != nil || got != want {
			t.Errorf("ParseTemplate(%q).Expand = %q, %v; want %q", text, got, err, want)
		}
	}
	if _, err := naming.ParseTemplate(""); err == nil {
		t.Error("an empty tag template was accepted")
	}
}
