package registry

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The serving registry's purge settings, as distribution's upload purger will
// read them (NewApp refuses any it cannot parse, so each case also starts a
// registry).
func TestServeUploadPurging(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "config.yml")
	yaml := "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + dir + "\n  maintenance:\n    uploadpurging:\n      enabled: true\n      age: 72h\n      interval: 12h\n      dryrun: false\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts []Option
		want map[any]any
	}{
		{"default", nil, map[any]any{"enabled": true, "age": "24h0m0s", "interval": "24h0m0s", "dryrun": false}},
		{"two hours", []Option{WithUploadPurging(2 * time.Hour)}, map[any]any{"enabled": true, "age": "2h0m0s", "interval": "2h0m0s", "dryrun": false}},
		{"a week, checked daily", []Option{WithUploadPurging(168 * time.Hour)}, map[any]any{"enabled": true, "age": "168h0m0s", "interval": "24h0m0s", "dryrun": false}},
		{"zero keeps uploads", []Option{WithUploadPurging(0)}, map[any]any{"enabled": false}},
		{"config file", []Option{WithConfigFile(file)}, map[any]any{"enabled": true, "age": "72h", "interval": "12h", "dryrun": false}},
		{"flag over config file", []Option{WithConfigFile(file), WithUploadPurging(time.Hour)}, map[any]any{"enabled": true, "age": "1h0m0s", "interval": "1h0m0s", "dryrun": false}},
		{"read-only keeps purging", []Option{WithReadOnly(true)}, map[any]any{"enabled": true, "age": "24h0m0s", "interval": "24h0m0s", "dryrun": false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{WithRoot(dir)}, tc.opts...)
			reg, err := New(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			got, _ := reg.config.Storage["maintenance"]["uploadpurging"].(map[any]any)
			if len(got) != len(tc.want) {
				t.Fatalf("uploadpurging = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("uploadpurging[%v] = %v, want %v (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
	if err := WithUploadPurging(-time.Second)(&options{}); err == nil {
		t.Error("a negative purge age was accepted")
	}
}
