package index_test

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/index"
)

// One rule says what an attestation manifest is, for publish, inspect,
// resolve, verify and the image tests alike.
func TestIsAttestation(t *testing.T) {
	unknown := &v1.Platform{OS: "unknown", Architecture: "unknown"}
	tests := []struct {
		name string
		d    v1.Descriptor
		want bool
	}{
		{"BuildKit's marked attestation", v1.Descriptor{Platform: unknown, Annotations: map[string]string{
			"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "sha256:abc"}}, true},
		{"marked, without a platform", v1.Descriptor{Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}, true},
		{"unknown/unknown, unmarked", v1.Descriptor{Platform: unknown}, true},
		{"a platform's image", v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}, false},
		{"no platform at all", v1.Descriptor{}, false},
		{"unknown OS only", v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "amd64"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := index.IsAttestation(tc.d); got != tc.want {
				t.Errorf("IsAttestation = %v, want %v", got, tc.want)
			}
		})
	}
}
