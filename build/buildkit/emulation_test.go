package buildkit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fakeBinfmt points BinfmtDir at a directory with the given handler files.
func fakeBinfmt(t *testing.T, mounted bool, handlers map[string]string) {
	t.Helper()
	dir := t.TempDir()
	if mounted {
		os.WriteFile(filepath.Join(dir, "status"), []byte("enabled\n"), 0o644)
	}
	for name, content := range handlers {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	old := BinfmtDir
	BinfmtDir = dir
	t.Cleanup(func() { BinfmtDir = old })
}

func TestCheckEmulation(t *testing.T) {
	if HostPlatform().Architecture != "amd64" {
		t.Skip("the cases below assume an amd64 host")
	}
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}
	cases := []struct {
		name     string
		mounted  bool
		handlers map[string]string
		p        v1.Platform
		want     string // "" for no error
	}{
		{"native", false, nil, v1.Platform{OS: "linux", Architecture: "amd64"}, ""},
		{"386 on amd64", false, nil, v1.Platform{OS: "linux", Architecture: "386"}, ""},
		{"binfmt not mounted", false, nil, s390x, "binfmt_misc is not mounted"},
		{"no handler", true, nil, s390x, "apt-get install qemu-user-static"},
		{"disabled", true, map[string]string{"qemu-s390x": "disabled\ninterpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P\nflags: PF\n"}, s390x, "update-binfmts --enable qemu-s390x"},
		{"without the F flag", true, map[string]string{"qemu-s390x": "enabled\ninterpreter /usr/bin/qemu-s390x\nflags: \n"}, s390x, "lacks the F flag"},
		{"ready", true, map[string]string{"qemu-s390x": "enabled\ninterpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P\nflags: PF\n"}, s390x, ""},
		{"arm variant uses qemu-arm", true, map[string]string{"qemu-arm": "enabled\nflags: POCF\n"}, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, ""},
		{"windows on the host's architecture", true, nil, v1.Platform{OS: "windows", Architecture: "amd64"}, "windows/amd64 cannot be emulated on this machine: the local node runs linux containers only"},
		{"darwin", true, map[string]string{"qemu-aarch64": "enabled\nflags: PF\n"}, v1.Platform{OS: "darwin", Architecture: "arm64"}, "runs darwin natively"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fakeBinfmt(t, tc.mounted, tc.handlers)
			err := CheckEmulation(tc.p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var ee *EmulationError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "linux/s390x") && tc.p.Architecture == "s390x" {
				t.Fatalf("err = %v, want an EmulationError saying %q", err, tc.want)
			}
		})
	}
}
