package naming_test

import (
	"strings"
	"testing"

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
		"reg/org/agent:{{.Nope}}":    "can't evaluate field Nope",
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
