//go:build !s3

package registry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/registry"
)

// Without -tags s3 the S3 driver (and aws-sdk-go, whose endpoint tables cost
// every polyarch command ~2 ms of start-up) is not linked; a configuration
// asking for it says how to get it.
func TestS3DriverNeedsBuildTag(t *testing.T) {
	cfg := writeFile(t, "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: polyarch-test\n")
	for _, run := range []struct {
		name string
		do   func() error
	}{
		{"serve", func() error { _, err := registry.New(context.Background(), registry.WithConfigFile(cfg)); return err }},
		{"gc", func() error {
			_, err := registry.GarbageCollect(context.Background(), registry.GCOptions{Quiet: true}, registry.WithConfigFile(cfg))
			return err
		}},
	} {
		err := run.do()
		if err == nil || !strings.Contains(err.Error(), "-tags s3") || !strings.Contains(err.Error(), cfg) {
			t.Errorf("%s with an s3 configuration: %v, want an error naming %s and -tags s3", run.name, err, cfg)
		}
	}
}
