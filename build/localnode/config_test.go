package localnode_test

import (
	"os"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/build/localnode"
)

func TestWriteConfigPlainHTTP(t *testing.T) {
	dir := t.TempDir()
	path, err := localnode.WriteConfig(localnode.Options{
		Dir:                dir,
		Registries:         []string{"ghcr.io/org", "127.0.0.1:5000/base", "127.0.0.1:5000", "quay.io"},
		InsecureRegistries: []string{"10.0.0.7:5000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	toml := string(b)
	for _, host := range []string{"127.0.0.1:5000", "10.0.0.7:5000"} {
		if n := strings.Count(toml, "[registry.\""+host+"\"]\n  http = true"); n != 1 {
			t.Errorf("%s: %d plain-HTTP sections, want 1:\n%s", host, n, toml)
		}
	}
	for _, host := range []string{"ghcr.io", "quay.io"} {
		if strings.Contains(toml, host) {
			t.Errorf("%s (not loopback, not named insecure) is in buildkitd.toml:\n%s", host, toml)
		}
	}
	if !strings.Contains(toml, "unix://"+dir+"/buildkitd.sock") {
		t.Errorf("buildkitd.toml does not listen on the state directory's socket:\n%s", toml)
	}
}
