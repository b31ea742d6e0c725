package platform_test

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/platform"
)

func TestParseNormalises(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":              "linux/amd64",
		"linux/x86_64":             "linux/amd64",
		"linux/aarch64":            "linux/arm64",
		"linux/arm64/v8":           "linux/arm64",
		"linux/arm64/v9":           "linux/arm64/v9",
		"linux/armhf":              "linux/arm/v7",
		"linux/armel":              "linux/arm/v6",
		"linux/arm":                "linux/arm/v7",
		"linux/arm/v6":             "linux/arm/v6",
		"linux/i386":               "linux/386",
		"Linux/PPC64LE":            "linux/ppc64le",
		"linux/s390x":              "linux/s390x",
		"linux/riscv64":            "linux/riscv64",
		"windows/amd64:10.0.17763": "windows/amd64:10.0.17763",
		" linux/arm64 ":            "linux/arm64",
	} {
		p, err := platform.Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := platform.Format(p); got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "empty platform",
		"arm64":            `platform "arm64": want os/arch[/variant], e.g. linux/arm64`,
		"aarch64":          `platform "aarch64": want os/arch[/variant], e.g. linux/arm64`,
		"armhf":            `platform "armhf": want os/arch[/variant], e.g. linux/arm/v7`,
		"linux":            `platform "linux": want os/arch[/variant], e.g. linux/amd64`,
		"windows":          `platform "windows": want os/arch[/variant], e.g. windows/amd64`,
		"sparc9":           `platform "sparc9": want os/arch[/variant], e.g. linux/amd64`,
		"linux/sparc9":     `platform "linux/sparc9": unknown architecture "sparc9"`,
		"plan10/amd64":     `unknown operating system "plan10"`,
		"linux/arm/v9":     `unknown variant "v9" for architecture arm`,
		"linux/amd64/v7":   `unknown variant "v7" for architecture amd64`,
		"linux/arm64/v8/x": `platform "linux/arm64/v8/x"`,
		"linux/amd64:":     "empty OS version",
	} {
		_, err := platform.Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestParseList(t *testing.T) {
	ps, err := platform.ParseList("linux/amd64, linux/arm64,linux/arm/v7")
	if err != nil || len(ps) != 3 || platform.Format(ps[2]) != "linux/arm/v7" {
		t.Fatalf("ParseList = %v, %v", ps, err)
	}
	_, err = platform.ParseList("linux/arm64,linux/aarch64")
	if err == nil || !strings.Contains(err.Error(), `"linux/aarch64" repeats "linux/arm64"`) {
		t.Errorf("duplicate after normalisation: %v", err)
	}
	if _, err := platform.ParseList(" , "); err == nil {
		t.Error("empty list accepted")
	}
}

func TestIsNormalized(t *testing.T) {
	for _, tc := range []struct {
		p    v1.Platform
		want bool
	}{
		{v1.Platform{OS: "linux", Architecture: "arm64"}, true},
		{v1.Platform{OS: "linux", Architecture: "aarch64"}, false},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, false},
		{v1.Platform{OS: "linux", Architecture: "arm"}, false},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{v1.Platform{OS: "linux", Architecture: "x86_64"}, false},
	} {
		if got := platform.IsNormalized(tc.p); got != tc.want {
			t.Errorf("IsNormalized(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestResolveFollowsContainerd(t *testing.T) {
	mk := func(ss ...string) []v1.Platform {
		var out []v1.Platform
		for _, s := range ss {
			p, err := platform.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	cases := []struct {
		host       string
		candidates []v1.Platform
		want       string // "" for nothing
	}{
		{"linux/arm/v7", mk("linux/amd64", "linux/arm/v6", "linux/arm64"), "linux/arm/v6"},
		{"linux/arm/v7", mk("linux/arm/v6", "linux/arm/v7"), "linux/arm/v7"},
		{"linux/arm/v6", mk("linux/arm/v7"), ""},
		{"linux/arm64", mk("linux/arm/v7", "linux/arm64"), "linux/arm64"},
		{"linux/arm64", mk("linux/arm/v7", "linux/amd64"), "linux/arm/v7"},
		{"linux/amd64", mk("linux/386", "linux/arm64"), "linux/386"},
		{"linux/s390x", mk("linux/amd64", "linux/arm64"), ""},
		{"linux/aarch64", mk("linux/arm64/v8"), "linux/arm64"},
	}
	for _, tc := range cases {
		host, _ := platform.Parse(tc.host)
		i, ok := platform.Resolve(host, tc.candidates)
		got := ""
		if ok {
			got = platform.Format(tc.candidates[i])
		}
		if got != tc.want {
			t.Errorf("Resolve(%s, %v) = %q, want %q", tc.host, tc.candidates, got, tc.want)
		}
	}
}

func TestContainsAndFormatList(t *testing.T) {
	ps, _ := platform.ParseList("linux/amd64,linux/arm64,linux/arm/v7")
	aarch64 := v1.Platform{OS: "linux", Architecture: "aarch64"}
	if !platform.Contains(ps, aarch64) || platform.Contains(ps, v1.Platform{OS: "linux", Architecture: "s390x"}) {
		t.Error("Contains does not compare normalised platforms")
	}
	if got := platform.FormatList(ps); got != "linux/amd64, linux/arm64, linux/arm/v7" {
		t.Errorf("FormatList = %q", got)
	}
}
