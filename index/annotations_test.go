package index_test

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/index"
)

func TestParseAnnotation(t *testing.T) {
	arm64 := &v1.Platform{OS: "linux", Architecture: "arm64"}
	armv7 := &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	for _, tc := range []struct {
		in   string
		want index.Annotation
	}{
		{"org.opencontainers.image.source=https://example.com/agent", index.Annotation{Key: "org.opencontainers.image.source", Value: "https://example.com/agent"}},
		{"k=", index.Annotation{Key: "k", Value: ""}},
		{"k=a=b", index.Annotation{Key: "k", Value: "a=b"}},
		// A ':' in a key without a '/' before it is part of the key.
		{"com.example:x=1", index.Annotation{Key: "com.example:x", Value: "1"}},
		{"linux/arm64:com.example.tested=yes", index.Annotation{Platform: arm64, Key: "com.example.tested", Value: "yes"}},
		{"linux/arm/v7:k=v:w", index.Annotation{Platform: armv7, Key: "k", Value: "v:w"}},
		{"linux/aarch64:k=v", index.Annotation{Platform: arm64, Key: "k", Value: "v"}},
	} {
		got, err := index.ParseAnnotation(tc.in)
		if err != nil {
			t.Errorf("ParseAnnotation(%q): %v", tc.in, err)
			continue
		}
		if got.Key != tc.want.Key || got.Value != tc.want.Value || (got.Platform == nil) != (tc.want.Platform == nil) ||
			(got.Platform != nil && (got.Platform.OS != tc.want.Platform.OS || got.Platform.Architecture != tc.want.Platform.Architecture || got.Platform.Variant != tc.want.Platform.Variant)) {
			t.Errorf("ParseAnnotation(%q) = %+v %v, want %+v %v", tc.in, got, got.Platform, tc.want, tc.want.Platform)
		}
	}
	for in, want := range map[string]string{
		"novalue":           `annotation "novalue": want KEY=VALUE or PLATFORM:KEY=VALUE`,
		"=v":                `annotation "=v": want KEY=VALUE`,
		"linux/arm64:":      `annotation "linux/arm64:": want PLATFORM:KEY=VALUE`,
		"linux/arm64:k":     `annotation "linux/arm64:k": want PLATFORM:KEY=VALUE`,
		"linux/arm65:k=v":   `annotation "linux/arm65:k=v": `,
		"linux/arm64:=oops": `annotation "linux/arm64:=oops": want PLATFORM:KEY=VALUE`,
	} {
		_, err := index.ParseAnnotation(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAnnotation(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestRequestAnnotate(t *testing.T) {
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := &v1.Platform{OS: "linux", Architecture: "arm64"}
	req := index.Request{
		Annotations: map[string]string{"from.spec": "1"},
		Sources: []index.Source{
			{Platform: amd64},
			{Platform: arm64, Annotations: map[string]string{"from.spec": "child", "kept": "yes"}},
			{}, // an index source: no platform stated
		},
	}
	parse := func(s string) index.Annotation {
		a, err := index.ParseAnnotation(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := req.Annotate(parse("org.opencontainers.image.source=https://example.com"), parse("from.spec=2"), parse("linux/aarch64:from.spec=flag")); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"from.spec": "2", "org.opencontainers.image.source": "https://example.com"}; !reflect.DeepEqual(req.Annotations, want) {
		t.Errorf("index annotations %v, want %v", req.Annotations, want)
	}
	if want := map[string]string{"from.spec": "flag", "kept": "yes"}; !reflect.DeepEqual(req.Sources[1].Annotations, want) {
		t.Errorf("linux/arm64 annotations %v, want %v (the flag over the spec)", req.Sources[1].Annotations, want)
	}
	if req.Sources[0].Annotations != nil || req.Sources[2].Annotations != nil {
		t.Errorf("other sources annotated: %v %v", req.Sources[0].Annotations, req.Sources[2].Annotations)
	}

	err := req.Annotate(parse("linux/s390x:k=v"))
	if err == nil || !strings.Contains(err.Error(), "linux/s390x is not one of the platforms published") || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("annotation for a platform not published: %v", err)
	}
}
