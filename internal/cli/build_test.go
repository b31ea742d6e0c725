package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/config"
)

// The local builder node pushes to the project's registry. Only a loopback
// registry is spoken to over plain HTTP; any other keeps HTTPS.
func TestLocalBuilderSpeaksPlainHTTPOnlyToLoopbackRegistries(t *testing.T) {
	cases := []struct {
		registry string
		host     string // the [registry."host"] section expected
		http     bool
	}{
		{"ghcr.io", "ghcr.io", false},
		{"ghcr.io/org", "ghcr.io", false},
		{"registry.example:5000", "registry.example:5000", false},
		{"10.0.0.7:5000", "10.0.0.7:5000", false},
		{"127.0.0.1:5000", "127.0.0.1:5000", true},
		{"127.0.0.1:5000/org", "127.0.0.1:5000", true},
		{"127.3.4.5", "127.3.4.5", true},
		{"localhost:5000", "localhost:5000", true},
		{"localhost", "localhost", true},
		{"[::1]:5000", "[::1]:5000", true},
	}
	for _, tc := range cases {
		t.Run(tc.registry, func(t *testing.T) {
			o := localOptionsFor(&config.Config{Registry: tc.registry}, t.TempDir())
			path, err := localnode.WriteConfig(o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			toml := string(b)
			gotHTTP := strings.Contains(toml, "http = true")
			if gotHTTP != tc.http {
				t.Errorf("registry %s: plain HTTP %v, want %v; buildkitd.toml:\n%s", tc.registry, gotHTTP, tc.http, toml)
			}
			if tc.http && !strings.Contains(toml, "[registry.\""+tc.host+"\"]\n  http = true") {
				t.Errorf("registry %s: want a [registry.%q] section with http = true; buildkitd.toml:\n%s", tc.registry, tc.host, toml)
			}
		})
	}
}
