//go:build s3

package registry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/registry"
)

// Built with -tags s3, an s3 configuration reaches distribution's S3 driver
// (which here, with no credentials and no network, fails in its own words).
func TestS3DriverLinkedWithBuildTag(t *testing.T) {
	cfg := writeFile(t, "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: polyarch-test\n")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // no wait for an instance role
	_, err := registry.GarbageCollect(context.Background(), registry.GCOptions{Quiet: true}, registry.WithConfigFile(cfg))
	if err != nil && (strings.Contains(err.Error(), "-tags s3") || strings.Contains(err.Error(), "not registered")) {
		t.Fatalf("s3 configuration with -tags s3: %v", err)
	}
}
